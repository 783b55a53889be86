"""The library's file: one JSON line per verified kernel under `<home>/library/`.

Each entry carries `digest`, a sha256 over its canonical fields (everything but `digest`
and `mac`), and `mac`, an HMAC-SHA256 of the digest with a key kept in
`<home>/library/key` (created on first use, mode 0600). An entry whose fields no longer
match its digest, or whose digest was re-computed without the key, is dropped on reading
with a warning naming its line: a library entry is prompt material, and an altered one
must never reach a Coder. Exported entries carry the digest only (no key leaves the
machine); `import` checks each digest and signs what it keeps with the local key.

Writers append under an exclusive `flock`, so jobs running side by side on one machine
share one file. `stats.jsonl` beside it records every retrieval (what was asked, what was
offered), read by `kwright library stats`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agents.library.signature import Signature

log = logging.getLogger(__name__)

ENTRY_SCHEMA_VERSION = 1
UNSIGNED = ("digest", "mac")  # the fields the digest does not cover


class LibraryEntry(BaseModel):
    """One verified kernel and what is known of it."""

    schema_version: int = ENTRY_SCHEMA_VERSION
    problem_id: str
    problem_name: str = ""
    signature: Signature
    signature_digest: str = ""
    target_gpu: str | None = None
    arch: str | None = None
    device: str | None = None  # where it was verified (cpu: the interpreter, untimed)
    backend: str
    policy: str = "strict"
    precision: str | None = None
    speedup: float | None = None  # null where not timed, never 0
    runtime_ms: float | None = None
    ref_runtime_ms: float | None = None
    profile: str | None = None  # the static profile's summary, where there was one
    lessons: list[str] = Field(default_factory=list)  # advice that helped or failed
    agent: str | None = None
    model: str | None = None
    run_id: str | None = None
    created_at: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    source: str
    digest: str = ""
    mac: str | None = None

    @property
    def id(self) -> str:
        return self.digest[:12]

    def content_digest(self) -> str:
        fields = self.model_dump(mode="json", exclude=set(UNSIGNED))
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def identity(self) -> tuple[str, ...]:
        """Two entries with the same identity are the same kernel for the same target."""
        source = hashlib.sha256(self.source.encode()).hexdigest()
        return (self.signature_digest, source, self.backend, str(self.target_gpu),
                self.policy, str(self.precision))  # fmt: skip


class RetrievalRecord(BaseModel):
    """One retrieval, for `kwright library stats`."""

    at: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    problem_id: str
    signature_digest: str | None = None
    offered: list[str] = Field(default_factory=list)  # entry ids given to the Coder
    exact: bool = False  # an entry had the very same signature
    tokens: int = 0


class LibraryStore:
    """The library of one KWRIGHT_HOME (`<home>/library/`)."""

    def __init__(self, home: Path) -> None:
        self.root = home / "library"
        self.entries_path = self.root / "entries.jsonl"
        self.stats_path = self.root / "stats.jsonl"
        self.key_path = self.root / "key"

    # -- the key and the seal -------------------------------------------------------------
    def _key(self) -> bytes:
        try:
            return bytes.fromhex(self.key_path.read_text().strip())
        except FileNotFoundError:
            pass
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another writer made it first
            return bytes.fromhex(self.key_path.read_text().strip())
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        return bytes.fromhex(self.key_path.read_text().strip())

    def _mac(self, digest: str) -> str:
        return hmac.new(self._key(), digest.encode(), hashlib.sha256).hexdigest()

    def seal(self, entry: LibraryEntry) -> LibraryEntry:
        sealed = entry.model_copy(update={"signature_digest": entry.signature.digest})
        sealed.digest = sealed.content_digest()
        sealed.mac = self._mac(sealed.digest)
        return sealed

    def intact(self, entry: LibraryEntry, *, where: str, keyed: bool = True) -> bool:
        """True if the entry is as it was sealed; else a warning naming `where`."""
        if entry.content_digest() != entry.digest or entry.signature.digest != (
            entry.signature_digest
        ):
            log.warning("library: %s: entry %s was altered (digest mismatch), dropped",
                        where, entry.id or "?")  # fmt: skip
            return False
        if keyed and not (entry.mac and hmac.compare_digest(entry.mac, self._mac(entry.digest))):
            log.warning("library: %s: entry %s is not signed by this library's key, dropped",
                        where, entry.id)  # fmt: skip
            return False
        return True

    # -- reading and writing --------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def entries(self) -> list[LibraryEntry]:
        """Every intact entry, oldest first (altered or unreadable lines are logged, skipped)."""
        return list(read_entries(self.entries_path, self, keyed=True))

    def add(self, entry: LibraryEntry) -> LibraryEntry | None:
        """Seal and append `entry`; None where the same kernel is already in."""
        added = self.add_many([entry])
        return added[0] if added else None

    def add_many(self, entries: Iterable[LibraryEntry]) -> list[LibraryEntry]:
        with self._locked():
            known = {e.identity() for e in self.entries()}
            added: list[LibraryEntry] = []
            for entry in entries:
                sealed = self.seal(entry)
                if sealed.identity() in known:
                    continue
                known.add(sealed.identity())
                added.append(sealed)
            if added:
                with self.entries_path.open("a", encoding="utf-8") as f:
                    f.writelines(e.model_dump_json() + "\n" for e in added)
        return added

    def export_lines(self) -> list[str]:
        """The intact entries as JSON lines without their key-bound seal, for another machine."""
        return [e.model_dump_json(exclude={"mac"}) + "\n" for e in self.entries()]

    def import_lines(self, lines: Iterable[str], where: str) -> tuple[list[LibraryEntry], int]:
        """(entries added, entries refused) from exported JSON lines; each digest is checked."""
        good: list[LibraryEntry] = []
        refused = 0
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            entry = parse_entry(line, f"{where}:{number}")
            if entry is None or not self.intact(entry, where=f"{where}:{number}", keyed=False):
                refused += 1
                continue
            good.append(entry.model_copy(update={"mac": None}))
        return self.add_many(good), refused

    def record_retrieval(self, record: RetrievalRecord) -> None:
        with self._locked(), self.stats_path.open("a", encoding="utf-8") as f:
            f.write(record.model_dump_json() + "\n")

    def retrievals(self) -> list[RetrievalRecord]:
        found: list[RetrievalRecord] = []
        if not self.stats_path.is_file():
            return found
        for number, line in enumerate(self.stats_path.read_text().splitlines(), 1):
            try:
                found.append(RetrievalRecord.model_validate_json(line))
            except (ValidationError, ValueError):
                log.warning("library: %s:%d: unreadable retrieval record, skipped",
                            self.stats_path, number)  # fmt: skip
        return found


def parse_entry(line: str, where: str) -> LibraryEntry | None:
    try:
        return LibraryEntry.model_validate_json(line)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        log.warning("library: %s: unreadable entry, dropped (%s)", where, first)
        return None


def read_entries(path: Path, store: LibraryStore, *, keyed: bool) -> Iterator[LibraryEntry]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            entry = parse_entry(line, f"{path}:{number}")
            if entry is not None and store.intact(entry, where=f"{path}:{number}", keyed=keyed):
                yield entry

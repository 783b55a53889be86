"""The library: one JSON line per verified kernel, in `<home>/library/entries.jsonl` or the
fleet's Redis (agents.library.backends).

Each entry carries `digest`, a sha256 over its canonical fields (everything but `digest`
and `mac`), and `mac`, an HMAC-SHA256 of the digest with the library's key
(`<home>/library/key`, created on first use, mode 0600; backends says the fleet's). An
entry whose fields no longer match its digest, or whose digest was re-computed without the
key, is dropped on reading with a warning naming its line: a library entry is prompt material, and an altered one
must never reach a Coder. Exported entries carry the digest only (no key leaves the
machine); `import` checks each digest and signs what it keeps with the local key.

Writers append under the backend's lock, so jobs running side by side share one library.
A second log records every retrieval (what was asked, what was offered), read by
`kwright library stats`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agents.library.backends import open_backend
from agents.library.signature import Signature
from sandbox.settings import host_settings

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
    """One library: `<home>/library/` by default, or the fleet's Redis (`url`)."""

    def __init__(self, home: Path, url: str | None = None, key_hex: str | None = None) -> None:
        self.backend = open_backend(home, url, key_hex)
        self.root = home / "library" if url is None else None
        self.where = self.backend.where

    # -- the key and the seal -------------------------------------------------------------
    def _mac(self, digest: str) -> str:
        return hmac.new(self.backend.key(), digest.encode(), hashlib.sha256).hexdigest()

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
    def entries(self) -> list[LibraryEntry]:
        """Every intact entry, oldest first (altered or unreadable lines are logged, skipped)."""
        found: list[LibraryEntry] = []
        for number, line in enumerate(self.backend.entry_lines(), 1):
            where = f"{self.where}:{number}"
            entry = parse_entry(line, where) if line.strip() else None
            if entry is not None and self.intact(entry, where=where):
                found.append(entry)
        return found

    def add(self, entry: LibraryEntry) -> LibraryEntry | None:
        """Seal and append `entry`; None where the same kernel is already in."""
        added = self.add_many([entry])
        return added[0] if added else None

    def add_many(self, entries: Iterable[LibraryEntry]) -> list[LibraryEntry]:
        with self.backend.locked():
            known = {e.identity() for e in self.entries()}
            added: list[LibraryEntry] = []
            for entry in entries:
                sealed = self.seal(entry)
                if sealed.identity() in known:
                    continue
                known.add(sealed.identity())
                added.append(sealed)
            self.backend.append_entries([e.model_dump_json() for e in added])
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
        self.backend.append_stat(record.model_dump_json())

    def retrievals(self) -> list[RetrievalRecord]:
        found: list[RetrievalRecord] = []
        for number, line in enumerate(self.backend.stat_lines(), 1):
            try:
                found.append(RetrievalRecord.model_validate_json(line))
            except (ValidationError, ValueError):
                log.warning("library: retrieval record %d unreadable, skipped", number)
        return found


def open_library(home: Path) -> LibraryStore:
    """The configured library: `KWRIGHT_LIBRARY_URL` (the fleet's Redis) or `<home>/library`."""
    settings = host_settings()
    return LibraryStore(home, settings.library_url, settings.library_key)


def parse_entry(line: str, where: str) -> LibraryEntry | None:
    try:
        return LibraryEntry.model_validate_json(line)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        log.warning("library: %s: unreadable entry, dropped (%s)", where, first)
        return None

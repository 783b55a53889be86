"""Where a library's lines live: files under `<home>/library/` (the embedded default) or
lists in a Redis server shared by the fleet's workers (`KWRIGHT_LIBRARY_URL=redis://...`),
so a kernel verified on one worker is retrieved by a job on another.

A backend holds two append-only logs of JSON lines (entries, retrieval records), the HMAC
key entries are sealed with, and a lock that makes "read, check for the same kernel,
append" one step across processes (`flock` on a file; a Redis lock with a lease).

The key: in a file (mode 0600) for the file backend; for Redis, `KWRIGHT_LIBRARY_KEY`
where the fleet sets one (a secret every worker gets), else a key kept in Redis itself
(then whoever can write that Redis can also re-seal an entry: the digest still catches
edits made by anyone else, e.g. on a copy).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

PREFIX = "kwright:library:"
LOCK_LEASE_S = 30.0


class LibraryBackend(Protocol):
    where: str  # for log lines: a path or a redacted URL

    def entry_lines(self) -> list[str]: ...
    def append_entries(self, lines: list[str]) -> None: ...
    def stat_lines(self) -> list[str]: ...
    def append_stat(self, line: str) -> None: ...
    def key(self) -> bytes: ...
    def locked(self) -> Any: ...  # a context manager


class FileBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries_path = root / "entries.jsonl"
        self.stats_path = root / "stats.jsonl"
        self.key_path = root / "key"
        self.where = str(self.entries_path)

    @staticmethod
    def _lines(path: Path) -> list[str]:
        return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []

    def entry_lines(self) -> list[str]:
        return self._lines(self.entries_path)

    def stat_lines(self) -> list[str]:
        return self._lines(self.stats_path)

    def append_entries(self, lines: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.entries_path.open("a", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)

    def append_stat(self, line: str) -> None:
        with self.locked(), self.stats_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def key(self) -> bytes:
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

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class RedisBackend:
    """Lists `kwright:library:entries` and `kwright:library:retrievals` in one Redis."""

    def __init__(self, url: str, key_hex: str | None = None) -> None:
        import redis  # noqa: PLC0415 - heavy library, imported where used

        self.client: Any = redis.Redis.from_url(url, decode_responses=True,
                                                socket_connect_timeout=5.0, socket_timeout=10.0)  # fmt: skip
        self.where = url.rsplit("@", maxsplit=1)[-1]  # no password in log lines
        self._key_hex = key_hex

    def entry_lines(self) -> list[str]:
        return list(self.client.lrange(f"{PREFIX}entries", 0, -1))

    def stat_lines(self) -> list[str]:
        return list(self.client.lrange(f"{PREFIX}retrievals", 0, -1))

    def append_entries(self, lines: list[str]) -> None:
        if lines:
            self.client.rpush(f"{PREFIX}entries", *lines)

    def append_stat(self, line: str) -> None:
        self.client.rpush(f"{PREFIX}retrievals", line)

    def key(self) -> bytes:
        if self._key_hex:
            return bytes.fromhex(self._key_hex)
        self.client.set(f"{PREFIX}key", secrets.token_hex(32), nx=True)
        return bytes.fromhex(str(self.client.get(f"{PREFIX}key")))

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.client.lock(f"{PREFIX}lock", timeout=LOCK_LEASE_S, blocking_timeout=60):
            yield


def open_backend(home: Path, url: str | None, key_hex: str | None = None) -> LibraryBackend:
    """The file backend under `home`, or Redis where `url` names one."""
    if url and url.split(":", 1)[0] in ("redis", "rediss", "unix"):
        return RedisBackend(url, key_hex)
    if url:
        raise ValueError(f"library location {url!r}: use redis://, rediss:// or unix://")
    return FileBackend(home / "library")

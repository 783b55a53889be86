"""Opening the configured job store: Redis (the fleet's) or SQLite (the embedded default).

The factory sits apart from the base class so the backends can import the base without a
circle."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from worker.config import ConfigError, Settings
from worker.fleet.store import JobStore, redact
from worker.fleet.store_redis import RedisJobStore
from worker.fleet.store_sqlite import SqliteJobStore


def store_location(settings: Settings) -> str:
    """`KWRIGHT_STORE_URL`, else the broker's Redis, else SQLite under KWRIGHT_HOME."""
    if settings.store_url:
        return settings.store_url
    if settings.broker_url:
        return settings.broker_url
    return f"sqlite:///{settings.home / 'jobs.sqlite'}"


def open_store(settings: Settings, *, patient: bool = False) -> JobStore:
    """The configured store. `patient`: ride out short outages (a worker recording a job
    while Redis restarts); otherwise fail fast (the CLI)."""
    url = store_location(settings)
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return RedisJobStore(url, connect_timeout_s=settings.connect_timeout_s, patient=patient)
    if scheme == "sqlite":
        return SqliteJobStore(Path(url[len("sqlite:///") :]))
    raise ConfigError(
        f"job store {redact(url)!r}: unsupported scheme {scheme!r} "
        "(use redis://, rediss://, unix:// or sqlite:///PATH)"
    )

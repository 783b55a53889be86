"""kernelwright settings: environment variables with the KWRIGHT_ prefix (pydantic-settings).

Fleet settings (all optional): `KWRIGHT_BROKER_URL` (a Redis URL; unset: the embedded
default, jobs run on this machine with a SQLite store under `KWRIGHT_HOME`),
`KWRIGHT_STORE_URL` (where jobs are recorded; default: the broker's Redis, or SQLite),
`KWRIGHT_QUEUE` (the default queue of `kwright submit` and `kwright worker`), and the
time limits below. The Redis visibility timeout must exceed the hard time limit, or a
job still running would be delivered a second time; it defaults to the hard limit plus
an hour and a smaller value is refused. It is only a backstop: a lost worker's job is
recovered from its lapsed lease (`KWRIGHT_LEASE_S`, `KWRIGHT_SWEEP_INTERVAL_S`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HOUR = 3600.0


def _default_home() -> Path:
    return Path.home() / ".kernelwright"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KWRIGHT_", extra="ignore")

    home: Path = Field(default_factory=_default_home)  # runs, the embedded store, caches
    sandbox: str | None = None  # local | docker | none; None: local
    broker_url: str | None = None  # redis://...; None: the embedded default (in-process)
    store_url: str | None = None  # redis://... | sqlite:///path; None: see store_location()
    queue: str | None = None  # default queue for submit and worker; None: detected (cpu/gpu.*)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"  # on stderr

    # Per job, enforced by the worker. Soft: the job stops and records a timeout.
    # Hard: the worker process running it is killed; the job is marked failed.
    soft_time_limit_s: float = Field(default=6 * HOUR, gt=0)
    hard_time_limit_s: float | None = Field(default=None, gt=0)  # None: soft + 10 min
    visibility_timeout_s: float | None = Field(default=None, gt=0)  # None: hard + 1 h
    # How often a job may be started before it is given up (each lost worker is one).
    max_deliveries: int = Field(default=5, ge=1)
    # A running job renews its lease every lease/3 s. A lease lapsed by one more lease
    # (the grace) means a lost worker: a sweeper puts the job back on its queue.
    lease_s: float = Field(default=30.0, gt=0)
    # Every worker looks for such jobs this often (sooner when one is known to fall due),
    # so a lost worker's job is back on its queue within 2 x lease + this: 75 s by default.
    sweep_interval_s: float = Field(default=15.0, gt=0)
    # A job queued this long with no message for it in the broker (lost with a killed
    # worker, or dropped by a retry that could not be published) is published again. It
    # must exceed the longest retry countdown a worker holds a message for (60 s).
    orphan_after_s: float = Field(default=120.0, gt=0)
    max_tasks_per_child: int = Field(default=20, ge=1)
    # A background embedded worker (started by `kwright submit`) exits after this long idle.
    embedded_idle_exit_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)  # broker/store connection attempts
    # kombu's sweep of unacked messages (a whole worker lost): every interval x throttle s.
    unacked_restore_interval_s: float = Field(default=10.0, gt=0)
    unacked_restore_throttle: int = Field(default=10, ge=1)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _limits_agree(self) -> Settings:
        if self.hard_time_limit_s is not None and self.hard_time_limit_s <= self.soft_time_limit_s:
            raise ValueError(
                f"KWRIGHT_HARD_TIME_LIMIT_S ({self.hard_time_limit_s:g}) must exceed "
                f"KWRIGHT_SOFT_TIME_LIMIT_S ({self.soft_time_limit_s:g})"
            )
        if self.visibility_timeout_s is not None and self.visibility_timeout_s <= self.hard_limit:
            raise ValueError(
                f"KWRIGHT_VISIBILITY_TIMEOUT_S ({self.visibility_timeout_s:g}) must exceed the "
                f"hard time limit ({self.hard_limit:g} s), or running jobs are delivered twice"
            )
        return self

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def hard_limit(self) -> float:
        return self.hard_time_limit_s or self.soft_time_limit_s + 600.0

    @property
    def recovery_grace_s(self) -> float:
        """How long past its lease a running job is left before a sweeper takes it back."""
        return self.lease_s

    @property
    def recovery_bound_s(self) -> float:
        """The longest a lost worker's job waits before it is back on its queue."""
        return 2 * self.lease_s + self.sweep_interval_s

    @property
    def visibility_timeout(self) -> float:
        return self.visibility_timeout_s or self.hard_limit + HOUR


class ConfigError(ValueError):
    """A KWRIGHT_ setting has a bad value; the message names it."""


def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        given = f"={first['input']!r}" if where and isinstance(first.get("input"), str) else ""
        name = f"KWRIGHT_{where.upper()}{given}: " if where else ""
        raise ConfigError(f"bad setting: {name}{first['msg']}") from exc


def api_key_from_env() -> str | None:
    """The LLM API key of this process's environment. It is never stored in a job, the
    store or a message: each worker reads its own."""
    return os.environ.get("KWRIGHT_API_KEY") or os.environ.get("OPENAI_API_KEY")

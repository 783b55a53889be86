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
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sandbox.settings import ConfigError, HostSettings, load_settings

__all__ = ["ConfigError", "Settings", "api_key_from_env", "get_settings"]

HOUR = 3600.0


class Settings(HostSettings):
    """Every KWRIGHT_ setting: the host's (`HostSettings`) and the fleet's and CLI's."""

    broker_url: str | None = Field(
        default=None, description="Redis URL of the fleet's broker (unset: jobs run here)."
    )
    store_url: str | None = Field(
        default=None,
        description="Where jobs are recorded: `redis://...` or `sqlite:///path` "
        "(default: the broker's Redis, else SQLite under home).",
    )
    queue: str | None = Field(
        default=None,
        description="Default queue of `submit` and `worker`: `cpu` or `gpu.<kind>` "
        "(default: this machine's).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="WARNING", description="Log level on stderr."
    )
    # Per job, enforced by the worker. Soft: the job stops and records a timeout.
    # Hard: the worker process running it is killed; the job is marked failed.
    soft_time_limit_s: float = Field(
        default=6 * HOUR, gt=0, description="Per job: it stops and records a timeout."
    )
    hard_time_limit_s: float | None = Field(
        default=None,
        gt=0,
        description="Per job: its worker process is killed (default: soft + 10 min).",
    )
    visibility_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Redis redelivers an unacked job after this; must exceed the hard "
        "limit (default: hard + 1 h).",
    )
    max_deliveries: int = Field(
        default=5, ge=1, description="Starts of a job (each lost worker is one) before it fails."
    )
    # A running job renews its lease every lease/3 s. A lease lapsed by one more lease
    # (the grace) means a lost worker: a sweeper puts the job back on its queue.
    lease_s: float = Field(
        default=30.0, gt=0, description="A running job's lease, renewed every lease/3 s."
    )
    # A lost worker's job is back on its queue within 2 x lease + this: 75 s by default.
    sweep_interval_s: float = Field(
        default=15.0, gt=0, description="How often every worker looks for lapsed leases."
    )
    # It must exceed the longest retry countdown a worker holds a message for (60 s).
    orphan_after_s: float = Field(
        default=120.0,
        gt=0,
        description="A job queued this long with no broker message is published again.",
    )
    eval_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="A candidate evaluation no worker started in this time is run by its job.",
    )
    max_tasks_per_child: int = Field(
        default=20, ge=1, description="Celery: jobs per pool process before it is replaced."
    )
    embedded_idle_exit_s: float = Field(
        default=60.0,
        gt=0,
        description="The embedded worker `submit` starts exits when idle this long.",
    )
    connect_timeout_s: float = Field(
        default=3.0, gt=0, description="Seconds per broker/store connection attempt."
    )
    # kombu's sweep of unacked messages (a whole worker lost): every interval x throttle s.
    unacked_restore_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="kombu sweeps unacked messages every interval x throttle s: the interval.",
    )
    unacked_restore_throttle: int = Field(default=10, ge=1, description="... and the throttle.")

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


def get_settings() -> Settings:
    return load_settings(Settings)


def settings_table() -> str:
    """The table of every KWRIGHT_ variable (docs/configuration.md), from the model (a test compares)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:  # a path under the user's home
            made = str(field.default_factory())  # type: ignore[call-arg]
            default = f"`{made.replace(str(Path.home()), '~')}`"
        else:
            default = "unset" if field.default is None else f"`{field.default!r}`".replace("'", "")
        rows.append(f"| `KWRIGHT_{name.upper()}` | {default} | {field.description or ''} |")
    return "\n".join(rows) + "\n"


def api_key_from_env() -> str | None:
    """The LLM API key of this process's environment. It is never stored in a job, the
    store or a message: each worker reads its own."""
    return os.environ.get("KWRIGHT_API_KEY") or os.environ.get("OPENAI_API_KEY")


if __name__ == "__main__":
    sys.stdout.write(settings_table())

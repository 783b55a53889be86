"""Host settings: where kernelwright keeps things and which tools it runs on this machine.

The `KWRIGHT_` variables the lower layers read (the sandbox, the profiler, the price
table) are fields of `HostSettings`; `worker.config.Settings` extends it with the fleet's
and the CLI's, so one pydantic-settings model holds every variable, and docs/configuration.md's
table is generated from it (`python -m worker.config --table`). This module sits at the
bottom of the package graph (it imports no project module) so every layer can read it.
An empty variable counts as unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A KWRIGHT_ setting has a bad value; the message names it."""


def _default_home() -> Path:
    return Path.home() / ".kernelwright"


class HostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KWRIGHT_", extra="ignore", env_ignore_empty=True)

    home: Path = Field(
        default_factory=_default_home,
        description="Runs, the embedded job store and the caches.",
    )
    cache_dir: Path | None = Field(
        default=None, description="The profiler's compile and profile caches (default: home/cache)."
    )
    sandbox: str | None = Field(
        default=None, description="Sandbox backend: `local`, `docker` or `none` (default: local)."
    )
    nvcc: Path | None = Field(default=None, description="The nvcc to compile CUDA C with.")
    ncu: Path | None = Field(default=None, description="The Nsight Compute `ncu` to profile with.")
    prices_file: Path | None = Field(
        default=None, description="JSON of extra `{model: {input, output, cached}}` $/1M tokens."
    )
    step_threads: int = Field(
        default=1,
        ge=1,
        description="torch's intra-op threads in each harness step. Steps run in parallel up "
        "to the core count, where torch's default (one thread per core) oversubscribes: a "
        "small LSTM's forward took 3 s instead of 2 ms. Raise it for one large evaluation.",
    )
    library_url: str | None = Field(
        default=None,
        description="The kernel library: `redis://...` (unset: a fleet worker uses the fleet's "
        "Redis, anything else home/library).",
    )
    library_key: str | None = Field(
        default=None,
        description="Hex HMAC key sealing a shared library's entries (unset: kept beside them).",
    )
    library_tokens: int = Field(
        default=3000, ge=0, description="Token budget of the library's examples in a prompt."
    )
    docker_image: str | None = Field(default=None, description="The docker backend's image.")
    docker_url: str | None = Field(
        default=None, description="Docker/podman API URL (default: DOCKER_HOST, the socket)."
    )
    docker_python: str | None = Field(
        default=None, description="The python inside the image (default `python3`)."
    )
    docker_mounts: str | None = Field(
        default=None, description="Host toolchain folders bind-mounted read-only (`:`-separated)."
    )
    docker_mount_project: bool = Field(
        default=False, description="Mount this checkout instead of the image's copy."
    )

    @field_validator("home", "cache_dir", "nvcc", "ncu", "prices_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def cache_root(self) -> Path:
        return self.cache_dir or self.home / "cache"


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """`cls()` from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return cls()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        given = f"={first['input']!r}" if where and isinstance(first.get("input"), str) else ""
        name = f"KWRIGHT_{where.upper()}{given}: " if where else ""
        raise ConfigError(f"bad setting: {name}{first['msg']}") from exc


def host_settings() -> HostSettings:
    return load_settings(HostSettings)

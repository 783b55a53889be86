"""kernelwright settings: environment variables with the KWRIGHT_ prefix (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".kernelwright"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KWRIGHT_", extra="ignore")

    home: Path = Field(default_factory=_default_home)  # runs, the embedded store, caches
    sandbox: str | None = None  # local | docker | none; None: local
    broker_url: str | None = None  # redis://...; None: the embedded default (in-process)

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"


def get_settings() -> Settings:
    return Settings()

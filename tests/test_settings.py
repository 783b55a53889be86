"""The settings model: one for every KWRIGHT_ variable, read by every layer, and the
table in docs/configuration.md generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox.settings import ConfigError, host_settings
from worker.config import Settings, get_settings, settings_table

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "worker", "sandbox", "profiler", "kernelbench")


def test_configuration_page_table_is_the_models():
    page = (ROOT / "docs" / "configuration.md").read_text()
    block = re.search(
        r"<!-- settings-table: begin -->\n(.*?)<!-- settings-table: end -->", page, re.S
    )
    assert block is not None, "docs/configuration.md lost its settings table markers"
    assert block.group(1) == settings_table(), "regenerate it: python -m worker.config"


def test_no_kwright_variable_is_read_beside_the_model():
    """Only the API key (kept out of the model on purpose) and the harness's internal
    handoff are read from os.environ directly."""
    allowed = {"KWRIGHT_API_KEY"}
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            found |= set(re.findall(r"(?:environ(?:\.get)?[\[(]|getenv\()\s*\"(KWRIGHT_\w+)", text))
    assert found <= allowed, found - allowed


def test_every_field_is_documented():
    assert all(f.description for f in Settings.model_fields.values())


def test_lower_layers_read_the_same_values(monkeypatch, tmp_path):
    from profiler.cache import cache_root
    from sandbox.defaults import default_sandbox_name

    monkeypatch.setenv("KWRIGHT_HOME", str(tmp_path))
    monkeypatch.setenv("KWRIGHT_CACHE_DIR", "")  # empty: unset
    monkeypatch.setenv("KWRIGHT_SANDBOX", "none")
    assert cache_root() == tmp_path / "cache" == get_settings().cache_root
    assert default_sandbox_name() == "none"


def test_a_bad_host_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("KWRIGHT_DOCKER_MOUNT_PROJECT", "perhaps")
    with pytest.raises(ConfigError, match="KWRIGHT_DOCKER_MOUNT_PROJECT='perhaps'"):
        host_settings()

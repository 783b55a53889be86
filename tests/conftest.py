"""Shared fixtures: the real harness, real child processes, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def kwright(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process (exit codes and stderr as a user sees them)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(autouse=True, scope="session")
def _private_compile_cache(tmp_path_factory):
    """Keep the tests' profiler caches out of ~/.kernelwright (one cache per test session)."""
    if "KWRIGHT_CACHE_DIR" in os.environ:
        yield
        return
    os.environ["KWRIGHT_CACHE_DIR"] = str(tmp_path_factory.mktemp("kwright-cache"))
    yield
    os.environ.pop("KWRIGHT_CACHE_DIR", None)


@pytest.fixture
def write(tmp_path: Path):
    """write("name.py", source) -> path in a fresh temp dir."""

    def _write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        return path

    return _write


def write_suite(root: Path, files: dict[str, str]) -> Path:
    """A KernelBench-shaped checkout under `root`: `files` maps `levelN/<name>.py` to
    source, written under `root/KernelBench/`. Returns `root`."""
    for name, source in files.items():
        path = root / "KernelBench" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root

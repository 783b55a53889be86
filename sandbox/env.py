"""The environment a harness step sees: an allowlist, never the caller's secrets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Variables passed through from the caller when set. Nothing else is: API keys, tokens,
# broker URLs and cloud credentials never reach candidate code.
PASSTHROUGH = (
    "LANG",
    "LC_ALL",
    "TZ",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "KWRIGHT_NVCC",
)
# Patterns that never pass, even if a caller adds them to a job's env by mistake.
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "COOKIE")


def project_root() -> Path:
    """The directory holding this distribution's packages (for PYTHONPATH): the step
    programs a caller names live beside `sandbox/` (or in site-packages)."""
    return Path(__file__).resolve().parent.parent


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


def _base_env(home: Path, scratch: Path) -> dict[str, str]:
    """What every trusted child starts with: the passthrough variables (never a secret),
    this interpreter first on PATH, the project importable, caches under `home`."""
    env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
    python_bin = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "PYTHONPATH": str(project_root()),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "TRITON_CACHE_DIR": str(home / ".triton"),
            "MPLCONFIGDIR": str(scratch),
        }
    )
    return env


def step_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = _base_env(workdir, workdir / "tmp")
    env["TMPDIR"] = str(workdir / "tmp")
    env["TORCHINDUCTOR_CACHE_DIR"] = str(workdir / ".inductor")
    for key, value in (extra or {}).items():
        if not looks_secret(key):
            env[key] = value
    return env


def zygote_env(home: Path) -> dict[str, str]:
    """The environment a warm zygote is started with: what its forks inherit at exec level
    (visible in /proc/self/environ), so it holds no secrets either."""
    return _base_env(home, home)


def child_argv(module: str, workdir: Path) -> list[str]:
    return [sys.executable, "-m", module, str(workdir)]

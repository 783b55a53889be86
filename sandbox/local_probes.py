"""Host probes for the `local` backend: which isolations and cgroups work here (cached)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from sandbox.cgroups import StepCgroup, step_name
from sandbox.env import zygote_env


@cache
def namespaces_problem() -> str | None:
    """None if this host lets the local backend build namespaces, else why not (cached)."""
    if os.geteuid() != 0:
        return "not running as root"
    code = "from sandbox.zygote import probe_namespaces as p; import sys; r = p(); print(r or ''); sys.exit(bool(r))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            env=zygote_env(Path(tempfile.gettempdir())),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {exc}"
    return None if proc.returncode == 0 else (proc.stdout.strip() or proc.stderr.strip()[-300:])


@cache
def bwrap_problem() -> str | None:
    """None if bubblewrap can make a sandbox here, else why not (cached)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    argv = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all"]
    try:
        proc = subprocess.run(
            [*argv, "--die-with-parent", "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed: {exc}"
    return None if proc.returncode == 0 else f"bwrap failed: {proc.stderr.strip()[-300:]}"


@cache
def cgroups_usable() -> bool:
    """Whether per-step cgroups can be made here (root and a writable hierarchy)."""
    if os.geteuid() != 0:
        return False
    group = StepCgroup.create(step_name("probe", "probe"), 64, 16)
    if group is None:
        return False
    group.remove()
    return True

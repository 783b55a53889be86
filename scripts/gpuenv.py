"""Virtual environments for installing kernelwright beside a machine's own torch.

Shared by `scripts/gpu-check`, `scripts/gpu-wheels` and the install tests. Plain stdlib:
it runs on a fresh GPU machine before anything of kernelwright is installed.

A *stand-in* is a distribution record with no code (`NAME-VERSION.dist-info` holding
METADATA, RECORD and INSTALLER): to pip it is an installed NAME at VERSION, so a test can
show what pip would do to a venv holding torch 2.11 without a 2.11 wheel at hand.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

# Never fetched into the wheel folder, never replaced on the target: the machine's own.
MACHINE_OWNED = ("torch", "triton")
MACHINE_OWNED_PREFIXES = ("nvidia-", "nvidia_", "cuda-", "cuda_")
STANDIN_INSTALLER = "kernelwright-standin"


def is_machine_owned(name: str) -> bool:
    low = name.lower()
    return low in MACHINE_OWNED or low.startswith(MACHINE_OWNED_PREFIXES)


def make_venv(path: Path, *, system_site_packages: bool) -> Path:
    """A fresh venv with pip; returns its python. Where this Python has no ensurepip (a
    Debian python3 without python3-venv), a venv that sees the system's packages is
    made without pip and runs the system's own pip module."""

    def build(with_pip: bool) -> None:
        venv.EnvBuilder(
            with_pip=with_pip, clear=True, system_site_packages=system_site_packages
        ).create(path)

    try:
        build(with_pip=True)
    except subprocess.CalledProcessError:
        if not system_site_packages:
            raise
        build(with_pip=False)
    return path / "bin" / "python"


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def write_standin(site: Path, name: str, version: str) -> Path:
    """An installed-looking `name==version` with no code (see the module docstring)."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        "Summary: stand-in record for an install test (no code)\n",
        encoding="utf-8",
    )
    (info / "INSTALLER").write_text(STANDIN_INSTALLER + "\n", encoding="utf-8")
    rel = info.name
    (info / "RECORD").write_text(
        f"{rel}/METADATA,,\n{rel}/INSTALLER,,\n{rel}/RECORD,,\n", encoding="utf-8"
    )
    return info


def dist_versions(python: Path, names: list[str]) -> dict[str, str | None]:
    """What `importlib.metadata` in that interpreter says of each distribution."""
    code = (
        "import json, sys, importlib.metadata as m\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=True
    )
    return dict(json.loads(proc.stdout))


def pip(python: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

"""`pip install .` keeps a torch that is already there (no exact pin in pyproject.toml).

A plain venv (not --system-site-packages: this machine's torch must not be in view) gets
stand-in records of torch 2.11.0 and triton 3.6.0 (the GPU machine's pair; no code, see
scripts/gpuenv.py); pip, with the index this machine is configured with, resolves
kernelwright's install in --dry-run mode. Nothing of torch, triton or the nvidia-* CUDA
libraries may be in what it would install, and the stand-ins must still be there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import gpuenv


@pytest.mark.slow
def test_pip_install_keeps_a_torch_2_11_already_in_the_venv(tmp_path: Path) -> None:
    python = gpuenv.make_venv(tmp_path / "venv", system_site_packages=False)
    site = gpuenv.site_packages(python)
    gpuenv.write_standin(site, "torch", "2.11.0")
    gpuenv.write_standin(site, "triton", "3.6.0")
    report = tmp_path / "report.json"
    proc = gpuenv.pip(
        python, "install", "--dry-run", "--report", str(report), str(ROOT), timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    would_install = {
        i["metadata"]["name"].lower(): i["metadata"]["version"]
        for i in json.loads(report.read_text())["install"]
    }
    assert "kernelwright" in would_install
    owned = sorted(n for n in would_install if gpuenv.is_machine_owned(n))
    assert owned == [], f"pip would install the machine's own packages: {owned}"
    assert gpuenv.dist_versions(python, ["torch", "triton"]) == {
        "torch": "2.11.0",
        "triton": "3.6.0",
    }

"""`scripts/gpu-wheels` + `scripts/gpu-check --dry-run` on this CPU machine: the wheel
folder is built from the configured pip mirror for this machine's Python (the GPU
machine's is 3.12; the test installs, so it needs wheels for the Python at hand), and
the dry run installs kernelwright from it into a fresh venv holding stand-in torch
2.11.0 / triton 3.6.0 records, leaves them untouched, and skips the GPU stages."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import gpuenv

pytestmark = pytest.mark.slow
PYTHON = ".".join(platform.python_version_tuple()[:2])


def script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def test_dry_run_installs_from_the_wheel_folder_and_leaves_the_venvs_torch_alone(tmp_path):
    wheels, out = tmp_path / "wheels", tmp_path / "out"
    built = script("gpu-wheels", str(wheels), "--python", PYTHON, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    names = [p.name for p in wheels.glob("*.whl")]
    assert any(n.startswith("kernelwright-") for n in names)
    assert not [n for n in names if gpuenv.is_machine_owned(n.split("-")[0])]
    assert sum(p.stat().st_size for p in wheels.glob("*.whl")) < 60 * 2**20

    run = script("gpu-check", str(out), "--wheels", str(wheels), "--dry-run", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [
        f"[gpu-check {i}/5] {name}"
        for i, name in enumerate(["facts", "install", "tests", "bench", "agent"], 1)
    ]
    assert all("skipped: --dry-run (no GPU used)" in line for line in lines[2:5])

    python = out / "venv" / "bin" / "python"
    versions = gpuenv.dist_versions(python, ["torch", "triton", "kernelwright"])
    assert versions == {"torch": "2.11.0", "triton": "3.6.0", "kernelwright": "0.1.0"}
    probe = "import kernelbench.problems.registry, worker.cli, kernelbench.protocol.result as r; print(r.__file__)"
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    imported = subprocess.run(
        [str(python), "-c", probe],
        cwd=tmp_path,
        env=bare,
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert str(out / "venv") in imported.stdout  # the installed copy, not this checkout

    report = json.loads((out / "report.json").read_text())
    install = next(s for s in report["stages"] if s["name"] == "install")
    assert install["status"] == "ok"
    assert install["detail"]["before"] == {"torch": "2.11.0", "triton": "3.6.0"}
    assert "Dry run" in (out / "report.md").read_text()

"""`tests/benchmarks/kernelbench_baseline.py` on a tiny KernelBench-shaped suite written
here: real child processes, the real baseline Coder, loop and harness. One problem it
solves, one with an op it cannot lower (torch.sort), one whose reference never finishes building."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, write_suite

SCRIPT = ROOT / "tests" / "benchmarks" / "kernelbench_baseline.py"

RELU = """import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x)


batch_size = 64
dim = 1000


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
"""

SORT = """import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.sort(x, dim=-1).values


batch_size = 4
dim = 64


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
"""

SCALED_RELU = RELU.replace("torch.relu(x)", "torch.relu(x * 2.0)")

HANG = (FIXTURES / "baseline" / "hangs_in_init.py").read_text()


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    files = {
        "level1/1_ReLU.py": RELU,
        "level1/2_Sort.py": SORT,
        "level2/1_Scaled_ReLU.py": SCALED_RELU,
        "level3/1_Hang.py": HANG,
    }
    return write_suite(tmp_path, files) / "KernelBench"


def sweep(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )


def lines(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["problem_id"] for r in rows}) == len(rows), "a problem recorded twice"
    return {r["problem_id"]: r for r in rows}


def level_row(stdout: str, level: int) -> list[str]:
    row = next(line for line in stdout.splitlines() if line.startswith(f"level {level} "))
    return row.split()


@pytest.mark.slow
def test_plan_only_counts_candidates_records_the_unsupported_op_and_a_hang(suite, tmp_path):
    out = tmp_path / "out"
    base = ["--suite", str(suite), "--out", str(out), "--plan-only", "--jobs", "2"]
    proc = sweep(*base, "--level", "1", "2")
    assert proc.returncode == 0, proc.stderr
    rows = lines(out / "plan.jsonl")
    assert set(rows) == {"level1/1_ReLU", "level1/2_Sort", "level2/1_Scaled_ReLU"}
    assert rows["level1/1_ReLU"]["status"] == "candidate"
    assert rows["level2/1_Scaled_ReLU"]["status"] == "candidate"
    gru = rows["level1/2_Sort"]
    assert gru["status"] == "no_candidate" and gru["unsupported_op"] == "sort"
    assert gru["reason"].startswith("no candidate: unsupported op sort")
    assert all(r["seconds"] > 0 and r["rounds"] is None for r in rows.values())
    # level, run, candidate, rate, no candidate
    assert level_row(proc.stdout, 1)[2:7] == ["2", "1", "50%", "1", "-"]
    assert level_row(proc.stdout, 2)[2:6] == ["1", "1", "100%", "0"]
    assert any(line.split()[:3] == ["sort", "1", "L1"] for line in proc.stdout.splitlines())

    # the hang is stopped at the time limit and recorded; the others are not run again
    proc = sweep(*base, "--timeout-s", "5")
    assert proc.returncode == 0, proc.stderr
    assert "4 problems, 3 already in" in proc.stderr
    rows = lines(out / "plan.jsonl")
    assert len(rows) == 4
    hang = rows["level3/1_Hang"]
    assert hang["status"] == "time_limit" and "5 s time limit" in hang["reason"]
    assert level_row(proc.stdout, 3)[2:7] == ["1", "0", "0%", "0", "time_limit"]

    # every 2nd problem of each level from the 2nd: only level1/2_Sort, already recorded
    proc = sweep(*base, "--stride", "2", "--offset", "1")
    assert "1 problems, 1 already in" in proc.stderr and "0 to run" in proc.stderr
    assert level_row(proc.stdout, 1)[2:6] == ["1", "0", "0%", "1"]


@pytest.mark.slow
def test_one_round_run_solves_the_relu_and_resumes_without_rerunning(suite, tmp_path):
    out = tmp_path / "out"
    base = ["--suite", str(suite), "--out", str(out), "--level", "1", "--jobs", "2"]
    proc = sweep(*base)
    assert proc.returncode == 0, proc.stderr
    rows = lines(out / "run.jsonl")
    assert set(rows) == {"level1/1_ReLU", "level1/2_Sort"}
    relu, gru = rows["level1/1_ReLU"], rows["level1/2_Sort"]
    assert relu["status"] == "correct" and relu["rounds"] == 1 and relu["reason"] is None
    assert Path(relu["run_dir"], "run.json").is_file()
    assert gru["status"] == "no_candidate" and gru["unsupported_op"] == "sort"
    assert level_row(proc.stdout, 1)[2:6] == ["2", "1", "50%", "1"]
    assert "1/2 level1/" in proc.stderr and "2/2 level1/" in proc.stderr

    before = (out / "run.jsonl").read_text()
    proc = sweep(*base)
    assert proc.returncode == 0, proc.stderr
    assert "2 problems, 2 already in" in proc.stderr and "0 to run" in proc.stderr
    assert (out / "run.jsonl").read_text() == before
    assert level_row(proc.stdout, 1)[2:6] == ["2", "1", "50%", "1"]

    report = sweep("--out", str(out), "--report")
    assert report.returncode == 0, report.stderr
    assert level_row(report.stdout, 1)[2:6] == ["2", "1", "50%", "1"]
    assert not (out / "plan.jsonl").exists()  # a run's records never mix with a plan's


def _children_of_sweep(out: Path) -> list[int]:
    """Live processes whose command line names this sweep's --out (its children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and b"--child" in cmdline and str(out).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_kill_stops_the_running_problem_and_leaves_whole_lines(suite, tmp_path, signum):
    out = tmp_path / "out"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    args = ["--suite", str(suite), "--out", str(out), "--plan-only", "--jobs", "1"]
    args += ["--only", "level1/1_ReLU", "level3/1_Hang"]
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    results = out / "plan.jsonl"
    deadline = time.monotonic() + 120
    while not (results.is_file() and results.read_text().endswith("\n")):
        assert proc.poll() is None and time.monotonic() < deadline, "the ReLU never finished"
        time.sleep(0.2)
    time.sleep(1.0)  # the hang is running now
    assert _children_of_sweep(out)  # the hang's child
    proc.send_signal(signum)
    # the stop itself is bounded by the 10 s TERM grace; the rest is a loaded CI machine
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not _children_of_sweep(out)  # stopped with the sweep, not orphaned
    assert list(lines(results)) == ["level1/1_ReLU"]  # the stopped problem is not recorded

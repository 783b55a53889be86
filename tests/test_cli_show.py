"""`kwright show RUN [PROBLEM]` (issue 29, point 5): a past run's trajectory per round
(verdict, the profile facts that changed, the Judge's advice, the diff from the previous
candidate), `--json`, and `--html --out FILE` checked in headless Chromium like the
leaderboard; and point 7: a run whose reference raises, hangs or is ill-conditioned
says so in one line (the baseline Coder's reading of it, bounded by `--eval-timeout`, and
the harness's verdicts on it), and nowhere else. All through the real CLI on pipes; the
trajectory from one real run of the offline baseline agent built once for the module."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.config import AgentConfig
from agents.rundir import AttemptRecord, ProblemResult, RunDir, RunInfo, write_atomic
from kernelbench.protocol.result import EvalResult
from tests.conftest import kwright

RELU = "level1/2_ReLU"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.slow  # one real run of the baseline agent (about a minute)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("show") / "home"
    proc = kwright("run", RELU, "--rounds", "2", env={"KWRIGHT_HOME": str(home)}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home


@pytest.fixture(scope="module")
def run_id(home) -> str:
    (run,) = [d.name for d in (home / "runs").iterdir()]
    return run


def show(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return kwright("show", *args, env={"KWRIGHT_HOME": str(home), "COLUMNS": "40"}, timeout=120)


def test_show_prints_each_round_uncut(home, run_id):
    partial = home / "runs" / run_id / RELU / "003"  # an attempt still running: no attempt.json
    partial.mkdir()
    (partial / "candidate.py").write_text("still being written\n")
    proc = show(home, run_id[:15])  # a prefix naming one run
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert partial.is_dir(), "show must never write the run directory"
    shutil.rmtree(partial)
    assert f"run {run_id}: done, agent baseline" in out
    assert f"{RELU}: 2 attempt(s); best: attempt 001, correct" in out
    assert "round 1 (attempt 001): correct, not timed (CPU)" in out
    assert "round 2 (attempt 002): correct, not timed (CPU)" in out
    assert re.search(r"  profile: k0_pointwise: registers \d+, spill B \d+, occupancy [\d.]+%", out)
    assert "  Judge: (optimize) k0_pointwise: memory-bound" in out
    assert "asks k0_pointwise: BLOCK=2048, num_warps=4" in out
    assert "the Judge stops here" in out
    assert re.search(r"001/candidate\.py \(\d+ lines, the first\)", out)
    assert "diff from attempt 001:" in out
    assert re.search(r"^    \+.*BLOCK=2048, num_warps=4\)$", out, re.M)  # a whole line, uncut
    assert re.search(r"^    -.*BLOCK=1024, num_warps=4\)$", out, re.M)
    assert "still being written" not in out and "attempt 003" not in out

    quiet = show(home, run_id, RELU, "--no-diff")
    assert quiet.returncode == 0 and "diff from attempt 001:" in quiet.stdout
    assert "BLOCK=1024, num_warps=4)" not in quiet.stdout


def test_show_json_holds_the_trajectory(home, run_id):
    proc = show(home, run_id, RELU, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["run_id"] == run_id and data["agent"] == "baseline" and data["device"] == "cpu"
    (problem,) = data["problems"]
    assert problem["problem_id"] == RELU and problem["best"]["attempt"] == 1
    first, second = problem["rounds"]
    assert first["status"] == second["status"] == "correct"
    assert first["profile_changed"] is None and "registers" in first["profile"]["k0_pointwise"]
    assert isinstance(second["profile_changed"], list)
    assert first["judge"]["params"]["kernels"]["k0_pointwise"]["BLOCK"] == 2048
    assert second["judge"]["stop"] is True
    assert first["diff"] is None and first["diff_from"] is None and first["candidate_lines"] > 10
    assert second["diff_from"] == 1 and "+" in second["diff"] and "BLOCK=2048" in second["diff"]
    assert Path(second["candidate"]).is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-run"], "no run no-such-run in"),
        (["RUN", "level1/99_Nothing"], "has no problem level1/99_Nothing"),
        (["RUN", "--html"], "--html needs --out FILE"),
        (["RUN", "--out", "x.html"], "--out is for --html"),
    ],
)
def test_show_refusals_are_one_line(home, run_id, args, message):
    proc = show(home, *[run_id if a == "RUN" else a for a in args])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("kwright: error: ")
    assert message in proc.stderr


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--hide-scrollbars", f"--user-data-dir={cwd / 'profile'}"]  # fmt: skip
    return subprocess.run(
        [str(CHROMIUM), *flags, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def _timed_copy(home: Path, run_id: str, dest: Path) -> Path:
    """The run as if a GPU had timed it: speedups in its attempt files."""
    shutil.copytree(home, dest)
    for attempt, speedup in (("001", 1.25), ("002", 1.6)):
        path = dest / "runs" / run_id / RELU / attempt / "attempt.json"
        record = json.loads(path.read_text())
        record["speedup"] = speedup
        path.write_text(json.dumps(record))
    return dest


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (tests/setup.sh installs it)")
def test_show_html_renders_in_a_browser(home, run_id, tmp_path):
    page = tmp_path / "show.html"
    proc = show(home, run_id, "--html", "--out", str(page))
    assert proc.returncode == 0, proc.stderr
    html = page.read_text()
    assert "Static profile per attempt" in html and "http" not in html.split("<body")[0]
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(), cwd=tmp_path)
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stderr[-2000:]
    assert 'data-charts="1"' in body.group(0) and 'data-charts-loaded="1"' in body.group(0)
    assert "asks k0_pointwise: BLOCK=2048" in dom.stdout and 'class="add"' in dom.stdout

    shot = tmp_path / "show.png"
    _chromium("--window-size=1300,1300", f"--screenshot={shot}", page.as_uri(), cwd=tmp_path)
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert float((pixels.sum(axis=1) < 720).mean()) > 0.03  # text, table, chart, diff
    assert len(np.unique(pixels, axis=0)) > 100

    timed = _timed_copy(home, run_id, tmp_path / "timed")
    page2 = tmp_path / "timed.html"
    assert show(timed, run_id, "--html", "--out", str(page2)).returncode == 0
    assert "Speedup per attempt, measured on the GPU" in page2.read_text()
    dom2 = _chromium("--virtual-time-budget=5000", "--dump-dom", page2.as_uri(), cwd=tmp_path)
    assert 'data-charts-loaded="1"' in dom2.stdout


PROBLEM = """import time

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        {init}

    def forward(self, x):
        {forward}
        return x


def get_inputs():
    return [torch.randn(16, 64)]


def get_init_inputs():
    return []
"""


def test_a_reference_that_raises_or_hangs_is_named_in_one_line(tmp_path):
    raises, hangs = tmp_path / "raises.py", tmp_path / "hangs.py"
    raises.write_text(
        PROBLEM.format(init='raise ValueError("this reference is broken")', forward="pass")
    )
    hangs.write_text(PROBLEM.format(init="pass", forward="time.sleep(3600)"))
    home = tmp_path / "home"
    started = time.monotonic()
    proc = kwright("run", str(raises), str(hangs), "--rounds", "2", "--eval-timeout", "15",
                   env={"KWRIGHT_HOME": str(home)}, timeout=300)  # fmt: skip
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    fault = "no kernel could be judged because of the reference: "
    assert (
        f"raises: {fault}running the reference raised ValueError: this reference is broken" in lines
    )
    assert f"hangs: {fault}reading the reference timed out after 15 s" in lines
    assert took < 110, (
        f"the hanging reference was read for longer than --eval-timeout ({took:.0f} s)"
    )

    (run_id,) = [d.name for d in (home / "runs").iterdir()]
    shown = kwright("show", run_id, "hangs", env={"KWRIGHT_HOME": str(home)}, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "round 1 (attempt 001): no candidate (reading the reference timed out" in shown.stdout


def harness_run(home: Path, run_id: str, evals: list[tuple[str, str | None, str]]) -> None:
    """A finished run of level1/2_ReLU whose attempts the harness judged as `evals`
    (status, error_kind, reason): the LLM agent's path, where candidates reach the harness."""
    rundir, records = RunDir(home, run_id), []
    for n, (status, kind, reason) in enumerate(evals, start=1):
        record = AttemptRecord(attempt=n, round=n, status=status, reason=reason)
        d = rundir.problem(RELU).attempt_dir(n)
        d.mkdir(parents=True)
        result = EvalResult(status=status, error_kind=kind, reason=reason)
        write_atomic(d / "eval.json", result.model_dump_json())
        write_atomic(d / "candidate.py", f"x = {n}\n")
        rundir.problem(RELU).finish_attempt(record)
        records.append(record)
    done = ProblemResult(problem_id=RELU, stop_reason="stopped", attempts=records)
    info = RunInfo(run_id=run_id, config=AgentConfig(rounds=len(evals)), status="done",
                   problems=[RELU], results={RELU: done})  # fmt: skip
    rundir.save_info(info)


ILL = "the reference's output 0 is 3.2x its RMS off its float64 self: ill-conditioned or random at these sizes"
RAISED = "2_ReLU.py: the reference raised ZeroDivisionError: division by zero"
HUNG = "the reference timed out after 15 s"


@pytest.mark.parametrize(
    ("evals", "fault"),
    [
        ([("error", "bad_problem", RAISED)] * 2, RAISED),
        ([("rejected", None, "static check: torch.relu"), ("error", "bad_problem", HUNG)], HUNG),
        ([("error", "bad_problem", f"2_ReLU.py: {ILL}")], f"2_ReLU.py: {ILL}"),
        ([("incorrect", None, "output 0 differs"), ("error", "bad_problem", HUNG)], None),
        ([("compile_error", None, "SyntaxError")], None),
    ],
)  # fmt: skip
def test_the_summary_names_a_reference_the_harness_could_not_use(tmp_path, evals, fault):
    """A resumed finished run only prints its summary again: the harness's verdicts on the
    reference (raises, hangs, ill-conditioned) become the one line; a run where a kernel
    was compared with the reference, or failed on its own, gets none."""
    home, run_id = tmp_path / "home", "20261205-090000-dddddd"
    harness_run(home, run_id, evals)
    env = {"KWRIGHT_HOME": str(home)}
    proc = kwright("run", "--resume", run_id, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    line = f"{RELU}: no kernel could be judged because of the reference: {fault}"
    found = [x for x in proc.stdout.splitlines() if "because of the reference" in x]
    assert found == ([line] if fault else [])
    data = json.loads(kwright("run", "--resume", run_id, "--json", env=env, timeout=120).stdout)
    assert data["problems"][0]["reference_fault"] == fault

"""Nothing is cut when piped (issue 29, point 3): through the real CLI with stdout and
stderr on pipes, tables keep full ids and paths on one line however narrow COLUMNS says
the terminal is, and `kwright results JOB > best.py` writes exactly the kernel's source."""

from __future__ import annotations

import json

import pytest

from agents.config import AgentConfig
from agents.rundir import BestInfo
from kernelbench.problems.registry import resolve_problem
from tests.conftest import kwright
from worker.config import Settings
from worker.fleet.jobs import JobOutcome
from worker.fleet.store_open import open_store
from worker.fleet.submit import make_jobs

RELU = "level1/2_ReLU"
LONG_STEM = "99_A_problem_whose_name_alone_is_far_longer_than_an_eighty_column_terminal_line"
# A kernel file with what a cut or re-wrapped copy would lose: a line far past 80
# columns, trailing spaces, a tab, non-ASCII text and no blank last line.
SOURCE = (
    "import torch\n"
    "# " + "x" * 30 + " é ✓\n"
    "def launch(a, b):\n"
    "\treturn torch.empty((a.shape[0], b.shape[1]), device=a.device, dtype=torch.float32)"
    + "  # "
    + "y" * 200
    + "   \n"
    "class ModelNew(torch.nn.Module):\n"
    "    pass"
)


@pytest.fixture
def env(tmp_path):
    return {
        "KWRIGHT_HOME": str(tmp_path / "home"),
        "KWRIGHT_BROKER_URL": "",
        "KWRIGHT_STORE_URL": "",
        "COLUMNS": "40",  # rich would wrap at this width; piped output must not
    }


@pytest.fixture
def finished_job(tmp_path, env):
    """A finished job in the embedded store: a long problem id, a long run directory, and
    SOURCE as its best kernel."""
    problem_file = tmp_path / "level1" / f"{LONG_STEM}.py"
    problem_file.parent.mkdir()
    problem_file.write_text(resolve_problem(RELU).source())
    problem = resolve_problem(str(problem_file))
    store = open_store(Settings(home=tmp_path / "home", broker_url=None))
    (job,) = make_jobs([problem], AgentConfig(), "cpu")
    store.add([job])
    claim = store.claim(job.id, "w:1", 60.0, 3)
    run_dir = tmp_path / ("a-run-directory-with-a-long-name-" + "z" * 60) / job.id
    best = BestInfo(
        attempt=2, round=2, status="correct", correct=True, speedup=None, candidate_path="c.py"
    )
    outcome = JobOutcome(
        status="done", best=best, best_source=SOURCE, attempts=2, rounds_run=2, run_dir=str(run_dir)
    )
    assert store.finish(job.id, claim.delivery, outcome)
    store.close()
    return job, problem, run_dir


def test_results_redirected_writes_exactly_the_kernel_source(finished_job, env):
    job, _, run_dir = finished_job
    proc = kwright("results", job.id, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SOURCE  # byte for byte: nothing cut, wrapped, framed or added
    assert "correct" in proc.stderr and job.id in proc.stderr  # the verdict, on stderr
    assert str(run_dir) in proc.stderr.replace("\n", "")
    assert f"run directory: {run_dir}" in proc.stderr.splitlines()


def test_results_with_out_writes_the_file_and_prints_the_panel(finished_job, env, tmp_path):
    job, problem, _ = finished_job
    out = tmp_path / "best.py"
    proc = kwright("results", job.id, "--out", str(out), env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == SOURCE
    assert "correct" in proc.stdout
    assert any(problem.id in line for line in proc.stdout.splitlines())  # one line, uncut


def test_status_table_keeps_full_ids_when_piped(finished_job, env):
    job, problem, _ = finished_job
    proc = kwright("status", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if job.id in line]
    assert len(rows) == 1 and problem.id in rows[0], proc.stdout  # id and problem: one row
    assert "…" not in proc.stdout
    panel = kwright("status", job.id, env=env, timeout=120)
    assert any(problem.id in line for line in panel.stdout.splitlines()), panel.stdout


def test_problems_table_rows_stay_whole_when_piped(env):
    listed = kwright("problems", "--json", env=env, timeout=120)
    problems = json.loads(listed.stdout)
    table = kwright("problems", env=env, timeout=120)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    for p in problems:
        sizes = ", ".join(f"{k}={v}" for k, v in p["sizes"].items())
        assert any(f"│ {p['id']} " in ln and sizes in ln for ln in lines), p["id"]

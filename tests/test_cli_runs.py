"""`kwright runs` (issue 29, point 5): the past runs under $KWRIGHT_HOME/runs, newest
first, with id, date, problems, agent, model, status and best; `--json`; through the
real CLI on pipes (nothing cut however narrow COLUMNS is)."""

from __future__ import annotations

import json

import pytest

from agents.config import AgentConfig, LLMSettings
from agents.rundir import BestInfo, ProblemResult, RunDir, RunInfo
from tests.conftest import kwright

RELU, SOFTMAX, GELU, LN = "level1/2_ReLU", "level1/4_Softmax", "level1/6_GELU", "level1/5_LayerNorm"
MODEL = "a-vendor/a-model-name-long-enough-to-be-cut-in-a-narrow-column-2026-12-01"


def best(speedup: float | None, correct: bool = True) -> BestInfo:
    status = "correct" if correct else "incorrect"
    return BestInfo(
        attempt=1, round=1, status=status, correct=correct, speedup=speedup, candidate_path="c.py"
    )


def save(home, run_id: str, created: str, problems: list[str], **kw) -> None:
    info = RunInfo(run_id=run_id, created_at=created, problems=problems, **kw)
    RunDir(home, run_id).save_info(info)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    llm = AgentConfig(agent="llm", llm=LLMSettings(model=MODEL))
    save(
        home,
        "20261201-090000-aaaaaa",
        "2026-12-01T09:00:00+00:00",
        [RELU],
        config=AgentConfig(),
        status="done",
        results={RELU: ProblemResult(problem_id=RELU, best=best(None))},
    )
    save(
        home,
        "20261203-090000-cccccc",
        "2026-12-03T09:00:00+00:00",
        [RELU, SOFTMAX, GELU, LN],
        config=llm,
        status="interrupted",
        results={
            RELU: ProblemResult(problem_id=RELU, best=best(1.5)),
            SOFTMAX: ProblemResult(problem_id=SOFTMAX, best=best(2.25)),
            GELU: ProblemResult(problem_id=GELU, best=None),
        },
    )
    save(
        home,
        "j-0123456789abcdef",  # a fleet job's run directory
        "2026-12-02T09:00:00+00:00",
        [SOFTMAX],
        config=llm,
        status="failed",
        results={SOFTMAX: ProblemResult(problem_id=SOFTMAX, status="failed", best=None)},
    )
    (home / "runs" / "never-started").mkdir()  # no run.json: not a run
    broken = home / "runs" / "broken-run"
    broken.mkdir()
    (broken / "run.json").write_text('{"run_id": "broken-run", "config": {}, "status": "odd"}')
    return home


def env_for(home) -> dict[str, str]:
    return {"KWRIGHT_HOME": str(home), "COLUMNS": "40"}


def test_runs_lists_every_run_newest_first_uncut(home):
    proc = kwright("runs", env=env_for(home), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    ids = ["20261203-090000-cccccc", "j-0123456789abcdef", "20261201-090000-aaaaaa"]
    rows = [next(i for i, line in enumerate(lines) if run_id in line) for run_id in ids]
    assert rows == sorted(rows), proc.stdout  # newest first
    newest, job, oldest = (lines[i] for i in rows)
    assert MODEL in newest and "llm" in newest and "interrupted" in newest
    assert f"{RELU}, {SOFTMAX}, {GELU} and 1 more" in newest
    assert "2/4 correct, best 2.25x" in newest
    assert "failed" in job and SOFTMAX in job
    assert "baseline" in oldest and "correct not timed" in oldest and "done" in oldest
    assert "never-started" not in proc.stdout and "broken-run" not in proc.stdout
    (warning,) = proc.stderr.splitlines()
    assert warning.startswith("kwright: warning: ") and "broken-run" in warning


def test_runs_json_and_limit(home):
    proc = kwright("runs", "--json", env=env_for(home), timeout=120)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout)
    assert [r["run_id"] for r in runs] == [
        "20261203-090000-cccccc",
        "j-0123456789abcdef",
        "20261201-090000-aaaaaa",
    ]
    newest = runs[0]
    assert newest["problems"] == [RELU, SOFTMAX, GELU, LN]
    assert newest["agent"] == "llm" and newest["model"] == MODEL
    assert newest["status"] == "interrupted" and newest["summary"] == "2/4 correct, best 2.25x"
    assert newest["best"][SOFTMAX]["speedup"] == 2.25 and newest["best"][LN] is None
    assert newest["run_dir"] == str(home / "runs" / "20261203-090000-cccccc")
    assert runs[2]["model"] is None and runs[2]["best"][RELU]["status"] == "correct"
    limited = kwright("runs", "--limit", "1", "--json", env=env_for(home), timeout=120)
    assert [r["run_id"] for r in json.loads(limited.stdout)] == ["20261203-090000-cccccc"]


def test_runs_in_an_empty_home(tmp_path):
    proc = kwright("runs", env=env_for(tmp_path / "nothing"), timeout=120)
    assert proc.returncode == 0 and proc.stdout == ""
    assert "no runs in" in proc.stderr
    as_json = kwright("runs", "--json", env=env_for(tmp_path / "nothing"), timeout=120)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []

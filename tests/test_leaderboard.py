"""The leaderboard aggregates run directories into one row per agent/model/GPU/device."""

from __future__ import annotations

import csv
import io
import json
import math

from agents.config import AgentConfig, LLMSettings
from agents.llm import Usage
from agents.rundir import AttemptRecord, BestInfo, ProblemResult, RunDir, RunInfo
from tests.conftest import kwright
from worker.leaderboard import build_rows, load_runs, render_csv, render_html, render_markdown


def _result(
    pid: str, correct: bool, speedup: float | None, first_round: int, cost: float | None
) -> ProblemResult:
    attempts = [
        AttemptRecord(attempt=i, round=i, status="incorrect") for i in range(1, first_round)
    ]
    if correct:
        attempts.append(
            AttemptRecord(
                attempt=first_round,
                round=first_round,
                status="correct",
                correct=True,
                speedup=speedup,
            )
        )
    best = (
        BestInfo(
            attempt=first_round,
            round=first_round,
            status="correct",
            correct=True,
            speedup=speedup,
            candidate_path="x.py",
        )
        if correct
        else None
    )
    return ProblemResult(
        problem_id=pid,
        best=best,
        attempts=attempts,
        duration_s=10.0,
        usage=Usage(calls=2, prompt_tokens=1000, completion_tokens=500, cost_usd=cost),
    )


def _save(home, run_id, agent, model, device, results):
    cfg = AgentConfig(agent=agent, llm=LLMSettings(model=model))
    info = RunInfo(
        run_id=run_id,
        config=cfg,
        device=device,
        problems=[r.problem_id for r in results],
        results={r.problem_id: r for r in results},
        status="done",
    )
    RunDir(home, run_id).save_info(info)


def test_rows_rank_and_aggregate(tmp_path):
    _save(
        tmp_path,
        "r1",
        "llm",
        "o3",
        "cuda",
        [
            _result("level1/a", True, 2.0, 1, 0.10),
            _result("level1/b", True, 0.5, 3, 0.20),
            _result("level1/c", False, None, 0, 0.30),
        ],
    )
    _save(tmp_path, "r2", "baseline", "ignored", "cpu", [_result("level1/a", True, None, 1, 0.0)])
    rows = build_rows(load_runs(tmp_path / "runs"))
    assert [(r.agent, r.model, r.device) for r in rows] == [
        ("baseline", "-", "cpu"),
        ("llm", "o3", "cuda"),
    ]
    base, llm = rows
    assert base.correct == 1.0 and base.fast_1 is None and base.speedup_geomean is None
    assert llm.problems == 3 and math.isclose(llm.correct, 2 / 3)
    assert math.isclose(llm.fast_1, 1 / 3)  # only a is faster than PyTorch
    assert math.isclose(llm.speedup_geomean, 1.0)  # sqrt(2.0 * 0.5)
    assert llm.first_correct_round == 2.0 and math.isclose(llm.cost_per_problem, 0.2)
    md = render_markdown(rows)
    assert "| llm | o3 | H100 | cuda | 3 | 66.7% | 33.3% | 1.00x | 2.0 |" in md
    parsed = list(csv.DictReader(io.StringIO(render_csv(rows))))
    assert parsed[1]["model"] == "o3" and float(parsed[1]["correct"]) == llm.correct
    html = render_html(rows)
    assert "<table>" in html and "data:image/png;base64," in html


def test_latest_result_per_problem_counts_and_unknown_cost(tmp_path):
    _save(tmp_path, "old", "llm", "m", "cpu", [_result("level1/a", False, None, 0, 0.1)])
    _save(tmp_path, "new", "llm", "m", "cpu", [_result("level1/a", True, None, 2, None)])
    (row,) = build_rows(load_runs(tmp_path / "runs"))
    assert row.problems == 1 and row.correct == 1.0 and row.runs == 2
    assert row.cost_per_problem is None  # unknown, never 0


def test_cli_formats(tmp_path):
    _save(tmp_path, "r1", "llm", "o3", "cuda", [_result("level1/a", True, 1.5, 1, 0.1)])
    env = {"KWRIGHT_HOME": str(tmp_path)}
    out = kwright("leaderboard", "--json", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)[0]["speedup_geomean"] == 1.5
    target = tmp_path / "board.html"
    written = kwright("leaderboard", "--format", "html", "--out", str(target), env=env)
    assert written.returncode == 0 and target.read_text().startswith("<!doctype html>")
    assert kwright("leaderboard", "--format", "pdf", env=env).returncode == 2

"""The leaderboard ranks recorded runs over a named problem set with KernelBench's metrics.

The runs are fixtures (tests/fixtures/leaderboard/make_runs.py lists what each row did);
every expected figure below is worked out by hand from that table.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from pathlib import Path
from typing import get_args

import pytest

from agents.status import Unevaluated
from kernelbench.protocol.result import Status
from tests.conftest import kwright
from worker.cli.leaderboard_cmd import board_format
from worker.leaderboard.build import make_board
from worker.leaderboard.charts import fast_p_curves, heatmap, speedup_vs_cost
from worker.leaderboard.collect import load_runs
from worker.leaderboard.metrics import geomean
from worker.leaderboard.records import (
    BASELINE_NAMES,
    STATUS_ORDER,
    Baseline,
    BoardFormat,
    furthest_status,
)
from worker.leaderboard.render import (
    RENDERERS,
    render_csv,
    render_html,
    render_json,
    render_markdown,
)
from worker.leaderboard.table import headers, table

RUNS = Path(__file__).parent / "fixtures" / "leaderboard" / "runs"
A = ("llm", "o3", "H100", "cuda")
B = ("llm", "gpt-4o", "H100", "cuda")
C = ("baseline", "-", "H100", "cpu")


def _rows(board):
    return {(r.key.agent, r.key.model, r.key.gpu, r.key.device): r for r in board.rows}


def _fast(row, p):
    rate = row.fast_p[p]
    return None if rate is None else (rate.n, rate.N)


def test_builtin_level_1_counts_unattempted_and_unfinished_problems_as_failed():
    board, _ = make_board(RUNS, suite="builtin", level=1)
    assert board.problem_set.how == "suite" and len(board.problem_set.ids) == 31
    assert "my_kernel" not in board.problem_set.ids  # the ad-hoc file is not pooled in
    rows = _rows(board)
    a, b, c = rows[A], rows[B], rows[C]
    # C solved 5 (CPU, untimed), A 4, B 3: rank by correct count on the same 31 problems.
    assert [(r.key.agent, r.key.model, r.rank) for r in board.rows] == [
        ("baseline", "-", 1),
        ("llm", "o3", 2),
        ("llm", "gpt-4o", 3),
    ]
    assert (a.correct.n, a.correct.N, a.compiled.n) == (4, 31, 5)  # level1/6 never compiled
    assert (a.not_attempted, a.unfinished) == (24, 1)  # level1/7 listed by a2, never finished
    # A's speedups 2.0, 0.5, 1.2, 3.0: fast_p counts speedup > p over all 31.
    assert [_fast(a, f"fast_{p}") for p in ("0", "0.5", "0.8", "1", "1.5", "2")] == [
        (4, 31), (3, 31), (3, 31), (3, 31), (2, 31), (1, 31),
    ]  # fmt: skip
    assert math.isclose(a.geomean.value, 3.6**0.25) and a.geomean.n == 4
    assert a.geomean.low is None  # n < 5: no bootstrap interval
    assert a.mean_rounds_to_first_correct == 1.75  # (1 + 3 + 2 + 1) / 4
    assert math.isclose(a.mean_wall_s_to_first_correct, (3.5 + 10.5 + 7 + 3.5) / 4)
    assert a.tokens_per_solved == 6 * 1500 / 4 and math.isclose(a.cost_per_solved, 0.6 / 4)
    # B: 1.0x is not faster than 1 (strictly greater), one unknown price hides cost.
    assert _fast(b, "fast_1") == (1, 31) and _fast(b, "fast_0.8") == (3, 31)
    assert math.isclose(b.geomean.value, 0.99 ** (1 / 3))
    assert b.cost_per_solved is None and b.tokens_per_solved == 4 * 1500 / 3
    # C: untimed, offline: no fast_p, geomean, tokens or cost (omitted, not zero).
    assert (c.correct.n, c.compiled.n) == (5, 6)
    assert all(v is None for v in c.fast_p.values()) and c.geomean is None
    assert c.tokens_per_solved is None and c.cost_per_solved is None
    # Static profiles: a problem counts its lowest-occupancy kernel; level1/6 has none.
    assert c.mean_static_occupancy_pct == (50 + 100 + 75 + 62.5) / 4
    assert (c.spilling.n, c.spilling.N) == (1, 4) and a.spilling is None
    assert board.notes[0].startswith("Rows on device cpu")


def test_without_a_suite_the_set_is_what_every_row_attempted():
    board, _ = make_board(RUNS)
    assert board.problem_set.how == "intersection"
    assert board.problem_set.ids == [
        "level1/1_Square_matmul",
        "level1/2_ReLU",
        "level1/3_Sum_reduction_over_dim",
        "level1/4_Softmax",
    ]
    rows = _rows(board)
    # All three solve 3 of 4; A has two kernels faster than eager, B one, C is untimed.
    assert [r.correct.n for r in board.rows] == [3, 3, 3]
    assert [r.rank for r in board.rows] == [1, 2, 3]
    assert [r.key.model for r in board.rows] == ["o3", "gpt-4o", "-"]
    assert _fast(rows[A], "fast_1") == (2, 4) and math.isclose(
        rows[A].geomean.value, 1.2 ** (1 / 3)
    )


def test_per_level_tables_and_the_problem_matrix():
    board, _ = make_board(RUNS, suite="builtin")
    assert len(board.problem_set.ids) == 48
    assert [lv.level for lv in board.levels] == [1, 2, 3]
    level2 = {r.key.model: r for r in board.levels[1].rows}
    assert (level2["o3"].correct.n, level2["o3"].correct.N) == (1, 11)
    assert level2["-"].correct.n == 0 and level2["-"].compiled.n == 0  # no candidate
    cells = {(c.problem_id, board.rows[c.row].key.model): c for c in board.cells}
    assert len(board.cells) == 48 * 3
    best = cells[("level1/2_ReLU", "o3")]
    assert (best.status, best.speedup, best.rounds) == ("correct", 0.5, 3)
    assert best.kernel.endswith("a1/level1/2_ReLU/003/candidate.py")
    assert Path(best.kernel).read_text().startswith("# a1 level1/2_ReLU attempt 3: correct")
    assert cells[("level1/7_RMSNorm", "o3")].status == "unfinished"
    assert cells[("level1/6_GELU", "o3")].status == "compile_error"
    assert cells[("level1/5_LayerNorm", "gpt-4o")].status == "not_attempted"
    assert cells[("level1/3_Sum_reduction_over_dim", "o3")].status == "incorrect"  # a1 counts


def test_compile_baseline_reads_the_best_kernels_eval():
    board, _ = make_board(RUNS, suite="builtin", level=1, baseline="compile")
    a = _rows(board)[A]
    assert math.isclose(a.geomean.value, 3.6**0.25 / 2)  # the fixtures record speedup / 2
    assert _fast(a, "fast_1") == (1, 31)  # only 3.0 / 2 = 1.5 stays above 1
    assert "torch.compile" in headers(board)[14]


def test_bootstrap_interval_brackets_the_geomean_and_is_reproducible():
    values = [0.5, 1.0, 1.5, 2.0, 4.0, 1.2]
    g = geomean(values)
    assert g is not None and g.n == 6
    assert math.isclose(g.value, math.prod(values) ** (1 / 6))
    assert g.low < g.value < g.high and min(values) <= g.low and g.high <= max(values)
    assert geomean(values) == g  # fixed seed
    assert geomean(values[:4]).low is None and geomean([]) is None


def test_formats_carry_the_same_columns_and_cells_without_float_noise():
    board, _ = make_board(RUNS, suite="builtin", level=1)
    expected = [headers(board), *table(board)]
    parsed_csv = list(csv.reader(io.StringIO(render_csv(board))))
    assert parsed_csv == expected
    md_rows = [
        [c.strip() for c in line.strip("|").split(" | ")]
        for line in render_markdown(board).splitlines()
        if line.startswith("| ")
    ][: len(expected)]
    assert md_rows == expected
    data = json.loads(render_json(board))
    assert data["schema_version"] == 1 and data["table"]["rows"] == expected[1:]
    assert data["rows"][1]["fast_p"]["fast_1"] == {"n": 3, "N": 31}
    html = render_html(board)
    assert all(f"<td>{cell}</td>" in html for cell in expected[2])
    numbers = re.findall(r"\d+\.\d+", render_csv(board))
    assert numbers and all(len(n.split(".")[1]) <= 4 for n in numbers)
    assert "4/31" in expected[2][7] and "12.9%" in expected[2][7]  # A: correct 4/31


def test_cli_prints_writes_html_and_rejects_bad_input(tmp_path):
    args = ("leaderboard", "--runs-dir", str(RUNS), "--suite", "builtin", "--level", "1")
    out = kwright(*args, "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].startswith("1,baseline,-,H100,cpu,31,19.4% (6/31)")
    target = tmp_path / "board.html"
    written = kwright(*args, "--format", "html", "--out", str(target))
    assert written.returncode == 0 and "3 rows over 31 problems" in written.stderr
    html = target.read_text()
    # fast_p curves, the heatmap, and speedup vs cost (A has both a geomean and a cost).
    assert html.startswith("<!doctype html>") and html.count('<img class="chart"') == 3
    assert 'href="file://' in html
    bad = kwright("leaderboard", "--suite", str(tmp_path), env={"KWRIGHT_HOME": str(tmp_path)})
    assert bad.returncode == 2 and "not a KernelBench-shaped folder" in bad.stderr
    assert kwright("leaderboard", "--format", "pdf").returncode == 2


@pytest.mark.parametrize("fmt", list(BoardFormat))
def test_an_empty_home_gives_an_empty_board_in_every_format(tmp_path, fmt):
    board, _ = make_board(tmp_path / "runs")
    assert board.rows == [] and board.problem_set.ids == []
    assert RENDERERS[fmt](board)  # every format the CLI offers has a renderer


def test_the_format_comes_from_json_then_format_then_the_out_suffix():
    assert set(RENDERERS) == set(BoardFormat)
    assert board_format(None, Path("b.csv"), as_json=False) is BoardFormat.CSV
    assert board_format(None, Path("b.pdf"), as_json=False) is BoardFormat.MD
    assert board_format(None, None, as_json=False) is BoardFormat.MD
    assert board_format(BoardFormat.HTML, Path("b.csv"), as_json=False) is BoardFormat.HTML
    assert board_format(BoardFormat.HTML, Path("b.csv"), as_json=True) is BoardFormat.JSON


def test_the_baseline_choices_are_the_names_the_board_prints():
    assert set(BASELINE_NAMES) == set(get_args(Baseline))
    for choice in get_args(Baseline):
        board, _ = make_board(RUNS, suite="builtin", level=1, baseline=choice)
        assert board.baseline_name == BASELINE_NAMES[choice]


def test_a_problem_without_a_correct_kernel_shows_its_furthest_attempt():
    every = [*Status, *Unevaluated]
    assert set(STATUS_ORDER) == set(every)  # a new status must be ranked
    assert furthest_status(every) is Status.CORRECT
    assert furthest_status([Status.ERROR, Unevaluated.NO_CANDIDATE]) is Unevaluated.NO_CANDIDATE
    assert furthest_status([]) is Unevaluated.NO_CANDIDATE


def test_a_run_with_a_status_no_enum_names_is_skipped_with_a_warning(tmp_path, caplog):
    good = next(RUNS.glob("*/run.json"))
    data = json.loads(good.read_text())
    result = next(r for r in data["results"].values() if r.get("attempts"))
    result["attempts"][0]["status"] = "splendid"
    bad = tmp_path / "runs" / "r-bad" / "run.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps(data))
    (tmp_path / "runs" / "r-good").mkdir()
    (tmp_path / "runs" / "r-good" / "run.json").write_text(good.read_text())
    with caplog.at_level(logging.WARNING):
        runs = load_runs(tmp_path / "runs")
    assert [r.run_id for r in runs] == [json.loads(good.read_text())["run_id"]]
    assert f"skipping {bad}" in caplog.text and "splendid" in caplog.text


def test_a_chart_with_nothing_to_show_says_why():
    board, _ = make_board(RUNS, suite="builtin", level=2)  # only A (1.6x) and C (no kernel)
    chart = speedup_vs_cost(board)
    assert chart.png is not None  # A: cost and geomean known
    board.rows = [r for r in board.rows if r.key.device == "cpu"]
    board.cells = [c.model_copy(update={"row": 0}) for c in board.cells if c.row == 1]
    assert speedup_vs_cost(board).png is None
    assert "no row has a correct, timed kernel" in fast_p_curves(board).why_absent
    assert heatmap(board).png is not None  # statuses still show


def test_the_leaderboards_reading_of_run_json_matches_what_the_agents_write():
    from agents.config import AgentConfig, LLMSettings
    from agents.rundir import AttemptRecord, BestInfo, ProblemResult, RunInfo
    from agents.usage import Usage
    from worker.leaderboard.runfile import RunRecord

    attempt = AttemptRecord(attempt=2, round=2, status="correct", correct=True, speedup=1.5,
                            coder_s=1.0, eval_s=2.0, judge_s=0.25)  # fmt: skip
    result = ProblemResult(
        problem_id="level1/2_ReLU",
        status="failed",
        best=BestInfo(
            attempt=2,
            round=2,
            status="correct",
            correct=True,
            speedup=1.5,
            runtime_ms=0.5,
            candidate_path="x/candidate.py",
        ),
        attempts=[attempt],
        rounds_run=2,
        usage=Usage(prompt_tokens=10, completion_tokens=5, cost_usd=None),
    )
    info = RunInfo(run_id="r", updated_at="t", device="cuda", problems=["level1/2_ReLU"],
                   config=AgentConfig(agent="llm", llm=LLMSettings(model="m"), target_gpu="B200"),
                   results={"level1/2_ReLU": result})  # fmt: skip
    record = RunRecord.model_validate_json(info.model_dump_json())
    read = record.results["level1/2_ReLU"]
    assert (record.config.agent, record.config.llm.model, record.config.target_gpu) == (
        "llm", "m", "B200",
    )  # fmt: skip
    assert (record.device, record.updated_at, record.created_at) == ("cuda", "t", info.created_at)
    assert read.status == "failed" and read.rounds_run == 2
    assert read.best.model_dump() == {
        k: v for k, v in result.best.model_dump().items() if k in type(read.best).model_fields
    }
    assert read.attempts[0].model_dump() == {
        k: v for k, v in attempt.model_dump().items() if k in type(read.attempts[0]).model_fields
    }
    assert read.usage.total_tokens == 15 and read.usage.cost_usd is None

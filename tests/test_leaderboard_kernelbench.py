"""KernelBench's result files go in and out of the leaderboard.

In: a KernelBench run folder (tests/fixtures/leaderboard/kernelbench: eval_results.json
as its eval_from_generations.py writes it, plus a baseline timing file) becomes one row.
Out: the board's rows as KernelBench run folders whose figures match the board's.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tests.conftest import kwright
from worker.leaderboard.build import make_board
from worker.leaderboard.kernelbench_io import KernelBenchFormatError, export, import_run

FIXTURES = Path(__file__).parent / "fixtures" / "leaderboard"
RUNS = FIXTURES / "runs"
KB = FIXTURES / "kernelbench"
KB_RUN = KB / "runs" / "deepseek_level1"
TIMING = KB / "baseline_time_torch.json"


def kernelbench_policy_runs(tmp_path: Path) -> Path:
    """The fixture runs as if judged under the kernelbench policy (KernelBench's rule, the
    one its own runs were judged under: only then are they ranked beside them)."""
    runs = tmp_path / "runs"
    shutil.copytree(RUNS, runs)
    for path in runs.glob("*/run.json"):
        data = json.loads(path.read_text())
        data["config"]["policy"] = "kernelbench"
        path.write_text(json.dumps(data))
    return runs


def test_a_kernelbench_run_becomes_a_row_beside_kernelwrights(tmp_path):
    board, _ = make_board(
        kernelbench_policy_runs(tmp_path),
        suite="builtin",
        level=1,
        policy="kernelbench",
        kernelbench_runs=[KB_RUN],
        kernelbench_timing=TIMING,
    )
    assert board.policy == "kernelbench" and len(board.rows) == 4
    assert {r.key.policy for r in board.rows} == {"kernelbench"}
    kb = next(r for r in board.rows if r.key.agent == "kernelbench")
    assert (kb.key.model, kb.key.gpu, kb.key.device) == (
        "deepseek_level1",
        "NVIDIA H100 80GB HBM3",  # named by the timing file
        "cuda",
    )
    # 1: 2.5 / 1.0 = 2.5x; 2: compiled, wrong; 3: did not compile; 4: its own ref 2.0 / 4.0.
    assert (kb.compiled.n, kb.correct.n, kb.N, kb.not_attempted) == (3, 2, 31, 27)
    assert (
        kb.fast_p["fast_1"].n == 1 and kb.fast_p["fast_0.5"].n == 1 and kb.fast_p["fast_0"].n == 2
    )
    assert math.isclose(kb.geomean.value, math.sqrt(2.5 * 0.5))
    assert kb.tokens_per_solved is None and kb.cost_per_solved is None
    cell = next(
        c for c in board.cells
        if c.problem_id == "level1/1_Square_matmul" and board.rows[c.row].key.agent == "kernelbench"
    )  # fmt: skip
    assert cell.speedup == 2.5 and cell.kernel.endswith("level_1_problem_1_sample_0_kernel.py")


def test_without_a_suite_or_timing_file_ids_come_from_the_numbers():
    key, entries = import_run(KB_RUN, 1, gpu="H100")
    assert key.gpu == "H100" and sorted(entries) == ["level1/1", "level1/2", "level1/3", "level1/4"]
    assert entries["level1/1"].speedup is None  # no reference time: untimed, never 0
    assert entries["level1/4"].speedup == 0.5  # the sample carries its own ref_runtime


def test_export_writes_kernelbench_run_folders_with_the_boards_figures(tmp_path):
    board, entries = make_board(RUNS, suite="builtin", level=1)
    folders = export(board, entries, tmp_path)
    o3 = next(f for f in folders if "_o3_" in f.name)
    assert o3.name == "llm_o3_H100_cuda_level1"
    results = json.loads((o3 / "eval_results.json").read_text())
    assert len(results) == 31 and results["2"][0]["correctness"] is True
    assert results["6"][0] == {
        "sample_id": 0,
        "compiled": False,
        "correctness": False,
        "metadata": {
            "kernelwright_status": "compile_error",
            "problem_id": "level1/6_GELU",
            "policy": "strict",
            "precision": "fp32",
        },
        "runtime": -1.0,
        "runtime_stats": {},
    }
    analysis = json.loads((o3 / "analysis.json").read_text())
    assert (analysis["policy"], analysis["precision"]) == ("strict", "fp32")
    assert (analysis["total_count"], analysis["correct_count"], analysis["compiled_count"]) == (
        31, 4, 5,
    )  # fmt: skip
    assert analysis["fast_p"]["1.0"] == 3 / 31 and math.isclose(
        analysis["geo_mean_speedup"], 3.6**0.25
    )
    assert (o3 / "level_1_problem_2_sample_0_kernel.py").read_text().startswith("# a1 level1/2")
    # Round trip: the exported folder, read back with its own timing file, ranks the same.
    key, back = import_run(o3, 1, timing_file=o3 / "baseline_time.json")
    assert key.gpu == "H100"
    timed = sorted(e.speedup for e in back.values() if e.speedup is not None)
    assert timed == [0.5, 1.2, 2.0, 3.0]


def test_cli_imports_exports_and_names_a_broken_file(tmp_path):
    runs = str(kernelbench_policy_runs(tmp_path))
    base = ("leaderboard", "--runs-dir", runs, "--suite", "builtin", "--level", "1",
            "--policy", "kernelbench")  # fmt: skip
    out = kwright(*base, "--kernelbench", str(KB_RUN), "--kernelbench-timing", str(TIMING),
                  "--json", "--export-kernelbench", str(tmp_path / "kb"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    agents = [r["key"]["agent"] for r in json.loads(out.stdout)["rows"]]
    assert sorted(agents) == ["baseline", "kernelbench", "llm", "llm"]
    exported = sorted((tmp_path / "kb").glob("*/analysis.json"))
    assert len(exported) == 4
    assert {json.loads(a.read_text())["policy"] for a in exported} == {"kernelbench"}
    strict = kwright(*base[:-2], "--kernelbench", str(KB_RUN))  # the default board: strict
    assert strict.returncode == 2 and "onto that board (--policy kernelbench)" in strict.stderr
    bad = kwright(*base, "--kernelbench", str(KB / "broken_run"))
    assert bad.returncode == 2 and "broken_run/eval_results.json: not JSON" in bad.stderr


def test_an_import_needs_a_level_and_a_timing_file_must_hold_it():
    with pytest.raises(KernelBenchFormatError, match="needs --level"):
        make_board(RUNS, kernelbench_runs=[KB_RUN])
    with pytest.raises(KernelBenchFormatError, match="no 'level2' table"):
        import_run(KB_RUN, 2, timing_file=TIMING)

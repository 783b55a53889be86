"""make_board: a board from the runs under a directory and any imported KernelBench runs."""

from __future__ import annotations

from pathlib import Path

from kernelbench.problems.registry import list_problems
from kernelbench.protocol.policy import Policy
from worker.leaderboard.board import Board, build_board, choose_problems
from worker.leaderboard.collect import Entries, collect_entries, load_runs
from worker.leaderboard.kernelbench_io import KernelBenchFormatError, import_run
from worker.leaderboard.records import Baseline


def make_board(
    runs_dir: Path,
    *,
    suite: str | None = None,
    level: int | None = None,
    baseline: Baseline = "eager",
    policy: Policy = "strict",
    kernelbench_runs: list[Path] | None = None,
    kernelbench_timing: Path | None = None,
    kernelbench_gpu: str | None = None,
) -> tuple[Board, Entries]:
    """A board from the runs under runs_dir and any imported KernelBench runs.

    `policy`: only the rows judged under it are ranked (the others are named in the
    notes). `suite`: "builtin" or a KernelBench-shaped folder names the problem set (with
    `level`); without it the set is what every row attempted. Raises ProblemError for a
    bad suite and KernelBenchFormatError for an unreadable KernelBench file."""
    suite_ids = None
    suite_name = ""
    if suite is not None:
        problems = list_problems(None if suite == "builtin" else suite, level)
        suite_ids = [p.id for p in problems]
        suite_name = "builtin suite" if suite == "builtin" else f"suite {suite}"
    found = collect_entries(load_runs(runs_dir), runs_dir, baseline)
    entries = {key: row for key, row in found.items() if key.policy == policy}
    apart = [key for key in found if key.policy != policy]
    for run in kernelbench_runs or []:
        if level is None:
            raise KernelBenchFormatError(f"{run}: importing a KernelBench run needs --level")
        if policy != "kernelbench":
            raise KernelBenchFormatError(
                f"{run}: a KernelBench run was judged under the kernelbench policy; "
                "import it onto that board (--policy kernelbench)"
            )
        key, rows = import_run(
            run, level, timing_file=kernelbench_timing, gpu=kernelbench_gpu, suite_ids=suite_ids
        )
        entries.setdefault(key, {}).update(rows)
    problem_set = choose_problems(entries, suite_ids, suite_name, level)
    return build_board(entries, problem_set, baseline, policy, apart), entries

"""`kwright leaderboard`: rank agents, models and GPUs over a named problem set."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kernelbench.problems.problem import ProblemError
from kernelbench.protocol.policy import Policy
from worker.cli.common import fail
from worker.config import get_settings
from worker.leaderboard.records import BASELINE_NAMES, Baseline, BoardFormat


def board_format(fmt: BoardFormat | None, out: Path | None, as_json: bool) -> BoardFormat:
    """--json, else --format, else --out's suffix where it names a format, else md."""
    if as_json:
        return BoardFormat.JSON
    suffix = out.suffix.lstrip(".") if out is not None else ""
    return fmt or next((f for f in BoardFormat if f == suffix), BoardFormat.MD)


def leaderboard(
    fmt: Annotated[
        BoardFormat | None,
        typer.Option("--format", help="Default: --out's suffix, else md."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the board here; stdout then gets the ranked table.")
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(help="The problem set: 'builtin' or a KernelBench-shaped folder."),
    ] = None,
    level: Annotated[int | None, typer.Option(min=1, help="Only this level.")] = None,
    baseline: Annotated[
        Baseline, typer.Option(help=f"Speedups against {' or '.join(BASELINE_NAMES.values())}.")
    ] = "eager",
    policy: Annotated[
        Policy,
        typer.Option(help="Rank only the rows judged under this policy (never two together)."),
    ] = "strict",
    runs_dir: Annotated[Path | None, typer.Option(help="Default: $KWRIGHT_HOME/runs.")] = None,
    kernelbench: Annotated[
        list[Path] | None,
        typer.Option(help="A KernelBench run folder (holding eval_results.json); repeatable."),
    ] = None,
    kernelbench_timing: Annotated[
        Path | None, typer.Option(help="KernelBench baseline timing JSON for imported runs.")
    ] = None,
    kernelbench_gpu: Annotated[
        str | None, typer.Option(help="GPU name for imported runs (default: the timing file's).")
    ] = None,
    export_kernelbench: Annotated[
        Path | None, typer.Option(help="Also write KernelBench-shaped run folders here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Rank rows (agent x model x target GPU x device) by KernelBench's metrics."""
    from worker.leaderboard.build import make_board  # noqa: PLC0415 - heavy library, imported where used
    from worker.leaderboard.kernelbench_io import KernelBenchFormatError, export  # noqa: PLC0415 - heavy library, imported where used
    from worker.leaderboard.render import RENDERERS, render_summary  # noqa: PLC0415 - heavy library, imported where used

    if runs_dir is not None and not runs_dir.is_dir():
        fail(f"--runs-dir {runs_dir}: no such directory")
    try:
        board, entries = make_board(
            runs_dir or get_settings().runs_dir,
            suite=suite,
            level=level,
            baseline=baseline,
            policy=policy,
            kernelbench_runs=kernelbench,
            kernelbench_timing=kernelbench_timing,
            kernelbench_gpu=kernelbench_gpu,
        )
    except (ProblemError, KernelBenchFormatError) as exc:
        fail(str(exc))
    text = RENDERERS[board_format(fmt, out, as_json)](board)
    try:
        if export_kernelbench is not None:
            for folder in export(board, entries, export_kernelbench):
                sys.stderr.write(f"kwright: wrote KernelBench run {folder}\n")
        if out is not None:
            out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{exc.filename or out}: cannot write: {exc.strerror}")
    if out is None:
        sys.stdout.write(text)
        return
    if not as_json:
        sys.stdout.write(render_summary(board))
    sys.stderr.write(
        f"kwright: wrote {len(board.rows)} rows over {len(board.problem_set.ids)} problems "
        f"to {out}\n"
    )


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard)

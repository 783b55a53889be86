"""`kwright profile PROBLEM CANDIDATE`: hardware facts about a candidate's kernels.

Runs the candidate once through the harness (one trial, so its Triton launches are
recorded; CUDA C sources are captured), then the static profile for `--arch` (no GPU
needed) and, on a GPU with Nsight Compute, its counters. Exit codes: 0 profiled, 1 could
not profile (the candidate failed before launching kernels, or nothing compiled),
2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult
from profiler.gpus import GPUS, Arch, UnknownGpu, gpu_spec
from profiler.report import ProfileReport
from worker.cli.common import EXIT_NOT_CORRECT, EXIT_OK, JsonFlag, console, fail, print_json
from worker.cli.eval_cmd import is_bad_input, load_inputs, run_harness


def _why_not(result: EvalResult) -> str:
    reason = f": {result.reason}" if result.reason else ""
    return f"could not profile: the candidate is {result.status.value}{reason}"


def render(report: ProfileReport, result: EvalResult, candidate: Path) -> None:
    head = [
        f"[bold]{result.problem_id}[/]  <-  {candidate}",
        f"arch {report.arch}, roofline GPU {report.gpu or '-'}, verdict {result.status.value}, "
        f"profile {report.duration_s or 0:.2f} s" + (" (cached)" if report.cached else ""),
    ]
    console.print(Panel("\n".join(head), title="kwright profile", expand=False))
    console.print(report.summary(4000), markup=False, highlight=False)
    if report.kernels:
        table = Table(show_edge=False)
        for col in (
            "kernel",
            "regs",
            "spill st/ld B",
            "stack B",
            "smem B",
            "occupancy",
            "MMA",
            "LDG widths",
        ):
            table.add_column(col)
        for k in report.kernels:
            sass = k.sass
            table.add_row(
                k.name,
                str(k.registers_per_thread if k.registers_per_thread is not None else "-"),
                f"{k.spill_stores_bytes or 0}/{k.spill_loads_bytes or 0}",
                str(k.stack_bytes or 0),
                str(k.shared_mem_bytes or 0),
                "-"
                if k.occupancy_pct is None
                else f"{k.occupancy_pct:.0f}% ({k.occupancy_limiter})",
                "-" if sass is None else str(sass.tensor_core_mma),
                "-"
                if sass is None
                else ", ".join(f"{w}b x{n}" for w, n in sass.global_loads.items()),
            )
        console.print(table)
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}", highlight=False)


def profile_command(
    problem: Annotated[
        str, typer.Argument(help="Problem id (levelN/<name>) or path to a problem .py.")
    ],
    candidate: Annotated[
        str,
        typer.Argument(help="Candidate .py file, or @solution / @wrong for a built-in problem."),
    ],
    arch: Annotated[
        Arch, typer.Option(help="Target GPU architecture for the static facts.")
    ] = "sm_90",
    gpu: Annotated[
        str | None,
        typer.Option(help=f"Roofline GPU ({', '.join(GPUS)}); default: the arch's usual one."),
    ] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="local | docker | none (default: $KWRIGHT_SANDBOX or local).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds per harness step.")] = 300.0,
    suite: Annotated[
        Path | None, typer.Option(help="Resolve PROBLEM in this KernelBench-shaped folder.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Profile CANDIDATE's kernels: registers, spills, shared memory, SASS mix, occupancy and
    the roofline for --arch (no GPU needed); Nsight Compute counters on a GPU."""
    prob, cand_path, source = load_inputs(problem, candidate, suite)
    if gpu is not None:
        try:
            gpu_spec(gpu)
        except UnknownGpu as exc:
            fail(str(exc))
    options = EvalOptions(
        arch=arch,
        gpu=gpu,
        timeout_s=timeout,
        trials=1,
        extra_shapes=False,
        profile=True,
        profile_incorrect=True,
    )
    result = run_harness(prob, source, options, sandbox)
    report = result.profile
    if is_bad_input(result) or report is None or (not report.kernels and report.errors):
        if as_json:  # like `eval`: the verdict says why there is no profile
            print_json(result)
        if is_bad_input(result):
            fail(result.reason or "bad input", json_error=False)
        why = _why_not(result) if report is None else "; ".join(report.errors)
        fail(why, EXIT_NOT_CORRECT, json_error=False)
    if as_json:
        print_json(report)
    else:
        render(report, result, cand_path)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile_command)

"""`kwright problems`: list the built-in suite or a KernelBench-shaped folder; with `--check`,
run every problem's reference at its CPU check shapes and say which are evaluable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kernelbench.problems.problem import Problem, ProblemError
from kernelbench.problems.registry import list_problems
from kernelbench.protocol.request import EvalOptions
from sandbox.base import SandboxUnavailable
from sandbox.defaults import sandbox_for
from worker.cli.common import EXIT_NOT_CORRECT, JsonFlag, console, err_console, fail, print_json


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _list(found: list[Problem], suite: Path | None) -> None:
    table = Table(title=f"{len(found)} problems" + (f" in {suite}" if suite else " (built-in)"))
    table.add_column("id")
    table.add_column("level", justify="right")
    table.add_column("sizes")
    table.add_column("check sizes")
    for p in found:
        checks = "; ".join(_sizes(c) for c in p.check_sizes or [])
        table.add_row(p.id, str(p.level or ""), _sizes(p.sizes), checks or "(generic rule)")
    console.print(table)


def _check(
    found: list[Problem], sandbox: str | None, timeout: float, jobs: int, as_json: bool
) -> None:
    from kernelbench.harness.problem_check import check_problems  # noqa: PLC0415 - heavy library, imported where used

    try:
        box = sandbox_for(sandbox)
    except SandboxUnavailable as exc:
        fail(str(exc))
    options = EvalOptions(device="cpu", timeout_s=timeout)
    columns = (
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with box, Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("", total=len(found))

        def advance(check: object) -> None:
            bar.update(task, advance=1, description=getattr(check, "id", ""))

        checks = check_problems(found, box, options, jobs, advance)
    bad = [c for c in checks if not c.evaluable]
    if as_json:
        print_json([c.model_dump() for c in checks])
    else:
        table = Table(title=f"{len(checks) - len(bad)}/{len(checks)} problems evaluable on the CPU")
        for column in ("id", "evaluable", "check shapes", "reference s", "why not / dropped"):
            table.add_column(column, overflow="fold")
        for c in checks:
            note = c.reason or "; ".join(c.shapes_dropped)
            table.add_row(
                c.id,
                "yes" if c.evaluable else "[red]no[/red]",
                "\n".join(_sizes(s) for s in c.shapes),
                f"{c.reference_s:.1f}" if c.reference_s is not None else "",
                note,
            )
        console.print(table)
        slowest = max(checks, key=lambda c: c.reference_s or 0.0, default=None)
        if slowest is not None:
            console.print(f"slowest reference: {slowest.id}, {slowest.reference_s:.1f} s")
    if bad:
        raise typer.Exit(EXIT_NOT_CORRECT)


def problems(
    suite: Annotated[
        Path | None, typer.Option(help="A KernelBench checkout or a folder with levelN/ folders.")
    ] = None,
    level: Annotated[int | None, typer.Option(min=1, help="Only this level.")] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Run each reference at its CPU check shapes: evaluable or why not."
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(min=1, help="--check: problems at a time (default: the core count)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="--check: seconds per reference step.")
    ] = 120.0,
    sandbox: Annotated[
        str | None, typer.Option(help="--check: local | docker | none (default as `eval`).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List problems: id, level, name, source path and sizes (`--check`: evaluable or not)."""
    try:
        found = list_problems(suite, level)
    except ProblemError as exc:
        fail(str(exc))
    if check:
        _check(found, sandbox, timeout, jobs or os.cpu_count() or 1, as_json)
        return
    if as_json:
        print_json([p.listing() for p in found])
        return
    _list(found, suite)


def register(app: typer.Typer) -> None:
    app.command("problems")(problems)

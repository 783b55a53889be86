"""`kwright problems`: list the built-in suite or a KernelBench-shaped folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kernelbench.problem import ProblemError
from kernelbench.registry import list_problems
from worker.cli.common import JsonFlag, console, fail, print_json


def problems(
    suite: Annotated[
        Path | None, typer.Option(help="A KernelBench checkout or a folder with levelN/ folders.")
    ] = None,
    level: Annotated[int | None, typer.Option(min=1, help="Only this level.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List problems: id, level, name, source path and sizes."""
    try:
        found = list_problems(suite, level)
    except ProblemError as exc:
        fail(str(exc))
    if as_json:
        print_json([p.listing() for p in found])
        return
    table = Table(title=f"{len(found)} problems" + (f" in {suite}" if suite else " (built-in)"))
    table.add_column("id")
    table.add_column("level", justify="right")
    table.add_column("sizes")
    table.add_column("check sizes")
    for p in found:
        checks = "; ".join(", ".join(f"{k}={v}" for k, v in c.items()) for c in p.check_sizes or [])
        table.add_row(
            p.id,
            str(p.level or ""),
            ", ".join(f"{k}={v}" for k, v in p.sizes.items()),
            checks or "(generic rule)",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("problems")(problems)

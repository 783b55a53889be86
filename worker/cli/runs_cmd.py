"""`kwright runs`: the past runs of `kwright run` (and of the fleet's jobs), from
`$KWRIGHT_HOME/runs/*/run.json`, newest first.

A run directory without run.json (a run that never started) is skipped; one whose
run.json does not read is named in a warning on stderr and skipped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from agents.rundir import ProblemResult, RunDir, RunFileError, RunInfo
from worker.cli.common import EXIT_OK, JsonFlag, console, err_console, print_json
from worker.config import get_settings

PROBLEMS_SHOWN = 3  # the table names this many problems of a run, then counts the rest


def load_runs(home: Path) -> tuple[list[tuple[RunDir, RunInfo]], list[str]]:
    """Every readable run under `home`, newest first, and a warning per unreadable one."""
    runs_dir = home / "runs"
    found: list[tuple[RunDir, RunInfo]] = []
    warnings: list[str] = []
    if not runs_dir.is_dir():
        return found, warnings
    for d in sorted(runs_dir.iterdir()):
        rundir = RunDir(home, d.name)
        if not d.is_dir() or not rundir.exists():
            continue
        try:
            found.append((rundir, rundir.load_info()))
        except (RunFileError, OSError, ValueError) as exc:  # ValueError: not JSON at all
            warnings.append(f"{rundir.info_path}: unreadable, skipped ({exc})")
    found.sort(key=lambda pair: (pair[1].created_at, pair[1].run_id), reverse=True)
    return found, warnings


def local_time(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def problem_best(r: ProblemResult | None) -> str:
    if r is None:
        return "not run"
    if r.best is None:
        return "no correct kernel" if r.status == "done" else r.status
    speed = "not timed" if r.best.speedup is None else f"{r.best.speedup:.2f}x"
    return f"{r.best.status} {speed}"


def best_text(info: RunInfo) -> str:
    """One problem: its best (`correct 1.52x`); more: how many are correct and the
    fastest speedup."""
    if len(info.problems) == 1:
        return problem_best(info.results.get(info.problems[0]))
    results = [info.results.get(p) for p in info.problems]
    good = [r.best for r in results if r is not None and r.best is not None and r.best.correct]
    text = f"{len(good)}/{len(info.problems)} correct"
    speeds = [b.speedup for b in good if b.speedup is not None]
    return text + (f", best {max(speeds):.2f}x" if speeds else "")


def problems_text(problems: list[str]) -> str:
    if len(problems) <= PROBLEMS_SHOWN:
        return ", ".join(problems)
    rest = len(problems) - PROBLEMS_SHOWN
    return ", ".join(problems[:PROBLEMS_SHOWN]) + f" and {rest} more"


def model_of(info: RunInfo) -> str | None:
    return info.config.llm.model if info.config.agent == "llm" else None


def _best(r: ProblemResult | None) -> dict[str, Any] | None:
    return r.best.model_dump() if r is not None and r.best is not None else None


def run_row(rundir: RunDir, info: RunInfo) -> dict[str, Any]:
    """A run as `kwright runs --json` lists it."""
    return {
        "run_id": info.run_id,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "status": info.status,
        "agent": info.config.agent,
        "model": model_of(info),
        "backend": info.config.backend,
        "rounds": info.config.rounds,
        "device": info.device,
        "problems": info.problems,
        "best": {pid: _best(info.results.get(pid)) for pid in info.problems},
        "summary": best_text(info),
        "run_dir": str(rundir.root),
    }


def runs_command(
    limit: Annotated[int, typer.Option(min=1, help="How many recent runs to list.")] = 30,
    as_json: JsonFlag = False,
) -> None:
    """List past runs, newest first: id, date, problems, agent, model, status, best."""
    settings = get_settings()
    runs, warnings = load_runs(settings.home)
    for warning in warnings:
        err_console.print(f"kwright: warning: {warning}", markup=False, highlight=False)
    runs = runs[:limit]
    if as_json:
        print_json([run_row(d, i) for d, i in runs])
        raise typer.Exit(EXIT_OK)
    if not runs:
        err_console.print(f"no runs in {settings.runs_dir}", markup=False, highlight=False)
        raise typer.Exit(EXIT_OK)
    table = Table(title=f"runs in {settings.runs_dir} (newest first)")
    table.add_column("run", no_wrap=True)  # ids are for copying: never cut
    for col in ("date", "problems", "agent", "model", "status", "best"):
        table.add_column(col, overflow="fold")
    for _, info in runs:
        table.add_row(
            info.run_id,
            local_time(info.created_at),
            problems_text(info.problems),
            info.config.agent,
            model_of(info) or "-",
            info.status,
            best_text(info),
        )
    console.print(table)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs_command)

"""`kwright run PROBLEM...`: optimize kernels in-process, with a live progress view."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live
from rich.table import Table

from agents.rundir import RunDir, RunFileError
from kernelbench.problem import Problem, ProblemError
from worker.cli.agent_options import (
    AgentOptionError,
    AgentOptions,
    select_problems,
    with_agent_options,
)
from worker.cli.common import (
    EXIT_NOT_CORRECT,
    EXIT_OK,
    JsonFlag,
    console,
    err_console,
    fail,
    open_sandbox,
    print_json,
)
from worker.cli.run_summary import run_json, summary
from worker.config import api_key_from_env, get_settings

if TYPE_CHECKING:
    from agents.loop import Progress


class LiveView:
    """A table with one row per problem, refreshed from the loop's progress callbacks."""

    def __init__(self, problems: list[Problem], llm: bool) -> None:
        self.llm = llm  # token and cost columns only where an LLM runs
        self.rows: dict[str, Progress] = {}
        self.order = [p.id for p in problems]
        self.lock = threading.Lock()
        self.live = Live(self.render(), console=err_console, refresh_per_second=4, transient=False)

    def render(self) -> Table:
        table = Table(title="kwright run", expand=False)
        columns = ["problem", "round", "phase", "last", "best"]
        for col in columns + (["tokens", "cost"] if self.llm else []):
            table.add_column(col)
        for pid in self.order:
            p = self.rows.get(pid)
            if p is None:
                table.add_row(pid, "", "queued", *[""] * (len(table.columns) - 3))
                continue
            best = p.best_status or ""
            if p.best_speedup is not None:
                best += f" {p.best_speedup:.2f}x"
            cost = "?" if p.usage.cost_usd is None else f"${p.usage.cost_usd:.4f}"
            phase = p.phase if p.phase != "done" else f"done: {p.message}"
            row = [pid, f"{p.round}/{p.rounds}", phase, p.last_status or "", best]
            table.add_row(*row, *([str(p.usage.total_tokens), cost] if self.llm else []))
        return table

    def update(self, progress: Progress) -> None:
        with self.lock:
            self.rows[progress.problem_id] = progress
            self.live.update(self.render())


@with_agent_options
def run_command(
    problems: Annotated[list[str] | None, typer.Argument(help="Problem ids or .py paths.")] = None,
    suite: Annotated[Path | None, typer.Option(help="A KernelBench-shaped folder.")] = None,
    level: Annotated[int | None, typer.Option(min=1, help="All problems of this level.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="local | docker | none.")] = None,
    resume: Annotated[str | None, typer.Option(help="Resume this run id.")] = None,
    as_json: JsonFlag = False,
    *,
    agent_options: AgentOptions,
) -> None:
    """Optimize kernels for PROBLEMs: Coder -> sandbox -> harness -> profiler -> Judge, N rounds."""
    settings = get_settings()
    api_key = api_key_from_env()
    try:
        chosen = select_problems(problems or [], suite, level)
    except ProblemError as exc:
        fail(str(exc))
    try:
        config = agent_options.config(api_key)
    except AgentOptionError as exc:
        fail(str(exc))
    if resume:
        resumed = RunDir(settings.home, resume)
        if not resumed.exists():
            fail(f"{resume}: no such run in {settings.runs_dir}")
        try:
            resumed.load_info()
        except RunFileError as exc:
            fail(f"--resume {resume}: {exc}")
    from agents.runner import run_job  # torch and the agents: only once the input is good
    from kernelbench.evaluate import GpuUnavailable, detect_device

    device = detect_device()
    if config.backend == "cuda" and device == "cpu":
        err_console.print(
            "kwright: note: no GPU here: CUDA C candidates are compiled but not run (not_run)"
        )
    box = open_sandbox(sandbox)
    view = None if as_json else LiveView(chosen, llm=config.agent == "llm")
    try:
        with box:
            if view is not None:
                with view.live:
                    rundir, info = run_job(
                        chosen,
                        config,
                        settings.home,
                        box,
                        run_id=resume,
                        api_key=api_key,
                        device=device,
                        progress=view.update,
                    )
            else:
                rundir, info = run_job(
                    chosen,
                    config,
                    settings.home,
                    box,
                    run_id=resume,
                    api_key=api_key,
                    device=device,
                )
    except (GpuUnavailable, RunFileError) as exc:  # RunFileError: a resumed attempt's file
        fail(str(exc))
    reason = agent_options.agent_reason(api_key)
    if as_json:
        print_json(run_json(info, rundir, reason))
    else:
        console.print(summary(info, rundir, reason))
    all_correct = bool(info.results) and all(
        r.best and r.best.correct for r in info.results.values()
    )
    raise typer.Exit(EXIT_OK if all_correct and info.status == "done" else EXIT_NOT_CORRECT)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)

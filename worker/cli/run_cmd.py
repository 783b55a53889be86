"""`kwright run PROBLEM...`: optimize kernels in-process, with a live progress view.

Progress goes to stderr: a live table where stderr is a terminal, else (CI, nohup, a
pipe) one plain line per finished round per problem; `--quiet` prints neither. Ctrl-C
prints the command that resumes the run. `--resume RUN_ID` takes the problems from the
run's run.json; of the agent options only `--rounds` may change (more rounds extend the
problems that ran out of rounds); any other that differs from the run's is refused.
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer
from rich.live import Live
from rich.table import Table

from agents.config import AgentConfig
from agents.rundir import RunDir, RunFileError, RunInfo, new_run_id
from kernelbench.problems.problem import Problem, ProblemError
from kernelbench.problems.registry import resolve_problem
from worker.cli.agent_options import (
    AgentOptionError,
    AgentOptions,
    given_options,
    with_agent_options,
)
from worker.cli.common import (
    EXIT_NOT_CORRECT,
    EXIT_OK,
    JsonFlag,
    console,
    err_console,
    fail,
    is_terminal,
    open_sandbox,
    print_json,
    require_writable_home,
)
from worker.cli.problem_select import select_problems
from worker.cli.run_summary import run_json, summary
from worker.config import Settings, api_key_from_env, get_settings

if TYPE_CHECKING:
    from agents.loop import Progress


def best_text(status: str | None, speedup: float | None) -> str:
    if status is None:
        return "none yet"
    return status + (f" {speedup:.2f}x" if speedup is not None else "")


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


class ProgressLines:
    """Plain progress for a stderr that is no terminal: one line per finished round per
    problem (its verdict and the best so far), and one when a problem ends."""

    def __init__(self, stream: IO[str], llm: bool) -> None:
        self.stream = stream
        self.llm = llm
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def line(self, p: Progress) -> str | None:
        if p.phase == "round done":
            what = f"round {p.round}/{p.rounds}: {p.last_status or 'no verdict'}"
        elif p.phase == "done":
            what = f"done after {p.round} round(s): {p.message}"
        else:
            return None
        text = f"{p.problem_id} {what}; best so far: {best_text(p.best_status, p.best_speedup)}"
        if self.llm:
            cost = "?" if p.usage.cost_usd is None else f"${p.usage.cost_usd:.4f}"
            text += f"; {p.usage.total_tokens} tokens, {cost}"
        return f"kwright: [{time.monotonic() - self.started:.0f}s] {text}"

    def update(self, progress: Progress) -> None:
        text = self.line(progress)
        if text is None:
            return
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()


def _note(message: str) -> None:
    err_console.print(f"kwright: {message}", markup=False, highlight=False)


def _resumed_problems(
    run_id: str, info: RunInfo, problems: list[str], suite: Path | None, level: int | None
) -> list[Problem]:
    """The problems a resumed run goes on with: those named (each must be the run's), else
    every problem its run.json lists."""
    if problems or level is not None:
        try:
            chosen = select_problems(problems, suite, level)
        except ProblemError as exc:
            fail(str(exc))
        foreign = [p.id for p in chosen if p.id not in info.problems]
        if foreign:
            fail(
                f"--resume {run_id}: {', '.join(foreign)} is not a problem of that run (its "
                f"problems: {', '.join(info.problems)}); name none to resume them all"
            )
        return chosen
    found = []
    for pid in info.problems:
        try:
            found.append(resolve_problem(pid, suite))
        except ProblemError as exc:
            fail(
                f"--resume {run_id}: the run's problem {pid}: {exc} (a problem from a file or "
                "a suite: name its file again, or pass --suite)"
            )
    return found


def _resume_plan(
    ctx: typer.Context,
    run_id: str,
    settings: Settings,
    options: AgentOptions,
    api_key: str | None,
    problems: tuple[list[str], Path | None, int | None],
) -> tuple[list[Problem], RunInfo]:
    """Check a resume up front: the run exists and reads, its problems resolve, and the
    options given agree with its settings (only --rounds may change)."""
    rundir = RunDir(settings.home, run_id)
    if not rundir.exists():
        fail(f"{run_id}: no such run in {settings.runs_dir} (`kwright runs` lists them)")
    try:
        info = rundir.load_info()
    except RunFileError as exc:
        fail(f"--resume {run_id}: {exc}")
    chosen = _resumed_problems(run_id, info, *problems)
    given = given_options(ctx) - {"rounds"}
    changed = options.differences(given, info.config)
    if changed:
        fail(
            f"--resume {run_id} keeps the run's settings (only --rounds may change): "
            + "; ".join(changed)
        )
    stored = info.config
    if stored.agent == "llm" and not (api_key or stored.llm.base_url):
        fail(f"--resume {run_id}: the run's LLM agent needs OPENAI_API_KEY/KWRIGHT_API_KEY")
    return chosen, info


def resume_command(run_id: str, problems: list[Problem], suite: Path | None) -> str:
    """The command that resumes the run: its id, and what run.json cannot name again
    (problems read from files, the suite)."""
    files = [shlex.quote(str(p.path)) for p in problems if p.suite == "file"]
    words = ["kwright run", *files, "--resume", run_id]
    return " ".join(words + (["--suite", shlex.quote(str(suite))] if suite else []))


@with_agent_options
def run_command(
    ctx: typer.Context,
    problems: Annotated[list[str] | None, typer.Argument(help="Problem ids or .py paths.")] = None,
    suite: Annotated[Path | None, typer.Option(help="A KernelBench-shaped folder.")] = None,
    level: Annotated[int | None, typer.Option(min=1, help="All problems of this level.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="local | docker | none.")] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="Resume this run id (its problems and settings come from run.json)."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress on stderr (table or lines).")
    ] = False,
    as_json: JsonFlag = False,
    *,
    agent_options: AgentOptions,
) -> None:
    """Optimize kernels for PROBLEMs: Coder -> sandbox -> harness -> profiler -> Judge, N rounds."""
    settings = get_settings()
    api_key = api_key_from_env()
    info: RunInfo | None = None
    if resume:
        chosen, info = _resume_plan(
            ctx, resume, settings, agent_options, api_key, (problems or [], suite, level)
        )
        config: AgentConfig = info.config
        run_id = resume
    else:
        try:
            chosen = select_problems(problems or [], suite, level)
        except ProblemError as exc:
            fail(str(exc))
        try:
            config = agent_options.config(api_key, given=given_options(ctx))
        except AgentOptionError as exc:
            fail(str(exc))
        run_id = new_run_id()
    require_writable_home(settings.home)
    from agents.job import run_job  # torch and the agents: only once the input is good  # noqa: PLC0415 - heavy library, imported where used
    from kernelbench.harness.evaluate import GpuUnavailable, detect_device  # noqa: PLC0415 - heavy library, imported where used

    device = detect_device()
    if config.backend == "cuda" and device == "cpu":
        _note("note: no GPU here: CUDA C candidates are compiled but not run (not_run)")
    box = open_sandbox(sandbox)
    rundir = RunDir(settings.home, run_id)
    if info is not None and "rounds" in given_options(ctx):
        rundir.extend_rounds(info, agent_options.rounds)
    llm = config.agent == "llm"
    view: LiveView | ProgressLines | None = None
    if not quiet:
        if is_terminal(sys.stderr):
            view = None if as_json else LiveView(chosen, llm=llm)
        else:
            view = ProgressLines(sys.stderr, llm=llm)
        verb = "resuming" if info is not None else "starting"
        _note(f"{verb} run {run_id} ({len(chosen)} problem(s), {rundir.root})")
    try:
        with box:
            if isinstance(view, LiveView):
                with view.live:
                    rundir, info = run_job(
                        chosen,
                        config,
                        settings.home,
                        box,
                        run_id=run_id,
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
                    run_id=run_id,
                    api_key=api_key,
                    device=device,
                    progress=view.update if view is not None else None,
                )
    except (GpuUnavailable, RunFileError) as exc:  # RunFileError: a resumed attempt's file
        fail(str(exc))
    except KeyboardInterrupt:
        _note(f"run {run_id} interrupted; resume it with: {resume_command(run_id, chosen, suite)}")
        raise
    reason = "as the run was started" if resume else agent_options.agent_reason(api_key)
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

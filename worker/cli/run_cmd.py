"""`kwright run PROBLEM...`: optimize kernels in-process, with a live progress view."""

from __future__ import annotations

import os
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from agents.config import AgentConfig, Budget, LLMSettings
from agents.factory import default_agent
from agents.loop import Progress
from agents.rundir import RunDir, RunInfo
from agents.runner import run_job
from kernelbench.problem import Problem, ProblemError
from kernelbench.registry import list_problems, resolve_problem
from sandbox.base import SandboxUnavailable, get_sandbox
from sandbox.defaults import default_sandbox_name
from sandbox.evaluate import GpuUnavailable, detect_device
from worker.cli.common import (
    EXIT_NOT_CORRECT,
    EXIT_OK,
    JsonFlag,
    console,
    err_console,
    fail,
    print_json,
)
from worker.config import get_settings


class AgentChoice(StrEnum):
    baseline = "baseline"
    llm = "llm"


class BackendChoice(StrEnum):
    triton = "triton"
    cuda = "cuda"


def api_key_from_env() -> str | None:
    return os.environ.get("KWRIGHT_API_KEY") or os.environ.get("OPENAI_API_KEY")


def select_problems(ids: list[str], suite: Path | None, level: int | None) -> list[Problem]:
    if ids:
        return [resolve_problem(i, suite) for i in ids]
    if suite is None and level is None:
        raise ProblemError("name at least one PROBLEM, or pass --suite and/or --level")
    found = list_problems(suite, level)
    if not found:
        raise ProblemError(f"no problems in {suite or 'the built-in suite'} at level {level}")
    return found


class LiveView:
    """A table with one row per problem, refreshed from the loop's progress callbacks."""

    def __init__(self, problems: list[Problem]) -> None:
        self.rows: dict[str, Progress] = {}
        self.order = [p.id for p in problems]
        self.lock = threading.Lock()
        self.live = Live(self.render(), console=err_console, refresh_per_second=4, transient=False)

    def render(self) -> Table:
        table = Table(title="kwright run", expand=False)
        for col in ("problem", "round", "phase", "last", "best", "tokens", "cost"):
            table.add_column(col)
        for pid in self.order:
            p = self.rows.get(pid)
            if p is None:
                table.add_row(pid, "", "queued", "", "", "", "")
                continue
            best = p.best_status or ""
            if p.best_speedup is not None:
                best += f" {p.best_speedup:.2f}x"
            cost = "?" if p.usage.cost_usd is None else f"${p.usage.cost_usd:.4f}"
            phase = p.phase if p.phase != "done" else f"done: {p.message}"
            table.add_row(
                pid,
                f"{p.round}/{p.rounds}",
                phase,
                p.last_status or "",
                best,
                str(p.usage.total_tokens),
                cost,
            )
        return table

    def update(self, progress: Progress) -> None:
        with self.lock:
            self.rows[progress.problem_id] = progress
            self.live.update(self.render())


def summary_table(info: RunInfo, rundir: RunDir) -> Table:
    table = Table(title=f"run {info.run_id}: {info.status}  ({rundir.root})")
    for col in ("problem", "best", "speedup", "attempts", "tokens", "cost", "stopped because"):
        table.add_column(col)
    for pid, r in info.results.items():
        best = r.best
        speed = (
            "not timed (CPU)"
            if best and best.speedup is None
            else (f"{best.speedup:.2f}x" if best else "")
        )
        cost = "?" if r.usage.cost_usd is None else f"${r.usage.cost_usd:.4f}"
        table.add_row(
            pid,
            best.status if best else "[red]no correct kernel[/]",
            speed,
            str(len(r.attempts)),
            str(r.usage.total_tokens),
            cost,
            r.stop_reason,
        )
    return table


def run_json(info: RunInfo, rundir: RunDir) -> dict[str, Any]:
    return {
        "run_id": info.run_id,
        "run_dir": str(rundir.root),
        "status": info.status,
        "agent": info.config.agent,
        "problems": [
            {
                "problem_id": pid,
                "status": r.status,
                "stop_reason": r.stop_reason,
                "best": r.best.model_dump() if r.best else None,
                "attempts": [a.model_dump() for a in r.attempts],
                "usage": r.usage.model_dump(),
            }
            for pid, r in info.results.items()
        ],
        "usage": info.usage.model_dump(),
    }


def run_command(
    problems: Annotated[list[str] | None, typer.Argument(help="Problem ids or .py paths.")] = None,
    suite: Annotated[Path | None, typer.Option(help="A KernelBench-shaped folder.")] = None,
    level: Annotated[int | None, typer.Option(min=1, help="All problems of this level.")] = None,
    agent: Annotated[
        AgentChoice | None,
        typer.Option(help="llm or baseline (default: llm when an API key or --base-url is set)."),
    ] = None,
    model: Annotated[str, typer.Option(help="Model name at the endpoint.")] = "gpt-4o-mini",
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=200, help="Rounds per problem.")] = 10,
    candidates: Annotated[
        int, typer.Option(min=1, max=16, help="Candidates per round (parallel).")
    ] = 1,
    patience: Annotated[
        int, typer.Option(min=1, help="Stop after this many rounds without improvement.")
    ] = 4,
    backend: Annotated[BackendChoice, typer.Option(help="Kernel language.")] = BackendChoice.triton,
    gpu: Annotated[str, typer.Option(help="Target GPU for prompts and the profiler.")] = "H100",
    arch: Annotated[str, typer.Option(help="Target arch for static profiles.")] = "sm_90",
    sandbox: Annotated[str | None, typer.Option(help="local | docker | none.")] = None,
    eval_timeout: Annotated[float, typer.Option(min=1.0, help="Seconds per harness step.")] = 300.0,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = 0.2,
    reasoning_effort: Annotated[str | None, typer.Option(help="minimal|low|medium|high.")] = None,
    max_tokens: Annotated[
        int, typer.Option(min=256, help="Max completion tokens per call.")
    ] = 16000,
    max_usd: Annotated[float | None, typer.Option(help="Budget per problem in USD.")] = None,
    max_total_tokens: Annotated[
        int | None, typer.Option("--max-tokens-budget", help="Token budget per problem.")
    ] = None,
    max_wall: Annotated[
        float | None, typer.Option(help="Wall-clock budget per problem, seconds.")
    ] = None,
    request_timeout: Annotated[float, typer.Option(help="Seconds per LLM request.")] = 300.0,
    retries: Annotated[int, typer.Option(min=0, max=10, help="Retries per LLM request.")] = 3,
    json_in_text: Annotated[
        bool,
        typer.Option(help="Judge asks for JSON in text (endpoints without structured outputs)."),
    ] = False,
    resume: Annotated[str | None, typer.Option(help="Resume this run id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Optimize kernels for PROBLEMs: Coder -> sandbox -> harness -> profiler -> Judge, N rounds."""
    settings = get_settings()
    api_key = api_key_from_env()
    try:
        chosen = select_problems(problems or [], suite, level)
    except ProblemError as exc:
        fail(str(exc))
    kind = agent.value if agent else default_agent(api_key, base_url)
    if kind == "llm" and not (api_key or base_url):
        fail("--agent llm needs an endpoint: set OPENAI_API_KEY/KWRIGHT_API_KEY or --base-url")
    if reasoning_effort not in (None, "minimal", "low", "medium", "high"):
        fail(f"--reasoning-effort must be minimal, low, medium or high, not {reasoning_effort!r}")
    config = AgentConfig(
        agent=kind,
        llm=LLMSettings(
            model=model,
            base_url=base_url,
            temperature=temperature,
            reasoning_effort=reasoning_effort,
            max_tokens=max_tokens,
            request_timeout_s=request_timeout,
            max_retries=retries,
            structured_output=not json_in_text,
        ),
        backend=backend.value,
        target_gpu=gpu,
        arch=arch,
        rounds=rounds,
        candidates_per_round=candidates,
        patience=patience,
        eval_timeout_s=eval_timeout,
        budget=Budget(max_usd=max_usd, max_tokens=max_total_tokens, max_wall_s=max_wall),
    )
    if resume and not RunDir(settings.home, resume).exists():
        fail(f"{resume}: no such run in {settings.runs_dir}")
    device = detect_device()
    if backend == BackendChoice.cuda and device == "cpu":
        err_console.print(
            "kwright: note: no GPU here: CUDA C candidates are compiled but not run (not_run)"
        )
    try:
        box = get_sandbox(sandbox or settings.sandbox or default_sandbox_name())
    except SandboxUnavailable as exc:
        fail(str(exc))
    view = None if as_json else LiveView(chosen)
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
    except GpuUnavailable as exc:
        fail(str(exc))
    if as_json:
        print_json(run_json(info, rundir))
    else:
        console.print(summary_table(info, rundir))
    all_correct = bool(info.results) and all(
        r.best and r.best.correct for r in info.results.values()
    )
    raise typer.Exit(EXIT_OK if all_correct and info.status == "done" else EXIT_NOT_CORRECT)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)

"""`kwright submit | status | watch | cancel`: jobs on the fleet or embedded (results:
`worker.cli.results_cmd`).

With `KWRIGHT_BROKER_URL` set, jobs go to Celery workers through Redis and are recorded in
the Redis job store. Without it (the embedded default), they are recorded in SQLite under
`KWRIGHT_HOME` and run by a detached local worker that `submit` starts; every command
works the same way in both modes. A job or batch id works wherever JOB is asked for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kernelbench.problems.problem import ProblemError
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
    print_json,
    require_writable_home,
)
from worker.cli.jobs_view import (
    correct,
    counts,
    counts_text,
    job_panel,
    jobs_table,
    live_workers,
)
from worker.cli.problem_select import select_problems
from worker.config import Settings, api_key_from_env, get_settings
from worker.fleet.jobs import TERMINAL, Job, MalformedJob
from worker.fleet.queues import QueueError, check_job_queue, default_queue
from worker.fleet.store import JobStore, StoreUnavailable
from worker.fleet.store_open import open_store, store_location

STORE_OUTAGE_S = 60.0  # watch rides out a store outage this long


def open_job_store(settings: Settings) -> JobStore:
    """The job store; a bad KWRIGHT_ setting reaches `kwright`'s handler as a ConfigError.
    The embedded store lives under KWRIGHT_HOME: one that cannot be written is exit 2."""
    if store_location(settings) == f"sqlite:///{settings.home / 'jobs.sqlite'}":
        require_writable_home(settings.home)
    try:
        return open_store(settings)
    except StoreUnavailable as exc:
        fail(str(exc), EXIT_NOT_CORRECT)


def lookup_jobs(store: JobStore, ref: str) -> list[Job]:
    """A job id -> [job]; a batch id -> its jobs. Unknown -> exit 2."""
    try:
        if ref.startswith("b-"):
            jobs = store.list_jobs(batch=ref)
        else:
            job = store.get(ref)
            jobs = [job] if job else []
    except StoreUnavailable as exc:
        fail(str(exc), EXIT_NOT_CORRECT)
    except MalformedJob as exc:
        fail(str(exc), EXIT_NOT_CORRECT)
    if not jobs:
        fail(f"{ref}: no such job or batch in {store.location}")
    return jobs


# ------------------------------------------------------------------ submit
@with_agent_options
def submit_command(
    ctx: typer.Context,
    problems: Annotated[list[str] | None, typer.Argument(help="Problem ids or .py paths.")] = None,
    suite: Annotated[Path | None, typer.Option(help="A KernelBench-shaped folder.")] = None,
    level: Annotated[int | None, typer.Option(min=1, help="All problems of this level.")] = None,
    queue: Annotated[
        str | None,
        typer.Option(help="cpu | gpu.<kind> (default: $KWRIGHT_QUEUE, else this machine's)."),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the jobs until done.")] = False,
    as_json: JsonFlag = False,
    *,
    agent_options: AgentOptions,
) -> None:
    """Queue one job per PROBLEM (or per problem of --suite/--level); print the job ids.

    With KWRIGHT_BROKER_URL the jobs go to the fleet's queue; without it they run on this
    machine in a background worker (log: $KWRIGHT_HOME/worker.log).
    """
    from worker.fleet.submit import BrokerUnavailable, make_jobs, submit  # noqa: PLC0415 - heavy library, imported where used

    settings = get_settings()
    try:
        chosen = select_problems(problems or [], suite, level)
        target = check_job_queue(queue or default_queue(settings.queue))
        # A fleet's workers hold their own API keys; an embedded worker inherits ours.
        config = agent_options.config(
            api_key_from_env(), require_endpoint=not settings.broker_url, given=given_options(ctx)
        )
    except (ProblemError, QueueError, AgentOptionError) as exc:
        fail(str(exc))
    if not settings.broker_url:  # the embedded worker's runs live under the home
        require_writable_home(settings.home)
    store = open_job_store(settings)
    jobs = make_jobs(chosen, config, target)
    try:
        sub = submit(jobs, settings, store)
    except (StoreUnavailable, BrokerUnavailable) as exc:
        fail(str(exc), EXIT_NOT_CORRECT)
    live = live_workers(settings, sub.jobs) if sub.mode == "fleet" else {}
    if as_json and not watch:
        print_json(
            {
                "batch": sub.batch,
                "queue": sub.queue,
                "mode": sub.mode,
                "store": store.location,
                "queue_workers": live.get(sub.queue),
                "jobs": [{"job_id": j.id, "problem": j.spec.problem.id} for j in sub.jobs],
            }
        )
    elif not as_json:
        where = (
            f"queue {sub.queue}"
            if sub.mode == "fleet"
            else f"the embedded worker on this machine (log: {settings.home / 'worker.log'})"
        )
        err_console.print(
            f"submitted {len(sub.jobs)} job(s) to {where}; batch {sub.batch}",
            markup=False,
            highlight=False,
        )
        for j in sub.jobs:
            print(j.id)
    if watch:
        ref = sub.jobs[0].id if len(sub.jobs) == 1 else sub.batch
        raise typer.Exit(_watch(store, settings, ref, as_json, interval=1.0))


# ------------------------------------------------------------------ status
def status_command(
    job: Annotated[
        str | None, typer.Argument(help="A job or batch id (default: recent jobs).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many recent jobs to list.")] = 30,
    as_json: JsonFlag = False,
) -> None:
    """Show a job, a batch, or the most recent jobs."""
    settings = get_settings()
    store = open_job_store(settings)
    grace = settings.recovery_grace_s
    if job is None:
        try:
            jobs = store.list_jobs(limit=limit)
        except (StoreUnavailable, MalformedJob) as exc:
            fail(str(exc), EXIT_NOT_CORRECT)
    else:
        jobs = lookup_jobs(store, job)
    live = live_workers(settings, jobs)

    def summary(j: Job) -> dict[str, Any]:
        return dict(j.summary(grace), queue_workers=live.get(j.spec.queue))

    if job is None:
        if as_json:
            print_json([summary(j) for j in jobs])
        elif not jobs:
            err_console.print(f"no jobs in {store.location}", markup=False, highlight=False)
        else:
            console.print(jobs_table(jobs, f"recent jobs ({store.location})", grace))
        raise typer.Exit(EXIT_OK)
    if as_json:
        if job.startswith("b-"):
            print_json({"batch": job, "counts": counts(jobs), "jobs": [summary(j) for j in jobs]})
        else:
            one = jobs[0]
            detail = summary(one)
            detail["progress"] = one.progress.model_dump() if one.progress else None
            detail["deliveries_log"] = [d.model_dump() for d in one.state.history]
            detail["ledger"] = [a.model_dump() for a in job_attempts(store, one.id)]
            print_json(detail)
    elif job.startswith("b-"):
        console.print(jobs_table(jobs, f"batch {job}: {counts_text(jobs)}", grace))
    else:
        console.print(job_panel(jobs[0], grace))
    failed = any(j.status in ("failed", "cancelled") for j in jobs)
    raise typer.Exit(EXIT_NOT_CORRECT if failed else EXIT_OK)


def job_attempts(store: JobStore, job_id: str) -> list[Any]:
    try:
        return store.attempts(job_id)
    except StoreUnavailable as exc:
        fail(str(exc), EXIT_NOT_CORRECT)


# ------------------------------------------------------------------ watch
def watch_command(
    job: Annotated[str, typer.Argument(help="A job id, or a batch id (progress bar).")],
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between updates.")] = 1.0,
    as_json: JsonFlag = False,
) -> None:
    """Follow a job (or a batch, with a progress bar) live until it finishes.

    Exit 0 if every job found a correct kernel.
    """
    settings = get_settings()
    store = open_job_store(settings)
    raise typer.Exit(_watch(store, settings, job, as_json, interval))


def _watch(store: JobStore, settings: Settings, ref: str, as_json: bool, interval: float) -> int:
    jobs = lookup_jobs(store, ref)
    grace = settings.recovery_grace_s
    if not settings.broker_url and any(j.status not in TERMINAL for j in jobs):
        from worker.fleet.embedded import spawn_embedded_worker  # noqa: PLC0415 - heavy library, imported where used

        spawn_embedded_worker(settings)  # a worker that died would leave them waiting
    batch = ref.startswith("b-")
    last_lines: dict[str, str] = {}
    outage_since: float | None = None

    def fetch() -> list[Job] | None:
        nonlocal outage_since
        try:
            found = store.list_jobs(batch=ref) if batch else [store.require(ref)]
        except StoreUnavailable as exc:
            outage_since = outage_since or time.monotonic()
            if time.monotonic() - outage_since > STORE_OUTAGE_S:
                fail(f"{exc} (for over {STORE_OUTAGE_S:.0f} s)", EXIT_NOT_CORRECT)
            return None
        outage_since = None
        return found

    def emit_json(current: list[Job]) -> None:
        for j in current:
            line = j.summary(grace)
            key = repr(
                {k: line[k] for k in ("status", "stale", "round", "phase", "best", "deliveries")}
            )
            if last_lines.get(j.id) != key:
                last_lines[j.id] = key
                print_json(line)

    if as_json:
        while True:
            current = fetch()
            if current is not None:
                emit_json(current)
                if all(j.status in TERMINAL for j in current):
                    return EXIT_OK if all(correct(j) for j in current) else EXIT_NOT_CORRECT
            time.sleep(interval)

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err_console,
    )
    task = bar.add_task(f"batch {ref}" if batch else ref, total=len(jobs), counts="")

    def render(current: list[Job], note: str = "") -> Group:
        finished = sum(j.status in TERMINAL for j in current)
        bar.update(task, completed=finished, total=len(current), counts=counts_text(current))
        parts: list[Any] = []
        if batch:
            parts.append(bar)
            active = [j for j in current if j.status not in TERMINAL][:12]
            if active:
                parts.append(jobs_table(active, "unfinished", grace))
        else:
            parts.append(job_panel(current[0], grace))
        if note:
            parts.append(note)
        return Group(*parts)

    with Live(render(jobs), console=err_console, refresh_per_second=4) as live:
        current = jobs
        while True:
            fresh = fetch()
            if fresh is None:
                live.update(render(current, "[yellow]job store unreachable; retrying...[/]"))
            else:
                current = fresh
                live.update(render(current))
                if all(j.status in TERMINAL for j in current):
                    break
            time.sleep(interval)
    if batch:
        console.print(jobs_table(current, f"batch {ref}: {counts_text(current)}", grace))
    return EXIT_OK if all(correct(j) for j in current) else EXIT_NOT_CORRECT


# ------------------------------------------------------------------ cancel
def cancel_command(
    job: Annotated[str, typer.Argument(help="A job or batch id.")],
    as_json: JsonFlag = False,
) -> None:
    """Cancel a job, or every unfinished job of a batch.

    A queued job is cancelled at once; a running one stops after its current round.
    """
    settings = get_settings()
    store = open_job_store(settings)
    jobs = lookup_jobs(store, job)
    results: dict[str, str] = {}
    for j in jobs:
        try:
            results[j.id] = store.cancel(j.id)
        except StoreUnavailable as exc:
            fail(str(exc), EXIT_NOT_CORRECT)
    if as_json:
        print_json({"cancel": results})
    else:
        words = {
            "cancelled": "cancelled",
            "requested": "cancel requested: it stops after its current round",
            "finished": "already finished; nothing to cancel",
        }
        for job_id, what in results.items():
            console.print(f"{job_id}: {words[what]}", markup=False, highlight=False)
    acted = any(v in ("cancelled", "requested") for v in results.values())
    raise typer.Exit(EXIT_OK if acted else EXIT_NOT_CORRECT)


def register(app: typer.Typer) -> None:
    app.command("submit")(submit_command)
    app.command("status")(status_command)
    app.command("watch")(watch_command)
    app.command("cancel")(cancel_command)

"""`kwright worker`: serve jobs on this machine.

With `KWRIGHT_BROKER_URL` set this is a Celery worker, exactly
`celery -A worker.fleet.celery_app worker --queues Q --concurrency N` (extra arguments are passed
on to Celery, e.g. `--hostname gpu0@%h`). Without a broker it is the embedded worker,
which runs the jobs of the SQLite store under `KWRIGHT_HOME` (every queue unless
`--queues` is given).

On a broker it also starts, as its child, a Celery worker for the evaluation queues of its
job queues (`gpu.h100` -> `gpu.h100.eval`) with `--eval-concurrency` slots (default 1; 0:
none), hostname `<name>-eval@<host>`: the slots that evaluate the candidates of running
jobs, apart from the job slots so that waiting jobs cannot starve them
(worker/fleet/candidates.py). Of the extra Celery options only `--hostname` reaches it (as
`<name>-eval`); the others are the job pool's. The child dies with this process.
`--queues cpu.eval` alone makes a worker that only evaluates.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from typing import Annotated

import typer

from sandbox.settings import HostSettings, host_settings
from worker.cli.common import EXIT_NOT_CORRECT, fail, require_writable_home
from worker.config import Settings, get_settings
from worker.fleet.queues import QueueError, check_queue, default_queue, eval_queue, is_eval_queue
from worker.fleet.store import StoreUnavailable

log = logging.getLogger(__name__)


def worker_command(
    ctx: typer.Context,
    queues: Annotated[
        str | None,
        typer.Option(help="Comma-separated queues (default: $KWRIGHT_QUEUE, else this machine's)."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Jobs at a time (one per GPU is usual).")
    ] = 1,
    eval_concurrency: Annotated[
        int,
        typer.Option(
            min=0, help="Candidate evaluations at a time, beside the jobs (fleet only; 0: none)."
        ),
    ] = 1,
    loglevel: Annotated[str, typer.Option(help="Worker log level.")] = "INFO",
    idle_exit: Annotated[
        float | None,
        typer.Option(hidden=True, help="Embedded: exit after this many idle seconds."),
    ] = None,
) -> None:
    """Run a worker: a Celery worker on the broker's queues, or the embedded worker."""
    settings = get_settings()
    try:
        names = [check_queue(q) for q in queues.split(",") if q.strip()] if queues else None
    except QueueError as exc:
        fail(str(exc))
    require_writable_home(settings.home)  # the runs of its jobs (and the embedded store)
    logging.getLogger().setLevel(loglevel.upper())
    if not settings.broker_url:
        from worker.fleet.embedded import EmbeddedWorker, WorkerRunning  # noqa: PLC0415 - heavy library, imported where used

        try:
            EmbeddedWorker(
                settings, queues=names, concurrency=concurrency, idle_exit_s=idle_exit
            ).run()
        except (WorkerRunning, StoreUnavailable) as exc:
            fail(str(exc), EXIT_NOT_CORRECT)
        return
    from worker.fleet.celery_app import app  # noqa: PLC0415 - heavy library, imported where used

    names = names or [default_queue(settings.queue)]
    share_library(settings)  # before the job pool and the evaluation child start
    argv = ["worker", "--queues", ",".join(names), "--concurrency", str(concurrency)]
    argv += ["--loglevel", loglevel, *ctx.args]
    evals = sorted({eval_queue(q) for q in names if not is_eval_queue(q)})
    child = None
    if evals and eval_concurrency > 0:
        child = _start_eval_worker(evals, eval_concurrency, loglevel, _hostname(ctx.args))
    try:
        app.worker_main(argv=argv)
    finally:
        if child is not None:
            _stop_eval_worker(child)


def share_library(settings: Settings) -> None:
    """A fleet's workers share one kernel library (issue 32): unless KWRIGHT_LIBRARY_URL
    names another, the fleet's own Redis (its store's, else its broker's), so a kernel
    verified on one worker is retrieved by jobs on every other."""
    if host_settings().library_url:
        return
    url = settings.store_url or settings.broker_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        # Handed to the job pool and the evaluation child through their environment.
        os.environ[f"{HostSettings.model_config['env_prefix']}LIBRARY_URL"] = url


def _hostname(args: list[str]) -> str:
    """The evaluation worker's node name, from the one passed to Celery (if any)."""
    name = "celery@%h"
    for i, arg in enumerate(args):
        if arg in ("-n", "--hostname") and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--hostname="):
            name = arg.split("=", 1)[1]
    base, at, host = name.partition("@")
    return f"{base}-eval@{host}" if at else f"{name}-eval"


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when this worker's process dies (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_eval_worker(
    queues: list[str], concurrency: int, loglevel: str, hostname: str
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", "worker.fleet.celery_app", "worker"]
    argv += ["--queues", ",".join(queues), "--concurrency", str(concurrency)]
    argv += ["--loglevel", loglevel, "--hostname", hostname]
    log.info("evaluation worker %s on %s (%d slot(s))", hostname, ",".join(queues), concurrency)
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # noqa: PLW1509 - sets only the death signal


def _stop_eval_worker(child: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """A warm shutdown: its running evaluation finishes (a job waits on it)."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            child.wait()


def register(app: typer.Typer) -> None:
    app.command(
        "worker",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(worker_command)

"""`kwright worker`: serve jobs on this machine.

With `KWRIGHT_BROKER_URL` set this is a Celery worker, exactly
`celery -A worker.fleet.celery_app worker --queues Q --concurrency N` (extra arguments are passed
on to Celery, e.g. `--hostname gpu0@%h`). Without a broker it is the embedded worker,
which runs the jobs of the SQLite store under `KWRIGHT_HOME` (every queue unless
`--queues` is given).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from worker.cli.common import EXIT_NOT_CORRECT, fail, require_writable_home
from worker.config import get_settings
from worker.fleet.queues import QueueError, check_queue, default_queue
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

    argv = [
        "worker",
        "--queues",
        ",".join(names or [default_queue(settings.queue)]),
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
        *ctx.args,
    ]
    app.worker_main(argv=argv)


def register(app: typer.Typer) -> None:
    app.command(
        "worker",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(worker_command)

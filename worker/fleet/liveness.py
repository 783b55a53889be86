"""Which workers are alive, per queue: so `submit` and `status` can say when a queue has
none, instead of leaving jobs silently waiting.

Fleet: one Celery broadcast (`inspect().active_queues()`), answered by every live worker's
main process, collected for `timeout_s` (a second by default). Embedded: the home's lock
file names the one worker process, if any.
"""

from __future__ import annotations

import logging

from worker.config import Settings

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 1.0


def queue_workers(
    settings: Settings, timeout_s: float = ASK_TIMEOUT_S
) -> dict[str, list[str]] | None:
    """Live workers by the queues they consume; None if they could not be asked."""
    if not settings.broker_url:
        from worker.fleet.embedded import HomeLock  # noqa: PLC0415 - heavy library, imported where used

        pid = HomeLock(settings.home).holder()
        return {"*": [f"embedded (pid {pid})"]} if pid is not None else {}
    from kombu.exceptions import OperationalError  # noqa: PLC0415 - heavy library, imported where used

    from worker.fleet.celery_app import make_app  # noqa: PLC0415 - heavy library, imported where used

    app = make_app(settings)
    app.conf.broker_connection_retry = False
    try:
        replies = app.control.inspect(timeout=timeout_s).active_queues() or {}
    except (OperationalError, OSError) as exc:
        log.info("could not ask the workers: %s", exc)
        return None
    finally:
        app.close()
    found: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for q in queues or []:
            if isinstance(q, dict) and isinstance(q.get("name"), str):
                found.setdefault(q["name"], []).append(worker)
    return found


def workers_for(found: dict[str, list[str]], queue: str) -> list[str]:
    """The live workers serving `queue` (the embedded worker serves every queue)."""
    return sorted(found.get(queue, []) + found.get("*", []))


def no_worker_note(queue: str, embedded: bool) -> str:
    if embedded:
        return (
            "no embedded worker is running for this KWRIGHT_HOME: `kwright watch JOB` or "
            "`kwright worker` starts one"
        )
    return (
        f"no live worker consumes queue {queue} (asked the workers for {ASK_TIMEOUT_S:g} s): "
        f"its jobs wait until one starts (`kwright worker --queues {queue}`)"
    )

"""Queued jobs whose message is gone: found by the sweepers and published again.

The store can say a job is `queued` while no message for it is left in the broker:

* Celery drops a message whose retry cannot be published (`Task.retry` raises `Reject`
  without requeue when the broker is down; a worker retries a delivery when the store is
  unreachable, and the store is the same Redis);
* a worker killed while it holds a message it has not claimed yet (a retry waiting for
  its countdown, a message just fetched) leaves it unacknowledged in the broker, where
  kombu restores it only after the visibility timeout (hours);
* a sweeper killed between taking a job back and publishing it takes the publish along.

The leases cannot see these (nobody ever claimed the job), so every sweeper also looks for
jobs queued longer than `KWRIGHT_ORPHAN_AFTER_S`, and reads the broker (kombu's Redis
layout: one list per queue and priority step, and the hash of unacknowledged messages with
its index of delivery times). A stale job with no message waiting in a list and none
delivered within that time is stamped once in the store (of several sweepers one wins) and
published again. A message that turns up later anyway is a harmless duplicate: the job is
running or finished by then, and a delivery that finds it so is dropped.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from kombu.transport.redis import Channel

from worker.fleet.jobs import Job
from worker.fleet.store import JobStore, queued_since

log = logging.getLogger(__name__)


def _task_id(raw: bytes | str) -> str | None:
    """The task id (our job id) of a kombu message envelope; None if it is not one."""
    try:
        message: Any = json.loads(raw)
    except ValueError:
        return None
    if isinstance(message, list) and message:  # unacked: [message, exchange, routing key]
        message = message[0]
    headers = message.get("headers") if isinstance(message, dict) else None
    task_id = headers.get("id") if isinstance(headers, dict) else None
    return task_id if isinstance(task_id, str) else None


def queue_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps for `queue`, one per priority step."""
    return [queue if pri == 0 else f"{queue}{Channel.sep}{pri}" for pri in Channel.priority_steps]


def broker_job_ids(client: Any, queues: Iterable[str], fresh_s: float) -> set[str]:
    """Ids of the jobs with a message waiting on `queues`, or delivered within `fresh_s`
    and not yet acknowledged (its worker may still claim it)."""
    ids: set[str] = set()
    for queue in queues:
        for key in queue_keys(queue):
            ids.update(i for raw in client.lrange(key, 0, -1) if (i := _task_id(raw)))
    tags = client.zrangebyscore(Channel.unacked_index_key, time.time() - fresh_s, "+inf")
    if tags:
        raws = client.hmget(Channel.unacked_key, tags)
        ids.update(i for raw in raws if raw is not None and (i := _task_id(raw)))
    return ids


def find_orphans(store: JobStore, client: Any, after_s: float) -> list[Job]:
    """The jobs queued over `after_s` with no message: stamped, to be published again."""
    stale = store.stale_queued(after_s)
    if not stale:
        return []
    present = broker_job_ids(client, {j.spec.queue for j in stale}, after_s)
    orphans = []
    for job in stale:
        if job.id in present:
            continue
        stamped = store.restamp_orphan(job.id, queued_since(job))
        if stamped is not None:
            log.warning(
                "job %s: queued %.0f s with no message in the broker (lost with a worker or "
                "a failed retry); publishing it again",
                job.id,
                time.time() - queued_since(job),
            )
            orphans.append(stamped)
    return orphans


def broker_orphan_finder(
    store: JobStore, broker_url: str, after_s: float, timeout_s: float
) -> Callable[[], list[Job]]:
    """A finder for the sweeper: `find_orphans` over its own client of the broker."""
    import redis  # noqa: PLC0415 - heavy library, imported where used

    client = redis.Redis.from_url(
        broker_url, socket_connect_timeout=timeout_s, socket_timeout=max(10.0, timeout_s)
    )

    def find() -> list[Job]:
        try:
            return find_orphans(store, client, after_s)
        except redis.RedisError as exc:
            log.warning("sweeper: cannot read the broker for lost messages (%s)", exc)
            return []

    return find

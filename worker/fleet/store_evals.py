"""Candidate evaluations in Redis: what a job's evaluation tasks and its waiting round share.

One record per candidate evaluation (worker/fleet/candidates.py), key `kwright:eval:<id>`
(a JSON string), indexed per job in `kwright:job:<job id>:evals`. It carries what the
evaluating worker needs (the problem as the job carries it, the candidate's source, the
evaluation options, the run id: no secret) and, once done, the verdict. Records expire a
week after they are written.

The transitions mirror a job's (worker/fleet/store.py), on a smaller scale:

* `claim` starts a delivery of a queued evaluation: it counts the delivery (the fencing
  token) and sets a lease; an evaluation that is running or done is not started again
  (a duplicate message is dropped);
* `heartbeat` renews the lease while the evaluation runs;
* `finish` records the verdict once, only from the current delivery;
* `requeue_lapsed` is the waiting job's move when the lease lapsed by a grace period (the
  evaluating worker was lost): queued again to be published afresh, or, once its deliveries
  are used up, finished with an `error` verdict that says so.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import redis
from pydantic import BaseModel, Field, ValidationError

from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import ErrorKind, EvalResult, Status
from worker.fleet.jobs import ProblemRef, now
from worker.fleet.store_redis import PREFIX
from worker.fleet.store_types import StoreUnavailable, redact

R = TypeVar("R")
EVAL_TTL_S = 7 * 24 * 3600
EvalStatus = Literal["queued", "running", "done"]


def new_eval_id() -> str:
    return "ev-" + secrets.token_hex(6)


class EvalDelivery(BaseModel):
    """One start of an evaluation: by which worker process, when, and how it ended."""

    n: int
    worker: str  # Celery hostname, or the job's own worker when it evaluated it itself
    pid: int
    started_at: float
    ended_at: float | None = None
    end: str | None = None  # "done", "lost: ..."


class EvalRecord(BaseModel):
    id: str
    job_id: str
    run_id: str
    attempt: int | None = None  # for the record; the loop numbers attempts itself
    problem: ProblemRef
    source: str
    options: EvalOptions
    queue: str  # the evaluation queue it is published to
    status: EvalStatus = "queued"
    deliveries: int = 0
    lease_until: float | None = None
    queued_at: float = Field(default_factory=now)
    history: list[EvalDelivery] = Field(default_factory=list)
    result: EvalResult | None = None

    def lapsed(self, grace_s: float, at: float | None = None) -> bool:
        return (
            self.status == "running"
            and self.lease_until is not None
            and self.lease_until + grace_s < (at or now())
        )


class EvalNotFound(KeyError):
    def __str__(self) -> str:
        return f"no such evaluation: {self.args[0]}"


Change = Callable[[EvalRecord], tuple[EvalRecord | None, R]]


class EvalStore:
    """The evaluation records of the fleet's Redis (the job store's server)."""

    def __init__(self, url: str, *, connect_timeout_s: float = 3.0) -> None:
        self.location = redact(url)
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=max(10.0, connect_timeout_s),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _key(eval_id: str) -> str:
        return f"{PREFIX}eval:{eval_id}"

    @staticmethod
    def _index(job_id: str) -> str:
        return f"{PREFIX}job:{job_id}:evals"

    def _call(self, fn: Callable[[], R]) -> R:
        try:
            return fn()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"evaluation store {self.location}: {exc}") from exc

    def add(self, record: EvalRecord) -> None:
        def write() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.set(self._key(record.id), record.model_dump_json(), ex=EVAL_TTL_S)
            pipe.zadd(self._index(record.job_id), {record.id: record.queued_at})
            pipe.expire(self._index(record.job_id), EVAL_TTL_S)
            pipe.execute()

        self._call(write)

    def get(self, eval_id: str) -> EvalRecord | None:
        raw = self._call(lambda: self.client.get(self._key(eval_id)))
        return None if raw is None else _parse(eval_id, str(raw))

    def for_job(self, job_id: str) -> list[EvalRecord]:
        """A job's evaluations, oldest first."""
        ids = self._call(lambda: self.client.zrange(self._index(job_id), 0, -1))
        found = (self.get(str(i)) for i in ids)
        return [r for r in found if r is not None]

    def _transact(self, eval_id: str, change: Change[R]) -> R:
        key = self._key(eval_id)
        box: list[R] = []

        def txn(pipe: Any) -> None:
            box.clear()
            raw = pipe.get(key)
            if raw is None:
                raise EvalNotFound(eval_id)
            new, result = change(_parse(eval_id, str(raw)))
            pipe.multi()
            if new is not None:
                pipe.set(key, new.model_dump_json(), ex=EVAL_TTL_S)
            box.append(result)

        self._call(lambda: self.client.transaction(txn, key))
        return box[0]

    # ------------------------------------------------------------ transitions
    def claim(self, eval_id: str, worker: str, pid: int, lease_s: float) -> int | None:
        """Start a delivery of a queued evaluation; its number, or None (running or done)."""

        def change(rec: EvalRecord) -> tuple[EvalRecord | None, int | None]:
            if rec.status != "queued":
                return None, None
            t = now()
            rec.status, rec.deliveries, rec.lease_until = "running", rec.deliveries + 1, t + lease_s
            rec.history.append(EvalDelivery(n=rec.deliveries, worker=worker, pid=pid, started_at=t))
            return rec, rec.deliveries

        return self._transact(eval_id, change)

    def heartbeat(self, eval_id: str, delivery: int, lease_s: float) -> bool:
        """Renew the lease; False if this delivery no longer holds the evaluation."""

        def change(rec: EvalRecord) -> tuple[EvalRecord | None, bool]:
            if rec.status != "running" or rec.deliveries != delivery:
                return None, False
            rec.lease_until = now() + lease_s
            return rec, True

        return self._transact(eval_id, change)

    def finish(self, eval_id: str, delivery: int, result: EvalResult) -> bool:
        def change(rec: EvalRecord) -> tuple[EvalRecord | None, bool]:
            if rec.status != "running" or rec.deliveries != delivery:
                return None, False
            rec.status, rec.result, rec.lease_until = "done", result, None
            _end(rec, "done", now())
            return rec, True

        return self._transact(eval_id, change)

    def requeue_lapsed(
        self, eval_id: str, grace_s: float, max_deliveries: int
    ) -> EvalRecord | None:
        """A running evaluation whose lease lapsed by `grace_s`: its worker was lost. It is
        queued again (to be published), or done with an `error` verdict once it was
        started `max_deliveries` times. Returns the record as changed, or None."""

        def change(rec: EvalRecord) -> tuple[EvalRecord | None, EvalRecord | None]:
            t = now()
            if not rec.lapsed(grace_s, t):
                return None, None
            last = rec.history[-1] if rec.history else None
            where = f"{last.worker} (pid {last.pid})" if last else "its worker"
            _end(rec, f"lost: {where} stopped renewing its lease", t)
            if rec.deliveries >= max_deliveries:
                lost = "; ".join(f"#{d.n} {d.worker} pid {d.pid}: {d.end}" for d in rec.history)
                rec.status, rec.lease_until = "done", None
                rec.result = EvalResult(
                    status=Status.ERROR,
                    error_kind=ErrorKind.INFRA,
                    problem_id=rec.problem.id,
                    reason=f"the worker evaluating this candidate was lost "
                    f"{rec.deliveries} time(s) ({lost}); the candidate was not judged",
                )
            else:
                rec.status, rec.lease_until, rec.queued_at = "queued", None, t
            return rec, rec

        return self._transact(eval_id, change)


def _end(rec: EvalRecord, how: str, t: float) -> None:
    if rec.history and rec.history[-1].ended_at is None:
        rec.history[-1].ended_at, rec.history[-1].end = t, how


def _parse(eval_id: str, raw: str) -> EvalRecord:
    try:
        return EvalRecord.model_validate_json(raw)
    except ValidationError as exc:
        raise StoreUnavailable(f"evaluation {eval_id}: malformed record: {exc}") from exc

"""The fleet's job store in Redis (by default the broker's own server).

Keys (prefix `kwright:`): `job:<id>` is a hash with `spec`, `state` and `progress` (JSON);
`job:<id>:attempts` maps attempt numbers to records (HSETNX: written once); `jobs` and
`batch:<id>` are sorted sets of job ids by submission time; `running` is the set of
running jobs' ids (what a sweep reads). A state change is an
optimistic transaction (WATCH the job, read, MULTI/EXEC; retried on conflict).

Run Redis with `appendonly yes` so a restart loses neither queued messages nor jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from pydantic import ValidationError
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from agents.rundir import AttemptRecord
from worker.fleet.jobs import Job, JobProgress, JobSpec, JobState, MalformedJob
from worker.fleet.store import Change, JobNotFound, JobStore, StoreUnavailable, T, redact

log = logging.getLogger(__name__)

PREFIX = "kwright:"
RUNNING = f"{PREFIX}running"  # the ids of running jobs, kept with their state (sweeps)
# A patient client rides out ~1 minute of outage (a Redis restart), a fast one none.
PATIENT_RETRIES = 20


class RedisJobStore(JobStore):
    def __init__(self, url: str, *, connect_timeout_s: float = 3.0, patient: bool = False) -> None:
        self.location = redact(url)
        retry = (
            Retry(ExponentialBackoff(cap=4.0, base=0.25), PATIENT_RETRIES)
            if patient
            else Retry(NoBackoff(), 0)
        )
        try:
            self.client: redis.Redis = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=connect_timeout_s,
                socket_timeout=max(10.0, connect_timeout_s),
                retry=retry,
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                health_check_interval=30,
            )
        except ValueError as exc:
            raise StoreUnavailable(f"job store {self.location}: {exc}") from exc

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"cannot reach the job store at {self.location}: {exc}") from exc
        except redis.ResponseError as exc:
            raise StoreUnavailable(f"job store {self.location}: {exc}") from exc

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _key(job_id: str) -> str:
        return f"{PREFIX}job:{job_id}"

    def _job(self, job_id: str, fields: list[Any]) -> Job:
        spec, state, progress = fields
        try:
            return Job(
                spec=JobSpec.model_validate_json(spec),
                state=JobState.model_validate_json(state),
                progress=JobProgress.model_validate_json(progress) if progress else None,
            )
        except ValidationError as exc:
            raise MalformedJob(f"job {job_id}: malformed record in {self.location}: {exc}") from exc

    def ping(self) -> None:
        with self._errors():
            self.client.ping()

    def add(self, jobs: list[Job]) -> None:
        with self._errors():
            pipe = self.client.pipeline(transaction=True)
            for j in jobs:
                pipe.hset(
                    self._key(j.id),
                    mapping={"spec": j.spec.model_dump_json(), "state": j.state.model_dump_json()},
                )
                pipe.zadd(f"{PREFIX}jobs", {j.id: j.spec.submitted_at})
                pipe.zadd(f"{PREFIX}batch:{j.spec.batch}", {j.id: j.spec.submitted_at})
            pipe.execute()

    def get(self, job_id: str) -> Job | None:
        with self._errors():
            fields = self.client.hmget(self._key(job_id), ["spec", "state", "progress"])
        if fields[0] is None or fields[1] is None:
            return None
        return self._job(job_id, fields)

    def _many(self, ids: list[str]) -> list[Job]:
        with self._errors():
            pipe = self.client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self._key(job_id), ["spec", "state", "progress"])
            rows = pipe.execute()
        return [self._job(i, r) for i, r in zip(ids, rows, strict=True) if r[0] and r[1]]

    def list_jobs(self, *, batch: str | None = None, limit: int = 50) -> list[Job]:
        with self._errors():
            if batch is not None:
                ids = self.client.zrange(f"{PREFIX}batch:{batch}", 0, -1)
            else:
                ids = self.client.zrevrange(f"{PREFIX}jobs", 0, max(limit, 1) - 1)
        return self._many([str(i) for i in ids])

    def _transact(self, job_id: str, change: Change[T]) -> T:
        key = self._key(job_id)
        box: list[T] = []

        def txn(pipe: Any) -> None:
            box.clear()
            spec_raw, state_raw = pipe.hmget(key, ["spec", "state"])
            if spec_raw is None or state_raw is None:
                raise JobNotFound(job_id)
            try:
                spec = JobSpec.model_validate_json(spec_raw)
                state = JobState.model_validate_json(state_raw)
            except ValidationError as exc:
                raise MalformedJob(f"job {job_id}: malformed record: {exc}") from exc
            new, result = change(spec, state)
            pipe.multi()
            if new is not None:
                pipe.hset(key, "state", new.model_dump_json())
                if new.status == "running":
                    pipe.sadd(RUNNING, job_id)
                else:
                    pipe.srem(RUNNING, job_id)
            box.append(result)

        with self._errors():
            self.client.transaction(txn, key)
        return box[0]

    def queued_jobs(self, queues: Iterable[str] | None) -> list[Job]:
        """One read of every job (not a read of the ids, then one per queued job)."""
        allowed = None if queues is None else set(queues)
        with self._errors():
            ids = [str(i) for i in self.client.zrange(f"{PREFIX}jobs", 0, -1)]
        return [
            j
            for j in self._many(ids)
            if j.status == "queued" and (allowed is None or j.spec.queue in allowed)
        ]

    def queued_ids(self, queues: Iterable[str] | None) -> list[str]:
        return [j.id for j in self.queued_jobs(queues)]

    def _running_ids(self) -> list[str]:
        with self._errors():
            return sorted(str(i) for i in self.client.smembers(RUNNING))

    def set_progress(self, job_id: str, progress: JobProgress) -> None:
        with self._errors():
            self.client.hset(self._key(job_id), "progress", progress.model_dump_json())

    def _add_attempt(self, job_id: str, record: AttemptRecord) -> bool:
        with self._errors():
            added = self.client.hsetnx(
                f"{self._key(job_id)}:attempts", str(record.attempt), record.model_dump_json()
            )
        return bool(added)

    def attempts(self, job_id: str) -> list[AttemptRecord]:
        with self._errors():
            raw = self.client.hgetall(f"{self._key(job_id)}:attempts")
        records = [AttemptRecord.model_validate_json(v) for v in raw.values()]
        return sorted(records, key=lambda r: r.attempt)

"""The embedded job store: one SQLite file under KWRIGHT_HOME, no server.

Each call opens its own connection (safe across threads and processes); a state change is
one `BEGIN IMMEDIATE` transaction. WAL mode lets `kwright status` read while a worker
writes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from agents.rundir import AttemptRecord
from worker.fleet.jobs import Job, JobProgress, JobSpec, JobState, MalformedJob
from worker.fleet.store import Change, JobNotFound, JobStore, StoreUnavailable, T

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    queue TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, submitted_at);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch, submitted_at);
CREATE TABLE IF NOT EXISTS attempts (
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
"""


class SqliteJobStore(JobStore):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"job store {self.path}: {exc}") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"job store {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"job store {self.path}: {exc}") from exc
        finally:
            conn.close()

    def _job(self, row: tuple[str, str, str | None]) -> Job:
        spec, state, progress = row
        try:
            return Job(
                spec=JobSpec.model_validate_json(spec),
                state=JobState.model_validate_json(state),
                progress=JobProgress.model_validate_json(progress) if progress else None,
            )
        except ValidationError as exc:
            raise MalformedJob(f"malformed job record in {self.path}: {exc}") from exc

    def add(self, jobs: list[Job]) -> None:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO jobs (id, batch, queue, status, submitted_at, spec, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        j.id,
                        j.spec.batch,
                        j.spec.queue,
                        j.state.status,
                        j.spec.submitted_at,
                        j.spec.model_dump_json(),
                        j.state.model_dump_json(),
                    )
                    for j in jobs
                ],
            )
            conn.execute("COMMIT")

    def get(self, job_id: str) -> Job | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT spec, state, progress FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return self._job(row) if row else None

    def list_jobs(self, *, batch: str | None = None, limit: int = 50) -> list[Job]:
        with self._connect() as conn:
            if batch is not None:
                rows = conn.execute(
                    "SELECT spec, state, progress FROM jobs WHERE batch = ? ORDER BY submitted_at",
                    (batch,),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT spec, state, progress FROM jobs ORDER BY submitted_at DESC LIMIT ?",
                    (limit,),
                ).fetchall()
        return [self._job(r) for r in rows]

    def _transact(self, job_id: str, change: Change[T]) -> T:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT spec, state FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                if row is None:
                    raise JobNotFound(job_id)
                try:
                    spec = JobSpec.model_validate_json(row[0])
                    state = JobState.model_validate_json(row[1])
                except ValidationError as exc:
                    raise MalformedJob(f"job {job_id}: malformed record: {exc}") from exc
                new, result = change(spec, state)
                if new is not None:
                    conn.execute(
                        "UPDATE jobs SET state = ?, status = ? WHERE id = ?",
                        (new.model_dump_json(), new.status, job_id),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return result

    def queued_ids(self, queues: Iterable[str] | None) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, queue FROM jobs WHERE status = 'queued' ORDER BY submitted_at"
            ).fetchall()
        wanted = None if queues is None else set(queues)
        return [r[0] for r in rows if wanted is None or r[1] in wanted]

    def _running_ids(self) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id FROM jobs WHERE status = 'running'").fetchall()
        return [r[0] for r in rows]

    def set_progress(self, job_id: str, progress: JobProgress) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET progress = ? WHERE id = ?", (progress.model_dump_json(), job_id)
            )

    def _add_attempt(self, job_id: str, record: AttemptRecord) -> bool:
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO attempts (job_id, attempt, record) VALUES (?, ?, ?)",
                (job_id, record.attempt, record.model_dump_json()),
            )
            return cur.rowcount == 1

    def attempts(self, job_id: str) -> list[AttemptRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT record FROM attempts WHERE job_id = ? ORDER BY attempt", (job_id,)
            ).fetchall()
        return [AttemptRecord.model_validate_json(r[0]) for r in rows]

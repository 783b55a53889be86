"""The embedded worker: the fleet's job loop on one machine, with no broker.

With no `KWRIGHT_BROKER_URL`, `kwright submit` records jobs in the SQLite store under
`KWRIGHT_HOME` and starts this worker as a detached background process (unless one is
already running for that home); it runs the queued jobs oldest first and exits after a
minute with nothing to do (`KWRIGHT_EMBEDDED_IDLE_EXIT_S`). `kwright worker` without a broker runs it in the foreground.
Its log is `$KWRIGHT_HOME/worker.log`.

One embedded worker per KWRIGHT_HOME (a lock file says which process it is), so any job
still marked running when one starts was left by a worker that died: it is put back in
the queue and resumes from its run directory; while it runs, its sweeper does the same
for a job whose lease lapsed (a store shared with other workers). Jobs stop at the soft
time limit between rounds (there is no hard kill here).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import worker
from sandbox.defaults import sandbox_for
from worker.config import Settings, api_key_from_env
from worker.fleet.execute import WorkerContext, execute_job
from worker.fleet.store import JobStore, StoreUnavailable
from worker.fleet.store_open import open_store
from worker.fleet.sweeper import Sweeper

log = logging.getLogger(__name__)

LOCK_FILE = "embedded-worker.lock"
LOG_FILE = "worker.log"
POLL_S = 0.5


class WorkerRunning(RuntimeError):
    """Another embedded worker already serves this KWRIGHT_HOME."""


class HomeLock:
    """An exclusive flock on $KWRIGHT_HOME/embedded-worker.lock, holding the owner's pid."""

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def holder(self) -> int | None:
        """The pid of the process holding the lock, or None if nobody holds it."""
        if self._fh is not None:
            return os.getpid()
        if not self.path.is_file():
            return None
        with self.path.open("a+", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                text = fh.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fh, fcntl.LOCK_UN)
            return None


class EmbeddedWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        queues: list[str] | None = None,
        concurrency: int = 1,
        idle_exit_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.queues = queues  # None: every queue (this machine is the whole fleet)
        self.concurrency = concurrency
        self.idle_exit_s = idle_exit_s
        self.lock = HomeLock(settings.home)
        self.name = f"embedded@{socket.gethostname()}"

    def run(self) -> None:
        if not self.lock.acquire():
            raise WorkerRunning(
                f"an embedded worker already serves {self.settings.home} (pid {self.lock.holder()})"
            )
        store = open_store(self.settings, patient=True)
        log.info("embedded worker %s (pid %d) serving %s", self.name, os.getpid(), store.location)
        try:
            while True:
                moved = store.requeue_running("its worker stopped before it finished; resumed")
                if moved:
                    log.warning("resuming %d job(s) left running: %s", len(moved), ", ".join(moved))
                self._serve(store)
                # Idle: let go of the lock, then look once more, so a job submitted while we
                # were deciding to leave is either seen here or finds the lock free.
                self.lock.release()
                if not store.queued_ids(self.queues) or not self.lock.acquire():
                    return
        finally:
            self.lock.release()
            store.close()

    def _serve(self, store: JobStore) -> None:
        idle_since: list[float | None] = [None] * self.concurrency
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=self._loop, args=(store, i, idle_since, stop), daemon=True, name=f"job-{i}"
            )
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        sweeper = Sweeper(self.settings, store, self.name, publish=None).start()
        try:
            while not stop.wait(POLL_S):
                if self.idle_exit_s is None:
                    continue
                marks = list(idle_since)
                if all(m is not None and time.monotonic() - m > self.idle_exit_s for m in marks):
                    log.info("idle for %.0f s: exiting", self.idle_exit_s)
                    stop.set()
        finally:
            stop.set()
            sweeper.stop()
            for t in threads:
                t.join()

    def _loop(
        self, store: JobStore, index: int, idle_since: list[float | None], stop: threading.Event
    ) -> None:
        from kernelbench.harness.evaluate import detect_device  # torch: only in the worker process  # noqa: PLC0415 - heavy library, imported where used

        s = self.settings
        owner = f"{self.name}:{os.getpid()}:{index}"
        with sandbox_for(s.sandbox) as box:
            ctx = WorkerContext(
                store=store,
                home=s.home,
                sandbox=box,
                device=detect_device(),
                api_key=api_key_from_env(),
                name=self.name,
                lease_s=s.lease_s,
            )
            idle_since[index] = time.monotonic()
            while not stop.is_set():
                try:
                    claim = store.claim_next(self.queues, owner, s.lease_s, s.max_deliveries)
                    if claim is None:
                        stop.wait(POLL_S)
                        continue
                    idle_since[index] = None
                    log.info("job %s: starts (%s)", claim.job.id, claim.job.spec.problem.id)
                    execute_job(ctx, claim, soft_limit_s=s.soft_time_limit_s)
                except StoreUnavailable as exc:
                    log.error("%s; retrying", exc)
                    stop.wait(5.0)
                finally:
                    if idle_since[index] is None:
                        idle_since[index] = time.monotonic()


def spawn_embedded_worker(settings: Settings) -> int | None:
    """Start a detached embedded worker unless one serves this home; its pid, or None."""
    lock = HomeLock(settings.home)
    if lock.holder() is not None:
        return None
    settings.home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    root = str(Path(worker.__file__).resolve().parent.parent)  # runs from a checkout, too
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["KWRIGHT_HOME"] = str(settings.home)
    with (settings.home / LOG_FILE).open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "worker.cli",
                "worker",
                "--idle-exit",
                f"{settings.embedded_idle_exit_s:g}",
            ],
            cwd=settings.home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("started an embedded worker (pid %d), log %s", proc.pid, settings.home / LOG_FILE)
    return proc.pid

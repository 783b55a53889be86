"""Real fleet processes for tests and benchmarks: Celery workers started as a user would
(`kwright worker` or the plain `celery -A worker.fleet.celery_app worker`), in their own process
groups, killed by pid."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import redis

from sandbox.cleanup import pid_alive
from tests.conftest import ROOT, kwright
from worker.fleet.jobs import Job
from worker.fleet.store_redis import RedisJobStore

T = TypeVar("T")
PROBLEM = "level1/2_ReLU"

# A Coder reply with no code: an attempt that costs no evaluation (the queue is under
# test, not the harness); the Judge then answers in repair mode.
NO_CODE = "I would fuse the elementwise ops into one pass, but here is no code yet."
REPAIR = (
    '{"critical_issue": "no code block", "why_it_matters": "nothing to run", '
    '"minimal_fix": "answer with one fenced python block"}'
)


def fleet_env(home: Path, broker_url: str, **settings: object) -> dict[str, str]:
    """Environment for workers and the CLI: KWRIGHT_ settings (keyword names without the
    prefix), the test API key, and the `none` sandbox (the fastest to start)."""
    env = {
        "KWRIGHT_HOME": str(home),
        "KWRIGHT_BROKER_URL": broker_url,
        "KWRIGHT_API_KEY": "sk-test-not-a-real-key",
        "KWRIGHT_SANDBOX": "none",
        "KWRIGHT_QUEUE": "cpu",
    }
    env.update({f"KWRIGHT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def wait_for(what: Callable[[], T | None], timeout: float, message: str, poll: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")


class WorkerProcess:
    """One Celery worker (main process + prefork pool) in its own process group."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        logdir: Path,
        *,
        plain_celery: bool = False,
        concurrency: int = 1,
        queues: str = "cpu",
    ) -> None:
        self.name = name
        self.log = logdir / f"worker-{name}.log"
        if plain_celery:
            args = ["-m", "celery", "-A", "worker.fleet.celery_app", "worker", "-Q", queues]
            args += ["-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO"]
        else:
            args = ["-m", "worker.cli", "worker", "--queues", queues]
            args += ["--concurrency", str(concurrency), "--hostname", f"{name}@%h"]
        self.argv = [sys.executable, *args]
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self, ready_timeout: float = 120) -> WorkerProcess:
        return self.launch().wait_ready(ready_timeout)

    def launch(self) -> WorkerProcess:
        """Start the process without waiting for it to be ready (see `wait_ready`)."""
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def wait_ready(self, ready_timeout: float = 120) -> WorkerProcess:
        assert self.proc is not None
        wait_for(
            lambda: self.proc is not None and (self.proc.poll() is not None or self.ready()),
            ready_timeout,
            f"worker {self.name} to be ready ({self.log})",
        )
        if self.proc.poll() is not None:
            raise AssertionError(f"worker {self.name} exited: {self.log_text()[-3000:]}")
        return self

    def ready(self) -> bool:
        return " ready." in self.log_text(self._offset)

    def log_text(self, offset: int = 0) -> str:
        try:
            return self.log.read_bytes()[offset:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_all(self) -> None:
        """SIGKILL the whole worker (main process and pool), like a machine dying."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
        with contextlib.suppress(ProcessLookupError):  # pool children that outlived it
            os.killpg(self.proc.pid, signal.SIGKILL)


def submit_llm_jobs(env: dict[str, str], base_url: str, n: int, rounds: int) -> list[str]:
    """`kwright submit` of `n` jobs of PROBLEM with the LLM agent at `base_url`; their ids."""
    r = kwright(
        "submit",
        *[PROBLEM] * n,
        "--agent",
        "llm",
        "--base-url",
        base_url,
        "--rounds",
        str(rounds),
        "--patience",
        str(rounds),
        "--retries",
        "0",
        "--json",
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return [j["job_id"] for j in json.loads(r.stdout)["jobs"]]


def running_with_attempts(store: RedisJobStore, ids: list[str], worker: str) -> Job | None:
    """A job `worker` is running that already has a finished attempt (so a kill now must
    resume it, not restart it)."""
    for job in store._many(ids):
        if (
            job.status == "running"
            and not job.lease_lapsed()
            and (job.state.owner or "").startswith(f"{worker}@")
            and pid_alive(owner_pid(job.state.owner))
            and job.progress is not None
            and job.progress.round >= 2
            and job.progress.phase == "coder"
            and store.attempts(job.id)
        ):
            return job
    return None


def owner_pid(owner: str | None) -> int | None:
    """`w1@host:1234` -> 1234 (the pool process running a job)."""
    if not owner or ":" not in owner:
        return None
    tail = owner.rsplit(":", 1)[1]
    return int(tail) if tail.isdigit() else None


class StallProbe:
    """The longest the broker went unanswered, over and above a ping every `period_s`.

    A stalled machine (a busy disk holding up Redis's fsync, a starved CPU) or the Redis
    restart delays every sweeper alike; a recovery bound is a claim about a machine that
    runs, so tests add the stall they measured beside it to the bound they assert."""

    def __init__(self, url: str, period_s: float = 0.2) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self.period_s = period_s
        self.max_stall_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-probe", daemon=True)

    def start(self) -> StallProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.client.close()

    def _run(self) -> None:
        answered = time.monotonic()
        while not self._stop.wait(self.period_s):
            try:
                self.client.ping()
            except redis.RedisError:
                continue  # down (the restart): the gap grows until it answers again
            t = time.monotonic()
            self.max_stall_s = max(self.max_stall_s, t - answered - self.period_s)
            answered = t

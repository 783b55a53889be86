"""The embedded default: no broker, jobs in SQLite under KWRIGHT_HOME, run by a detached
local worker that `kwright submit` starts. Every job command works the same way."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import pytest

from agents.config import AgentConfig
from kernelbench.problems.registry import resolve_problem
from tests.conftest import kwright
from tests.fake_openai import FakeOpenAI, Scripted
from tests.fleet import NO_CODE, wait_for
from tests.test_agents_loop import GOOD, OPTIMIZE, fenced
from worker.config import Settings
from worker.fleet.embedded import HomeLock
from worker.fleet.store_open import open_store
from worker.fleet.submit import make_jobs

PROBLEM = "level1/2_ReLU"


@pytest.fixture
def home(tmp_path):
    """KWRIGHT_HOME; the embedded worker a test started is killed (by its pid) at the end."""
    path = tmp_path / "home"
    yield path
    pid = HomeLock(path).holder()
    if pid and pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def env_for(home, **extra: str) -> dict[str, str]:
    env = {
        "KWRIGHT_HOME": str(home),
        "KWRIGHT_API_KEY": "sk-test-not-a-real-key",
        "KWRIGHT_SANDBOX": "none",
        "KWRIGHT_BROKER_URL": "",
        "KWRIGHT_QUEUE": "cpu",
        "KWRIGHT_EMBEDDED_IDLE_EXIT_S": "5",
        "KWRIGHT_LEASE_S": "6",
    }
    env.update(extra)
    return env


def submit(env, fake, *extra: str) -> str:
    r = kwright(
        "submit", PROBLEM, "--agent", "llm", "--base-url", fake.base_url, "--json", *extra, env=env
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "embedded" and out["queue"] == "cpu"
    return out["jobs"][0]["job_id"]


def store_of(home):
    return open_store(Settings(home=home, broker_url=None))


@pytest.mark.slow
def test_submit_watch_results_without_a_broker(home):
    env = env_for(home)
    with FakeOpenAI() as fake:
        fake.script("coder", Scripted(content=fenced(GOOD)))
        fake.script("judge", Scripted(content=OPTIMIZE))
        job = submit(env, fake, "--rounds", "1")
        watched = kwright("watch", job, "--interval", "0.5", env=env, timeout=400)
    assert watched.returncode == 0, watched.stderr[-2000:]
    res = kwright("results", job, env=env)
    # Piped, stdout is exactly the kernel (`results J > best.py`); the verdict goes to stderr.
    assert res.returncode == 0 and res.stdout.strip() == GOOD.strip() and "correct" in res.stderr
    listed = kwright("status", "--json", env=env)
    assert [j["status"] for j in json.loads(listed.stdout)] == ["done"]
    assert "sk-test" not in (home / "jobs.sqlite").read_bytes().decode(errors="replace")
    # The worker `submit` started leaves once idle.
    wait_for(lambda: HomeLock(home).holder() is None, 60, "the embedded worker to exit")


@pytest.mark.slow
def test_a_killed_embedded_worker_is_resumed_without_redoing_attempts(home):
    env = env_for(home)
    store = store_of(home)
    with FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=1.5)
        job = submit(env, fake, "--rounds", "3", "--patience", "3")
        wait_for(lambda: len(store.attempts(job)) >= 1, 120, "a first attempt")
        pid = HomeLock(home).holder()
        assert pid and pid > 0
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        assert store.require(job).status == "running"  # its worker is gone
        # `watch` starts a new embedded worker, which puts the job back and resumes it.
        watched = kwright("watch", job, "--json", env=env, timeout=300)
        coder_calls = len(fake.requests_for("coder"))
    assert watched.returncode == 1  # done, but no correct kernel (the Coder sent no code)
    final = store.require(job)
    assert final.status == "done" and final.state.deliveries == 2
    assert final.state.completions == 1 and final.state.duplicate_attempts == 0
    assert [a.attempt for a in store.attempts(job)] == [1, 2, 3]
    assert 3 <= coder_calls <= 4  # at most the attempt in flight was redone


def test_cancel_a_running_job(home):
    env = env_for(home)
    with FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=1.0)
        job = submit(env, fake, "--rounds", "50", "--patience", "50")
        store = store_of(home)
        wait_for(lambda: store.require(job).status == "running", 120, "the job to start")
        r = kwright("cancel", job, env=env)
        assert r.returncode == 0 and "stops after its current round" in r.stdout
        wait_for(lambda: store.require(job).status == "cancelled", 120, "the job to stop")
    status = kwright("status", job, "--json", env=env)
    assert status.returncode == 1
    detail = json.loads(status.stdout)
    assert detail["status"] == "cancelled" and len(detail["ledger"]) < 50
    again = kwright("cancel", job, env=env)
    assert again.returncode == 1 and "already finished" in again.stdout


def test_bad_input_is_one_line_and_exit_2(home):
    env = env_for(home)
    cases = [
        (["submit", "level1/999_Nope"], "no such problem"),
        (["submit", PROBLEM, "--queue", "GPU H100"], "not a queue name"),
        (["submit", PROBLEM, "--agent", "llm"], "needs an endpoint"),
        (["submit"], "name at least one PROBLEM"),
        (["status", "j-0000000000"], "no such job"),
        (["results", "b-00000000"], "results takes a job id"),
    ]
    no_key = dict(env, KWRIGHT_API_KEY="", OPENAI_API_KEY="")
    for args, message in cases:
        r = kwright(*args, env=no_key)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2, (args, r.stderr)
        assert len(lines) == 1 and message in lines[0], (args, r.stderr)
    bad_setting = kwright("status", env=dict(env, KWRIGHT_LEASE_S="-1"))
    assert bad_setting.returncode == 2 and "KWRIGHT_LEASE_S" in bad_setting.stderr


def test_one_embedded_worker_per_home(home):
    lock = HomeLock(home)
    assert lock.acquire()
    try:
        r = kwright("worker", env=env_for(home))
        assert r.returncode == 1 and f"(pid {os.getpid()})" in r.stderr
    finally:
        lock.release()


def test_status_without_a_broker_says_when_no_embedded_worker_runs(home):
    store_of(home).add(make_jobs([resolve_problem(PROBLEM)], AgentConfig(), "cpu"))
    r = kwright("status", "--json", env=env_for(home), timeout=120)
    assert r.returncode == 0, r.stderr
    assert [j["queue_workers"] for j in json.loads(r.stdout)] == [[]]
    assert "no embedded worker is running" in r.stderr

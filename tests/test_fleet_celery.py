"""The fleet for real: a redis-server, Celery worker processes, the CLI, and the fake
OpenAI-compatible server on loopback. Workers are SIGKILLed mid-job and Redis restarted
mid-run; every job must end done exactly once with no attempt recorded twice."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import redis

from agents.config import AgentConfig
from agents.rundir import ATTEMPT_FILE, RunInfo
from kernelbench.problems.registry import resolve_problem
from tests.conftest import kwright
from tests.fake_openai import FakeOpenAI, Scripted
from tests.fleet import (
    NO_CODE,
    PROBLEM,
    REPAIR,
    WorkerProcess,
    fleet_env,
    owner_pid,
    running_with_attempts,
    submit_llm_jobs,
    wait_for,
)
from tests.redis_server import RedisServer, free_port, needs_redis
from tests.test_agents_loop import GOOD, OPTIMIZE, fenced
from worker.config import Settings
from worker.fleet.jobs import TERMINAL
from worker.fleet.store import StoreUnavailable
from worker.fleet.store_open import open_store
from worker.fleet.store_redis import RedisJobStore
from worker.fleet.submit import BrokerUnavailable, make_jobs
from worker.fleet.submit import submit as submit_jobs

pytestmark = [pytest.mark.redis, needs_redis]


def submit(env: dict[str, str], fake: FakeOpenAI, n: int, rounds: int) -> list[str]:
    return submit_llm_jobs(env, fake.base_url, n, rounds)


@pytest.mark.slow
def test_twenty_jobs_survive_worker_kills_and_a_redis_restart(tmp_path):
    rounds, n_jobs = 2, 20
    with RedisServer(tmp_path / "redis", appendonly=True) as server, FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=1.0)
        fake.defaults["judge"] = Scripted(content=REPAIR)
        env = fleet_env(
            tmp_path / "home",
            server.url,
            soft_time_limit_s=20,
            hard_time_limit_s=25,
            visibility_timeout_s=30,
            lease_s=6,
            unacked_restore_interval_s=1,
            unacked_restore_throttle=1,
            max_deliveries=6,
            max_tasks_per_child=4,
        )
        store = RedisJobStore(server.url, patient=True)
        # w1 is the plain Celery command, w2 `kwright worker`: both must work.
        w1 = WorkerProcess("w1", env, tmp_path, plain_celery=True).start()
        w2 = WorkerProcess("w2", env, tmp_path).start()
        workers = [w1, w2]
        try:
            ids = submit(env, fake, n_jobs, rounds)
            assert len(ids) == n_jobs
            kills: list[str] = []

            # 1: SIGKILL w1's pool process mid-job (Celery requeues it at once).
            job = wait_for(lambda: running_with_attempts(store, ids, "w1"), 120, "w1 mid-job")
            os.kill(owner_pid(job.state.owner), signal.SIGKILL)
            kills.append(job.id)

            # 2: SIGKILL all of w2 mid-job (its message returns after the visibility
            # timeout), then start a fresh worker in its place.
            job = wait_for(lambda: running_with_attempts(store, ids, "w2"), 120, "w2 mid-job")
            w2.kill_all()
            kills.append(job.id)
            w3 = WorkerProcess("w3", env, tmp_path).start()
            workers.append(w3)

            # Redis restarts mid-run (append-only file kept).
            time.sleep(0.5)
            server.restart(down_s=1.0)

            # 3: SIGKILL a pool process mid-job once more.
            job = wait_for(
                lambda: (
                    running_with_attempts(store, ids, "w1")
                    or running_with_attempts(store, ids, "w3")
                ),
                120,
                "a worker mid-job after the restart",
            )
            os.kill(owner_pid(job.state.owner), signal.SIGKILL)
            kills.append(job.id)

            final = wait_for(
                lambda: (
                    (jobs := store._many(ids)) and all(j.status in TERMINAL for j in jobs) and jobs
                ),
                240,
                "all jobs to finish",
                poll=0.5,
            )
            assert w1.alive() and w3.alive(), "a worker did not keep going"
        finally:
            for w in workers:
                w.stop()
        coder_calls = len(fake.requests_for("coder"))
        judge_calls = len(fake.requests_for("judge"))
        ledgers = {j.id: [a.attempt for a in store.attempts(j.id)] for j in final}
        stored = store.list_jobs(limit=100)
        store.close()
    home = tmp_path / "home"
    assert len(final) == n_jobs
    for job in final:
        st = job.state
        assert st.status == "done", (job.id, st.status, st.error, st.outcome)
        assert st.completions == 1 and st.duplicate_attempts == 0, (job.id, st)
        assert st.outcome.attempts == rounds and st.outcome.rounds_run == rounds
        assert ledgers[job.id] == list(range(1, rounds + 1))
        pdir = home / "runs" / job.id / PROBLEM
        dirs = sorted(p.name for p in pdir.iterdir() if p.name.isdigit())  # not reflections/
        assert dirs == [f"{n:03d}" for n in range(1, rounds + 1)], (job.id, dirs)
        assert all((pdir / d / ATTEMPT_FILE).is_file() for d in dirs)
        info = RunInfo.model_validate_json((home / "runs" / job.id / "run.json").read_text())
        assert info.status == "done" and len(info.results[PROBLEM].attempts) == rounds
    for killed in kills:
        assert next(j for j in final if j.id == killed).state.deliveries >= 2, killed
    # No finished attempt was redone: each attempt cost one Coder call, plus at most one
    # per kill for the attempt that was in flight. (A reply without code is not judged.)
    assert n_jobs * rounds <= coder_calls <= n_jobs * rounds + len(kills)
    assert judge_calls == 0
    assert len(stored) == n_jobs  # the restart lost no job
    print(f"kills: {kills}; coder calls {coder_calls}, judge calls {judge_calls}")
    print({j.id: j.state.deliveries for j in final if j.state.deliveries > 1})


@pytest.mark.slow
def test_cli_over_the_fleet_real_evaluation_soft_timeout_and_bad_messages(tmp_path):
    """One worker: a real evaluation end to end through the CLI, a job that hits the soft
    time limit, and malformed messages; the worker keeps serving after each."""
    with RedisServer(tmp_path / "redis", appendonly=False) as server, FakeOpenAI() as fake:
        env = fleet_env(
            tmp_path / "home",
            server.url,
            soft_time_limit_s=90,
            hard_time_limit_s=110,
            visibility_timeout_s=130,
            lease_s=10,
        )
        worker = WorkerProcess("solo", env, tmp_path).start()
        try:
            # Malformed messages first: a non-JSON body, a bad argument, an unknown job.
            client = redis.Redis.from_url(server.url)
            client.lpush("cpu", b"\x00not a kombu message")
            from worker.fleet.celery_app import TASK_NAME, make_app

            app = make_app(Settings(broker_url=server.url, home=tmp_path / "home"))
            app.send_task(TASK_NAME, args=[42], queue="cpu")
            app.send_task(TASK_NAME, args=["j-0123456789"], queue="cpu")

            fake.script("coder", Scripted(content=fenced(GOOD)))
            fake.script("judge", Scripted(content=OPTIMIZE))
            (job,) = submit(env, fake, 1, rounds=1)
            watched = kwright("watch", job, "--interval", "0.5", env=env, timeout=400)
            assert watched.returncode == 0, watched.stderr[-2000:]
            res = kwright("results", job, "--json", env=env)
            assert res.returncode == 0, res.stderr
            out = json.loads(res.stdout)
            assert out["status"] == "done" and out["best"]["status"] == "correct"
            assert "relu_kernel" in out["outcome"]["best_source"]
            assert out["outcome"]["usage"]["cost_usd"] > 0
            assert [a["status"] for a in out["ledger"]] == ["correct"]
            human = kwright("results", job, "--out", str(tmp_path / "best.py"), env=env)
            assert human.returncode == 0 and "correct" in human.stdout
            assert "relu_kernel" in (tmp_path / "best.py").read_text()

            # The soft time limit: a Coder that answers too late; then a normal job.
            worker.stop()
            env_short = dict(env, KWRIGHT_SOFT_TIME_LIMIT_S="4", KWRIGHT_HARD_TIME_LIMIT_S="30")
            env_short["KWRIGHT_VISIBILITY_TIMEOUT_S"] = "40"
            worker = WorkerProcess("solo2", env_short, tmp_path).start()
            fake.script("coder", Scripted(content=NO_CODE, delay_s=8.0))
            (slow,) = submit(env_short, fake, 1, rounds=3)
            fake.script("coder", Scripted(content=NO_CODE))
            fake.script("judge", Scripted(content=REPAIR))
            (quick,) = submit(env_short, fake, 1, rounds=1)
            for j in (slow, quick):
                kwright("watch", j, "--json", env=env_short, timeout=200)
            slow_status = json.loads(kwright("status", slow, "--json", env=env_short).stdout)
            quick_status = json.loads(kwright("status", quick, "--json", env=env_short).stdout)
            assert slow_status["status"] == "failed", slow_status
            assert slow_status["stop_reason"].startswith("timed out"), slow_status
            assert quick_status["status"] == "done", quick_status
            assert worker.alive()

            # A cold shutdown (SIGQUIT, the compose file's stop signal) hands the running
            # job back at once; the next worker resumes it from its last attempt.
            worker.stop()
            worker = WorkerProcess("solo3", env, tmp_path).start()
            fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=1.0)
            (resumed,) = submit(env, fake, 1, rounds=3)
            store = RedisJobStore(server.url)
            wait_for(lambda: len(store.attempts(resumed)) >= 1, 120, "a first attempt")
            os.kill(worker.pid, signal.SIGQUIT)
            worker.proc.wait(timeout=60)
            assert "goes back to the queue" in worker.log_text()
            assert store.require(resumed).status == "queued"
            worker = WorkerProcess("solo4", env, tmp_path).start()
            kwright("watch", resumed, "--json", env=env, timeout=200)
            final = store.require(resumed)
            assert final.status == "done" and final.state.deliveries == 2
            assert [a.attempt for a in store.attempts(resumed)] == [1, 2, 3]
            store.close()
            log = worker.log_text() + (tmp_path / "worker-solo.log").read_text()
            assert "malformed job message 42" in log
            assert "j-0123456789: not in the job store" in log
        finally:
            worker.stop()


def test_submit_to_a_dead_broker_fails_fast(tmp_path):
    dead = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    # In-process: the connection attempts are bounded (KWRIGHT_CONNECT_TIMEOUT_S).
    settings = Settings(home=tmp_path / "home", broker_url=dead, connect_timeout_s=2)
    jobs = make_jobs([resolve_problem(PROBLEM)], AgentConfig(), "cpu")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        submit_jobs(jobs, settings, open_store(settings))
    assert time.monotonic() - started < 5
    sqlite = Settings(
        home=tmp_path / "home",
        broker_url=dead,
        store_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        connect_timeout_s=2,
    )
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        submit_jobs(jobs, sqlite, open_store(sqlite))
    assert time.monotonic() - started < 5
    # The CLI: one line, exit code 1, no password; not a hang.
    env = fleet_env(tmp_path / "home", dead)
    r = kwright("submit", PROBLEM, "--agent", "baseline", env=env, timeout=120)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach" in lines[0] and "hunter2" not in lines[0]
    # The store is up but the broker is down: the job is recorded failed, not lost.
    env["KWRIGHT_STORE_URL"] = sqlite.store_url
    r = kwright("submit", PROBLEM, "--agent", "baseline", env=env, timeout=120)
    assert r.returncode == 1 and "cannot reach the broker" in r.stderr
    listed = json.loads(kwright("status", "--json", env=env).stdout)
    assert [j["status"] for j in listed] == ["failed", "failed"]
    assert all(j["error"].startswith("not enqueued") for j in listed)

"""A lost worker machine costs a minute, not hours: whole Celery workers (main process and
pool) are SIGKILLed mid-job and the sweepers of the workers left put their jobs back on
the queue from the lapsed lease, long before the Redis visibility timeout. Real
redis-server, real workers, the real CLI, the fake OpenAI-compatible server; loopback."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import statistics
import time
from dataclasses import dataclass

import pytest

from agents.rundir import ATTEMPT_FILE
from tests.conftest import kwright
from tests.fake_openai import FakeOpenAI, Scripted
from tests.fleet import (
    NO_CODE,
    PROBLEM,
    StallProbe,
    WorkerProcess,
    fleet_env,
    running_with_attempts,
    submit_llm_jobs,
    wait_for,
)
from tests.redis_server import RedisServer, needs_redis
from worker.config import Settings
from worker.fleet.jobs import TERMINAL, Job
from worker.fleet.store_redis import RedisJobStore

pytestmark = [pytest.mark.redis, needs_redis]


def all_finished(store: RedisJobStore, ids: list[str]) -> list[Job] | None:
    jobs = store._many(ids)
    return jobs if len(jobs) == len(ids) and all(j.status in TERMINAL for j in jobs) else None


def unfinished(store: RedisJobStore, ids: list[str]) -> str:
    """What the jobs that did not finish were doing (for a timed-out wait)."""
    lines = []
    for job in store._many(ids):
        if job.status in TERMINAL:
            continue
        st = job.state
        phase = job.progress.phase if job.progress is not None else None
        history = "; ".join(d.text() for d in st.history)
        lines.append(f"{job.id} {st.status} owner={st.owner} phase={phase} history=[{history}]")
    return f"{len(lines)} unfinished: " + " | ".join(lines)


def assert_done_once(store: RedisJobStore, final: list[Job], rounds: int, home) -> None:
    """Each job done, recorded once, every attempt in the ledger and on disk once."""
    for job in final:
        st = job.state
        assert st.status == "done", (job.id, st.status, st.error, [d.text() for d in st.history])
        assert st.completions == 1 and st.duplicate_attempts == 0, (job.id, st)
        assert st.outcome is not None and st.outcome.attempts == rounds
        assert [a.attempt for a in store.attempts(job.id)] == list(range(1, rounds + 1))
        pdir = home / "runs" / job.id / PROBLEM
        attempts = sorted(p.name for p in pdir.iterdir() if p.name.isdigit())  # not reflections/
        assert attempts == [f"{n:03d}" for n in range(1, rounds + 1)]
        assert all((pdir / f"{n:03d}" / ATTEMPT_FILE).is_file() for n in range(1, rounds + 1))


@pytest.mark.slow
def test_a_killed_worker_with_default_settings_is_recovered_within_the_bound(tmp_path):
    defaults = Settings()
    bound = defaults.recovery_bound_s
    assert bound <= 90, bound
    rounds = 4
    home = tmp_path / "home"
    with RedisServer(tmp_path / "redis", appendonly=True) as server, FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=1.5)
        env = fleet_env(home, server.url)  # no lease, sweep or visibility-timeout override
        store = RedisJobStore(server.url, patient=True)
        w1 = WorkerProcess("w1", env, tmp_path).start()
        w2 = WorkerProcess("w2", env, tmp_path, concurrency=2)
        try:
            ids = submit_llm_jobs(env, fake.base_url, 2, rounds)
            job = wait_for(lambda: running_with_attempts(store, ids, "w1"), 120, "w1 mid-job")
            w1.kill_all()
            killed_at = time.time()

            # Nobody serves the queue now: `status` says so (and still shows the job).
            r = kwright("status", job.id, "--json", env=env, timeout=60)
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["queue_workers"] == []
            assert "no live worker consumes queue cpu" in r.stderr

            w2.start()
            stale = wait_for(
                lambda: (j := store.require(job.id)).lease_lapsed() and j, 60, "a lapsed lease"
            )
            r = kwright("status", job.id, env=dict(env, COLUMNS="250"), timeout=60)
            assert "stale: no worker since" in r.stdout, r.stdout
            assert "back on its queue at" in r.stdout or "overdue" in r.stdout, r.stdout
            detail = json.loads(kwright("status", job.id, "--json", env=env, timeout=60).stdout)
            assert detail["stale"] and [w[:3] for w in detail["queue_workers"]] == ["w2@"]
            assert detail["recovery_due"] is not None and stale.state.lease_until is not None

            final = wait_for(lambda: all_finished(store, ids), bound + 120, "both jobs", poll=0.5)
        finally:
            w2.stop()
            w1.kill_all()
        coder_calls = len(fake.requests_for("coder"))
        assert_done_once(store, final, rounds, home)
        store.close()
    recovered = next(j for j in final if j.id == job.id)
    first, second = recovered.state.history
    assert first.worker.startswith("w1@") and first.end.startswith("lost: no heartbeat")
    assert second.worker.startswith("w2@") and second.end == "done"
    assert recovered.state.recovered_at is not None
    requeued = recovered.state.recovered_at - killed_at
    restarted = second.started_at - killed_at
    print(f"default settings: back on the queue {requeued:.1f} s after the kill, restarted after")
    print(f"{restarted:.1f} s (bound 2 x lease + sweep interval = {bound:.0f} s)")
    assert requeued <= bound and restarted <= bound + 2, (requeued, restarted)
    # Its finished attempts were not redone: at most the one in flight was.
    assert 2 * rounds <= coder_calls <= 2 * rounds + 1
    assert f"job {job.id}: recovered from lost worker w1@" in w2.log_text()


@dataclass
class Kill:
    at: float
    worker: str


def recovery_delays(kills: list[Kill], final: list[Job]) -> tuple[list[float], list[float]]:
    """Per job a kill interrupted (its delivery on the killed worker ended lost): kill ->
    back on the queue, and kill -> started again. Each kill must have interrupted one."""
    requeue, restart = [], []
    for kill in kills:
        hit = 0
        for job in final:
            history = job.state.history
            for d, after in itertools.pairwise(history):
                if d.worker.startswith(f"{kill.worker}@") and (d.end or "").startswith("lost"):
                    assert d.ended_at is not None
                    requeue.append(d.ended_at - kill.at)
                    restart.append(after.started_at - kill.at)
                    hit += 1
        assert hit >= 1, f"the kill of {kill.worker} interrupted no job"
    return requeue, restart


@pytest.mark.slow
def test_chaos_thirty_jobs_three_workers_five_kills_and_a_redis_restart(tmp_path):
    seed = int(os.environ.get("KWRIGHT_CHAOS_SEED", time.time()))
    rng = random.Random(seed)
    rounds, n_jobs, n_kills = 2, 30, 5
    lease, sweep = 4.0, 1.0  # short, so the test is short; the mechanism is the default one
    home = tmp_path / "home"
    with RedisServer(tmp_path / "redis", appendonly=True) as server, FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=1.5)
        env = fleet_env(
            home,
            server.url,
            lease_s=lease,
            sweep_interval_s=sweep,
            max_deliveries=8,
            orphan_after_s=15,
        )
        store = RedisJobStore(server.url, patient=True)
        workers = [WorkerProcess(f"w{i}g0", env, tmp_path).launch() for i in range(3)]
        gone: list[WorkerProcess] = []
        kills: list[Kill] = []
        restart_after = rng.randrange(1, n_kills)
        probe = StallProbe(server.url).start()
        try:
            for w in workers:
                w.wait_ready()
            ids = submit_llm_jobs(env, fake.base_url, n_jobs, rounds)
            while len(kills) < n_kills:
                time.sleep(rng.uniform(0.5, 2.0))
                running = [j for j in store._many(ids) if j.status == "running"]
                # Mid-call to the Coder (1.5 s): still running when the kill lands.
                held = {
                    i: [
                        j.id
                        for j in running
                        if (j.state.owner or "").startswith(f"{w.name}@")
                        and j.progress is not None
                        and j.progress.phase == "coder"
                    ]
                    for i, w in enumerate(workers)
                }
                assert all_finished(store, ids) is None, "the jobs ran out before the kills"
                # A random busy worker, as long as another one is up to sweep for it.
                up = [i for i, w in enumerate(workers) if w.alive() and w.ready()]
                busy = [i for i in up if held[i]]
                if len(up) < 2 or not busy:
                    continue
                slot = rng.choice(busy)
                victim = workers[slot]
                os.kill(victim.pid, signal.SIGKILL)  # the main process only
                kills.append(Kill(time.time(), victim.name))
                victim.proc.wait()
                gone.append(victim)
                workers[slot] = WorkerProcess(f"w{slot}g{len(kills)}", env, tmp_path).launch()
                if len(kills) == restart_after:
                    server.restart(down_s=0.5)
            try:
                final = wait_for(lambda: all_finished(store, ids), 240, "all jobs", poll=0.5)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; seed {seed}; {unfinished(store, ids)}") from None
        finally:
            probe.stop()
            for w in workers:
                w.stop()
            for w in gone:
                w.kill_all()  # reaps what the kill left of its group (the pool died with it)
        recoveries = [
            line
            for w in workers + gone
            for line in w.log_text().splitlines()
            if "recovered from lost worker" in line or "sweeper" in line
        ]
        coder_calls = len(fake.requests_for("coder"))
        assert_done_once(store, final, rounds, home)
        stored = store.list_jobs(limit=100)
        store.close()
    assert len(stored) == n_jobs  # the Redis restart lost no job
    requeue, restart = recovery_delays(kills, final)
    print(f"chaos seed {seed}: {len(kills)} kills of {[k.worker for k in kills]}, redis restart")
    print(f"after kill {restart_after}; {len(requeue)} jobs recovered; {coder_calls} coder calls")
    print(
        f"recovery delay, kill -> back on the queue: median {statistics.median(requeue):.1f} s, "
        f"max {max(requeue):.1f} s; kill -> started again: median "
        f"{statistics.median(restart):.1f} s, max {max(restart):.1f} s "
        f"(bound 2 x lease + sweep = {2 * lease + sweep:.0f} s); the broker's longest "
        f"stall {probe.max_stall_s:.1f} s"
    )
    # The bound, plus scheduling slack, plus what the machine stalled, measured beside it
    # (on a loaded 2-core CI machine one recovery once came 3.4 s past its due time).
    bound = 2 * lease + sweep + 2 + probe.max_stall_s
    assert max(requeue) <= bound, (requeue, bound, recoveries)
    # No finished attempt was redone: one Coder call per attempt, plus the ones in flight.
    assert n_jobs * rounds <= coder_calls <= n_jobs * rounds + len(requeue)


def test_submit_and_status_say_when_no_live_worker_serves_the_queue(tmp_path):
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        env = fleet_env(tmp_path / "home", server.url)
        started = time.monotonic()
        r = kwright("submit", PROBLEM, "--agent", "baseline", "--json", env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["queue_workers"] == []
        assert "warning: no live worker consumes queue cpu" in r.stderr
        job = out["jobs"][0]["job_id"]
        r = kwright("status", env=env, timeout=120)
        assert r.returncode == 0 and "no live worker consumes queue cpu" in r.stderr
        assert job in r.stdout and "queued" in r.stdout
        assert time.monotonic() - started < 60  # each question is bounded (~1 s)


@pytest.mark.slow
def test_queued_jobs_whose_messages_were_lost_are_published_again(tmp_path):
    """No lease ever lapses for a job nobody claimed: a message dropped from its queue (a
    retry Celery could not publish) and one left unacknowledged by a worker that died
    holding it are found by a sweeper and published again; one still waiting is not."""
    import redis

    from worker.fleet.orphans import broker_job_ids, queue_keys

    orphan_after = 6.0
    home = tmp_path / "home"
    with RedisServer(tmp_path / "redis", appendonly=False) as server, FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE)
        env = fleet_env(home, server.url, sweep_interval_s=1.0, orphan_after_s=orphan_after)
        store = RedisJobStore(server.url, patient=True)
        client = redis.Redis.from_url(server.url)
        ids = submit_llm_jobs(env, fake.base_url, 3, 1)
        assert broker_job_ids(client, ["cpu"], orphan_after) == set(ids)
        # Lose two messages: one gone, one "delivered" 10 min ago to a worker now dead.
        waiting = {}
        for key in queue_keys("cpu"):
            for raw in client.lrange(key, 0, -1):
                waiting[json.loads(raw)["headers"]["id"]] = (key, raw)
        dropped, held, kept = ids
        client.lrem(waiting[dropped][0], 0, waiting[dropped][1])
        client.lrem(waiting[held][0], 0, waiting[held][1])
        envelope = json.dumps([json.loads(waiting[held][1]), "", "cpu"])
        client.hset("unacked", "tag-of-a-dead-worker", envelope)
        client.zadd("unacked_index", {"tag-of-a-dead-worker": time.time() - 600})
        assert broker_job_ids(client, ["cpu"], orphan_after) == {kept}
        worker = WorkerProcess("w0", env, tmp_path).launch()
        try:
            worker.wait_ready()
            final = wait_for(lambda: all_finished(store, ids), 60 + 2 * orphan_after, "all jobs")
        finally:
            worker.stop()
        client.close()
        store.close()
    by_id = {j.id: j for j in final}
    assert all(j.status == "done" for j in final), [(j.id, j.status, j.state.error) for j in final]
    assert by_id[dropped].state.orphaned == 1 and by_id[held].state.orphaned == 1
    assert by_id[kept].state.orphaned == 0  # its message was there: not published twice
    assert len(fake.requests_for("coder")) == 3

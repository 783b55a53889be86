"""The job store's contract, run against both backends: SQLite (embedded) and a real
redis-server. The transitions here are what make the fleet crash-safe."""

from __future__ import annotations

import threading
import time

import pytest

from agents.config import AgentConfig
from agents.rundir import AttemptRecord
from kernelbench.problems.registry import resolve_problem
from tests.redis_server import REDIS_SERVER, RedisServer, free_port
from worker.config import Settings
from worker.fleet.jobs import Job, JobOutcome, JobProgress, MalformedJob, materialize_problem
from worker.fleet.store import JobNotFound, JobStore, StoreUnavailable
from worker.fleet.store_redis import RedisJobStore
from worker.fleet.store_sqlite import SqliteJobStore
from worker.fleet.submit import BrokerUnavailable, make_jobs
from worker.fleet.sweeper import Sweeper

RELU = resolve_problem("level1/2_ReLU")
LEASE = 30.0


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (bash tests/setup.sh installs it)")
    with RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request, tmp_path) -> JobStore:
    if request.param == "sqlite":
        yield SqliteJobStore(tmp_path / "jobs.sqlite")
        return
    server = request.getfixturevalue("redis_server")
    s = RedisJobStore(server.url)
    s.client.flushdb()
    yield s
    s.close()


def jobs(n: int = 1, queue: str = "cpu"):
    return make_jobs([RELU] * n, AgentConfig(rounds=2), queue)


def outcome(status: str = "done") -> JobOutcome:
    return JobOutcome(status=status, stop_reason="finished 2 rounds", attempts=2)


def test_add_get_list(store):
    batch = jobs(3)
    store.add(batch)
    got = store.get(batch[1].id)
    assert got is not None and got.status == "queued" and got.spec == batch[1].spec
    assert got.spec.problem.source == RELU.source() and "sk-" not in got.spec.model_dump_json()
    assert [j.id for j in store.list_jobs(batch=batch[0].spec.batch)] == [j.id for j in batch]
    assert {j.id for j in store.list_jobs(limit=10)} == {j.id for j in batch}
    assert store.get("j-00000000") is None
    with pytest.raises(JobNotFound):
        store.claim("j-00000000", "w:1", LEASE, 3)


def test_a_live_lease_keeps_a_second_delivery_out(store):
    (job,) = jobs()
    store.add([job])
    first = store.claim(job.id, "w1:1", LEASE, 3)
    assert first.outcome == "run" and first.delivery == 1
    again = store.claim(job.id, "w2:7", LEASE, 3)
    assert again.outcome == "busy" and 0 < again.wait_s <= LEASE
    # The owner's process died: its lease is released, the next delivery takes over.
    assert not store.release(job.id, "w2:7")  # only the owner's lease
    assert store.release(job.id, "w1:1")
    assert store.require(job.id).status == "queued"
    second = store.claim(job.id, "w2:7", LEASE, 3)
    assert second.outcome == "run" and second.delivery == 2
    # The first delivery is superseded: it learns so, and cannot record a result.
    assert not store.heartbeat(job.id, 1, LEASE).owner
    assert not store.finish(job.id, 1, outcome())
    assert store.heartbeat(job.id, 2, LEASE).owner
    assert store.finish(job.id, 2, outcome())
    done = store.require(job.id)
    assert done.status == "done" and done.state.completions == 1
    assert done.state.outcome.stop_reason == "finished 2 rounds"


def test_a_finished_job_is_recorded_once(store):
    (job,) = jobs()
    store.add([job])
    claim = store.claim(job.id, "w1:1", LEASE, 3)
    assert store.finish(job.id, claim.delivery, outcome())
    assert not store.finish(job.id, claim.delivery, outcome("failed"))
    dup = store.claim(job.id, "w2:2", LEASE, 3)
    assert dup.outcome == "finished"
    state = store.require(job.id).state
    assert state.status == "done" and state.completions == 1 and state.duplicate_deliveries == 1


def test_a_lapsed_lease_is_taken_over(store):
    (job,) = jobs()
    store.add([job])
    store.claim(job.id, "w1:1", 0.2, 3)
    time.sleep(0.3)
    assert store.require(job.id).lease_lapsed()
    assert store.claim(job.id, "w2:1", LEASE, 3).outcome == "run"


def test_deliveries_are_capped(store):
    (job,) = jobs()
    store.add([job])
    for n in range(1, 4):
        c = store.claim(job.id, f"w:{n}", LEASE, 3)
        assert c.outcome == "run" and c.delivery == n
        store.release(job.id, f"w:{n}")
    last = store.claim(job.id, "w:4", LEASE, 3)
    assert last.outcome == "exhausted"
    state = store.require(job.id).state
    assert state.status == "failed" and "gave up after 3 deliveries" in state.error


def test_cancel(store):
    queued, running = jobs(2)
    store.add([queued, running])
    assert store.cancel(queued.id) == "cancelled"
    assert store.require(queued.id).status == "cancelled"
    assert store.claim(queued.id, "w:1", LEASE, 3).outcome == "finished"
    c = store.claim(running.id, "w:1", LEASE, 3)
    assert store.cancel(running.id) == "requested"
    assert store.heartbeat(running.id, c.delivery, LEASE).cancel
    # Its worker dies before it stops: the redelivery closes it instead of resuming.
    store.release(running.id, "w:1")
    assert store.claim(running.id, "w:2", LEASE, 3).outcome == "finished"
    assert store.require(running.id).status == "cancelled"
    assert store.cancel(running.id) == "finished"


def test_attempt_ledger_records_each_attempt_once(store):
    (job,) = jobs()
    store.add([job])
    rec = AttemptRecord(attempt=1, round=1, status="correct", correct=True)
    assert store.record_attempt(job.id, rec)
    assert not store.record_attempt(job.id, rec, resumed=True)  # a replay: expected
    assert store.require(job.id).state.duplicate_attempts == 0
    replayed_differently = AttemptRecord(attempt=1, round=1, status="incorrect")
    assert not store.record_attempt(job.id, replayed_differently)
    assert store.require(job.id).state.duplicate_attempts == 1
    store.record_attempt(job.id, AttemptRecord(attempt=2, round=2, status="compile_error"))
    ledger = store.attempts(job.id)
    assert [(a.attempt, a.status) for a in ledger] == [(1, "correct"), (2, "compile_error")]


def test_progress(store):
    (job,) = jobs()
    store.add([job])
    store.set_progress(job.id, JobProgress(round=2, rounds=5, phase="eval"))
    assert store.require(job.id).progress.phase == "eval"


def test_claim_next_takes_the_oldest_job_of_its_queues(store):
    a = jobs(1, "gpu.h100")
    b = jobs(2, "cpu")
    store.add(a)
    store.add(b)
    first = store.claim_next(["cpu"], "w:1", LEASE, 3)
    assert first is not None and first.job.id == b[0].id
    assert store.claim_next(["cpu"], "w:1", LEASE, 3).job.id == b[1].id
    assert store.claim_next(["cpu"], "w:1", LEASE, 3) is None
    assert store.claim_next(None, "w:1", LEASE, 3).job.id == a[0].id
    assert sorted(store.requeue_running("test")) == sorted(j.id for j in a + b)
    assert store.require(a[0].id).status == "queued"


def test_concurrent_claims_start_a_job_once(store):
    (job,) = jobs()
    store.add([job])
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def claim(n: int) -> None:
        barrier.wait()
        outcomes.append(store.claim(job.id, f"w{n}:{n}", LEASE, 3).outcome)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy"] * 7 + ["run"]
    assert store.require(job.id).state.deliveries == 1


def test_malformed_record_is_a_typed_error(store):
    (job,) = jobs()
    store.add([job])
    if isinstance(store, RedisJobStore):
        store.client.hset(f"kwright:job:{job.id}", "state", "{not json")
    else:
        with store._connect() as conn:
            conn.execute("UPDATE jobs SET state = '{not json' WHERE id = ?", (job.id,))
    with pytest.raises(MalformedJob):
        store.get(job.id)
    with pytest.raises(MalformedJob):
        store.claim(job.id, "w:1", LEASE, 3)


@pytest.mark.redis
def test_unreachable_redis_fails_fast():
    s = RedisJobStore(f"redis://:secret@127.0.0.1:{free_port()}/0", connect_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        s.add(jobs())
    assert time.monotonic() - started < 3
    assert "cannot reach the job store" in str(err.value) and "secret" not in str(err.value)


def test_problem_travels_as_source(tmp_path, write):
    """A problem from a local file runs on a worker that has never seen the file."""
    source = RELU.source()
    local = write("elsewhere/level1/2_ReLU.py", source)
    from kernelbench.problems.problem import load_problem

    (job,) = make_jobs([load_problem(local)], AgentConfig(), "cpu")
    local.unlink()
    problem = materialize_problem(job.spec.problem, tmp_path / "home", job.id)
    assert problem.source() == source and problem.level == 1 and problem.id == RELU.id
    builtin = materialize_problem(jobs()[0].spec.problem, tmp_path / "home", "j-000000")
    assert builtin.path == RELU.path  # the worker's own built-in copy
    bad = job.spec.problem.model_copy(update={"source": source + "# tampered\n"})
    with pytest.raises(MalformedJob):
        materialize_problem(bad, tmp_path / "home", job.id)


def test_concurrent_sweepers_recover_a_lost_workers_job_once(store):
    lost, live, queued = jobs(3)
    store.add([lost, live, queued])
    store.claim(lost.id, "w1@a:11", 0.2, 3)
    store.claim(live.id, "w2@b:22", LEASE, 3)
    time.sleep(0.5)
    results: list[tuple[list, float | None]] = []
    barrier = threading.Barrier(8)

    def sweep(n: int) -> None:
        barrier.wait()
        results.append(store.recover_lapsed(0.2, 3, f"sweeper{n}"))

    threads = [threading.Thread(target=sweep, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recovered = [r for found, _ in results for r in found]
    assert [(r.job.id, r.worker) for r in recovered] == [(lost.id, "w1@a:11")]
    assert 0.2 < recovered[0].silent_s < 5
    # Every sweeper learned when the live job would fall due: its lease + the grace.
    live_state = store.require(live.id).state
    assert {due for _, due in results} == {live_state.lease_until + 0.2}
    st = store.require(lost.id).state
    assert st.status == "queued" and st.owner is None and st.recovered_at is not None
    (first,) = st.history
    assert first.worker == "w1@a:11" and first.end.startswith("lost: no heartbeat for")
    assert store.require(queued.id).status == "queued" and live_state.status == "running"
    again = store.claim(lost.id, "w3@c:33", LEASE, 3)
    assert again.outcome == "run" and again.delivery == 2
    assert store.recover_lapsed(0.2, 3, "late")[0] == []


def test_a_job_lost_too_often_fails_with_each_delivery_and_how_it_ended(store):
    (job,) = jobs()
    store.add([job])
    store.claim(job.id, "w1@a:1", 0.05, 3)
    time.sleep(0.1)
    assert len(store.recover_lapsed(0.0, 3, "s")[0]) == 1
    store.claim(job.id, "w2@b:2", LEASE, 3)
    assert store.release(job.id, "w2@b:2")  # its pool process died
    store.claim(job.id, "w3@c:3", 0.05, 3)
    time.sleep(0.1)
    # The third delivery's worker is lost too: the sweeper fails the job at once.
    (gone,) = store.recover_lapsed(0.0, 3, "s")[0]
    assert gone.job.status == "failed"
    st = store.require(job.id).state
    assert st.status == "failed" and st.completions == 1
    assert st.error.startswith("gave up after 3 deliveries (KWRIGHT_MAX_DELIVERIES=3)")
    for part in ("#1 w1@a:1: lost: no heartbeat", "#2 w2@b:2: lost: its worker process died"):
        assert part in st.error, st.error
    assert "#3 w3@c:3: lost: no heartbeat" in st.error
    # A claim that finds the deliveries used up says the same.
    (other,) = jobs()
    store.add([other])
    for n in (1, 2):
        store.claim(other.id, f"w{n}@h:{n}", LEASE, 2)
        store.release(other.id, f"w{n}@h:{n}")
    assert store.claim(other.id, "w3@h:3", LEASE, 2).outcome == "exhausted"
    error = store.require(other.id).state.error
    assert "#1 w1@h:1: lost: its worker process died; #2 w2@h:2: lost" in error


def test_the_sweeper_publishes_each_recovered_job_once_and_retries_a_failed_publish(tmp_path):
    store = SqliteJobStore(tmp_path / "jobs.sqlite")
    lost, soon = jobs(2)
    store.add([lost, soon])
    settings = Settings(home=tmp_path, lease_s=0.2, sweep_interval_s=5)
    store.claim(lost.id, "w1@a:1", 0.2, 5)
    time.sleep(0.5)
    store.claim(soon.id, "w2@b:2", 1.0, 5)
    sent: list[str] = []
    failures = [BrokerUnavailable("cannot reach the broker")]

    def publish(batch: list[Job]) -> None:
        if failures:
            raise failures.pop()
        sent.extend(j.id for j in batch)

    sweeper = Sweeper(settings, store, "w3@c", publish)
    wait = sweeper.sweep_once()
    assert sent == [] and store.require(lost.id).status == "queued"
    # It wakes when the other job would fall due (lease 1 s + grace 0.2 s), not in 5 s.
    assert 0.5 < wait < 1.4
    sweeper.sweep_once()
    assert sent == [lost.id]  # the failed publish was retried
    time.sleep(1.4)
    sweeper.sweep_once()
    assert sent == [lost.id, soon.id]
    assert sweeper.sweep_once() == 5 and sent == [lost.id, soon.id]

"""A round's candidates are evaluated across the fleet, one Celery task each
(worker/fleet/candidates.py): real redis-server, real `kwright worker` processes (each a job
pool plus its evaluation worker), the real CLI, the offline baseline agent; loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult, Status
from tests.conftest import kwright
from tests.fleet import PROBLEM, WorkerProcess, fleet_env, wait_for
from tests.redis_server import RedisServer, free_port, needs_redis
from worker.cli.worker_cmd import _hostname
from worker.config import Settings
from worker.fleet.candidates import FleetEvaluator, Publish, broker_publisher
from worker.fleet.jobs import TERMINAL, Job, ProblemRef
from worker.fleet.queues import QueueError, check_queue, eval_queue
from worker.fleet.store_evals import EvalRecord, EvalStore, new_eval_id
from worker.fleet.store_redis import RedisJobStore
from worker.fleet.transport import BrokerUnavailable

pytestmark = [pytest.mark.redis, needs_redis]


def test_eval_queue_names_and_the_evaluation_workers_name():
    assert eval_queue("gpu.h100") == "gpu.h100.eval" == eval_queue("gpu.h100.eval")
    assert check_queue("cpu.eval") == "cpu.eval"
    with pytest.raises(QueueError):
        check_queue("cpu.evals")
    assert _hostname(["--hostname", "w1@%h"]) == "w1-eval@%h"
    assert _hostname(["-n", "gpu0@box"]) == "gpu0-eval@box"
    assert _hostname([]) == "celery-eval@%h"


def test_jobs_cannot_be_submitted_to_an_evaluation_queue(tmp_path):
    env = {"KWRIGHT_HOME": str(tmp_path / "home"), "KWRIGHT_BROKER_URL": ""}
    r = kwright("submit", PROBLEM, "--agent", "baseline", "--queue", "cpu.eval", env=env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "'cpu.eval' is an evaluation queue" in r.stderr and "submit to 'cpu'" in r.stderr


def record(job_id: str = "j-0123456789") -> EvalRecord:
    return EvalRecord(
        id=new_eval_id(),
        job_id=job_id,
        run_id=job_id,
        problem=ProblemRef.of(resolve_problem(PROBLEM)),
        source="class ModelNew: ...",
        options=EvalOptions(),
        queue="cpu.eval",
    )


def test_an_evaluation_is_claimed_once_fenced_and_requeued_once_when_lost(tmp_path):
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        store = EvalStore(server.url)
        rec = record()
        store.add(rec)
        first = store.claim(rec.id, "w1-eval@h", 11, lease_s=0.2)
        assert first == 1
        assert store.claim(rec.id, "w2-eval@h", 12, lease_s=0.2) is None  # a duplicate
        assert store.requeue_lapsed(rec.id, grace_s=5.0, max_deliveries=2) is None  # not yet
        time.sleep(0.5)
        again = store.requeue_lapsed(rec.id, grace_s=0.1, max_deliveries=2)
        assert again is not None and again.status == "queued"
        assert again.history[0].end is not None and again.history[0].end.startswith("lost")
        verdict = EvalResult(status=Status.CORRECT, correct=True)
        assert not store.finish(rec.id, first, verdict)  # the lost delivery cannot record
        second = store.claim(rec.id, "w2-eval@h", 12, lease_s=0.2)
        assert second == 2 and not store.heartbeat(rec.id, first, 0.2)
        time.sleep(0.5)
        gave_up = store.requeue_lapsed(rec.id, grace_s=0.1, max_deliveries=2)
        assert gave_up is not None and gave_up.status == "done" and gave_up.result is not None
        assert gave_up.result.status == Status.ERROR and gave_up.result.error_kind == "infra"
        assert "w1-eval@h pid 11" in (gave_up.result.reason or "")
        assert "w2-eval@h pid 12" in (gave_up.result.reason or "")
        assert [r.id for r in store.for_job(rec.job_id)] == [rec.id]
        store.close()


def test_with_no_evaluation_worker_the_job_evaluates_its_candidates_itself(tmp_path):
    """The net against a fleet started without evaluation slots: nobody consumes the
    queue, so the job evaluates in its own threads; and a published evaluation that nobody
    starts is claimed by the job after KWRIGHT_EVAL_WAIT_S."""
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        store = EvalStore(server.url)
        here = EvalResult(status=Status.INCORRECT, reason="evaluated here")
        published: list[str] = []

        def evaluator(served: bool, publish: Publish | None = None) -> FleetEvaluator:
            return FleetEvaluator(
                job_id="j-0123456789",
                problem=ProblemRef.of(resolve_problem(PROBLEM)),
                queue="cpu",
                options=EvalOptions(),
                run_id="j-0123456789",
                settings=Settings(broker_url=server.url, eval_wait_s=0.5, lease_s=1),
                local=lambda problem, source: here,
                store=store,
                publish=publish or (lambda rec, priority: published.append(rec.id)),
                worker="w1@h",
                served=lambda queue: served,
            )

        problem = resolve_problem(PROBLEM)
        assert evaluator(served=False)(problem, "src") == here and published == []
        assert evaluator(served=True)(problem, "src") == here and len(published) == 1
        (rec,) = store.for_job("j-0123456789")
        assert rec.status == "done" and rec.history[0].worker == "w1@h"

        def broker_down(rec: EvalRecord, priority: int) -> None:
            raise BrokerUnavailable("cannot publish: the broker is down")

        assert evaluator(served=True, publish=broker_down)(problem, "src") == here
        assert [r.status for r in store.for_job("j-0123456789")] == ["done", "done"]
        store.close()


def test_publishing_to_a_dead_broker_is_a_typed_error():
    dead = f"redis://127.0.0.1:{free_port()}/0"
    publish = broker_publisher(Settings(broker_url=dead, connect_timeout_s=0.5))
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="cannot publish evaluation"):
        publish(record(), 6)
    assert time.monotonic() - started < 30


def ready_twice(worker: WorkerProcess) -> bool:
    """Both Celery workers of a `kwright worker` (its job pool and its evaluation worker)."""
    return worker.log_text(worker._offset).count(" ready.") >= 2


def submit_baseline(env: dict[str, str]) -> str:
    r = kwright(
        "submit",
        PROBLEM,
        "--agent",
        "baseline",
        "--rounds",
        "1",
        "--candidates",
        "2",
        "--json",
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    (job,) = json.loads(r.stdout)["jobs"]
    return str(job["job_id"])


def finished(store: RedisJobStore, job_id: str) -> Job | None:
    job = store.require(job_id)
    return job if job.status in TERMINAL else None


def eval_verdicts(home: Path, job_id: str) -> dict[int, str]:
    pdir = home / "runs" / job_id / PROBLEM
    return {
        int(d.name): json.loads((d / "eval.json").read_text())["status"]
        for d in sorted(pdir.iterdir())
        if (d / "eval.json").is_file()
    }


@pytest.mark.slow
def test_a_rounds_candidates_run_on_two_workers_and_a_killed_one_costs_only_its_candidate(
    tmp_path,
):
    home = tmp_path / "home"
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        env = fleet_env(home, server.url, lease_s=3, sweep_interval_s=2)
        store = RedisJobStore(server.url, patient=True)
        evals = EvalStore(server.url)
        workers = [WorkerProcess(n, env, tmp_path).launch() for n in ("w1", "w2")]
        try:
            for w in workers:
                wait_for(lambda w=w: ready_twice(w), 180, f"{w.name} and its evaluation worker")

            # 1. Two candidates, two evaluation workers, at the same time.
            job_id = submit_baseline(env)
            job = wait_for(lambda: finished(store, job_id), 300, "the first job", poll=0.5)
            assert job.status == "done", job.state
            a, b = evals.for_job(job_id)
            assert a.status == b.status == "done" and a.deliveries == b.deliveries == 1
            da, db = a.history[0], b.history[0]
            assert {da.worker.split("@")[0], db.worker.split("@")[0]} == {"w1-eval", "w2-eval"}
            assert da.pid != db.pid
            assert da.ended_at is not None and db.ended_at is not None
            overlap = min(da.ended_at, db.ended_at) - max(da.started_at, db.started_at)
            assert overlap > 0, (da, db)
            two_wide = max(da.ended_at, db.ended_at) - min(da.started_at, db.started_at)
            assert sorted(eval_verdicts(home, job_id).values()) == sorted(
                [str(a.result.status), str(b.result.status)]  # type: ignore[union-attr]
            )

            # 2. The worker evaluating a candidate (not the one running the job) is
            # SIGKILLed whole mid-evaluation: only that candidate is evaluated again.
            job_id = submit_baseline(env)

            def both_running() -> list[EvalRecord] | None:
                recs = evals.for_job(job_id)
                running = [r for r in recs if r.status == "running"]
                return recs if len(running) == 2 else None

            wait_for(both_running, 300, "both evaluations running", poll=0.05)
            time.sleep(2.0)  # well into the evaluations (each takes over 10 s here)
            owner = store.require(job_id).state.owner or ""
            victim = next(w for w in workers if not owner.startswith(f"{w.name}@"))
            survivor = next(w for w in workers if w is not victim)
            lost = next(
                r for r in evals.for_job(job_id) if r.history[0].worker.startswith(victim.name)
            )
            victim.kill_all()
            job = wait_for(lambda: finished(store, job_id), 300, "the second job", poll=0.5)
            assert job.status == "done" and job.state.deliveries == 1, job.state
            by_id = {r.id: r for r in evals.for_job(job_id)}
            kept = next(r for i, r in by_id.items() if i != lost.id)
            redone = by_id[lost.id]
            assert kept.deliveries == 1 and kept.history[0].worker.startswith(survivor.name)
            assert redone.deliveries == 2, redone.history
            assert (redone.history[0].end or "").startswith("lost"), redone.history
            assert redone.history[1].worker.startswith(f"{survivor.name}-eval@")
            verdicts = eval_verdicts(home, job_id)
            assert len(verdicts) == 2, verdicts  # both candidates have their verdict
            assert str(kept.result.status) in verdicts.values()  # type: ignore[union-attr]
            assert job.state.outcome is not None and job.state.outcome.attempts == 2

            # 3. One evaluation worker left: the round's evaluations run one after the other.
            job_id = submit_baseline(env)
            job = wait_for(lambda: finished(store, job_id), 300, "the third job", poll=0.5)
            assert job.status == "done", job.state
            a, b = evals.for_job(job_id)
            da, db = a.history[0], b.history[0]
            assert da.ended_at is not None and db.ended_at is not None
            assert min(da.ended_at, db.ended_at) <= max(da.started_at, db.started_at)
            one_wide = max(da.ended_at, db.ended_at) - min(da.started_at, db.started_at)
            print(f"a round's two evaluations: {two_wide:.1f} s on two evaluation workers, ")
            print(f"{one_wide:.1f} s on one")
        finally:
            for w in workers:
                w.stop()
            evals.close()
            store.close()

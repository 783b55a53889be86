"""What the fleet's queue costs: submit->start latency and per-job overhead on loopback,
side by side with in-process execution of the same jobs.

    python tests/benchmarks/bench_fleet.py [--jobs 50] [--samples 20] [--kills 2]
        [--lease 30] [--sweep 15] [--json]

It starts its own redis-server (loopback, temp dir), one Celery worker (`kwright worker
--concurrency 1`, queue cpu; a second one for the recovery phase) and the fake
OpenAI-compatible server. `--lease`/`--sweep` are KWRIGHT_LEASE_S and
KWRIGHT_SWEEP_INTERVAL_S (default: the defaults). The jobs are cheap on
purpose, so the figures are about the queue: one round whose Coder reply has no code (one
LLM call over loopback, attempt files written, nothing evaluated). Measured:

* submit: wall time of `worker.fleet.submit.submit` per job (store write + publish);
* submit->start, idle worker: one job at a time, from its submission to the moment the
  worker claimed it (store timestamps, same clock), `--samples` times;
* batch of N: from submitting N jobs to the last one finishing (store timestamps), and
  the hand-off between consecutive jobs (one finished -> the next started), against the
  same N jobs run one after another in this process with `agents.job.run_job` (what
  `kwright run` does); the difference divided by N is the per-job queue overhead;
* recovery delay, `--kills` times: a long job runs on one of two workers; that whole
  worker is SIGKILLed; measured from the kill to the job being back on its queue (the
  sweeper's recovery, store timestamp) and to its restart on the other worker. The
  bound is 2 x lease + sweep interval.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agents.config import AgentConfig, LLMSettings  # noqa: E402
from agents.job import run_job  # noqa: E402
from kernelbench.problems.registry import resolve_problem  # noqa: E402
from sandbox.base import get_sandbox  # noqa: E402
from tests.fake_openai import FakeOpenAI, Scripted  # noqa: E402
from tests.fleet import NO_CODE, WorkerProcess, fleet_env, wait_for  # noqa: E402
from tests.redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from worker.config import Settings  # noqa: E402
from worker.fleet.jobs import TERMINAL, Job  # noqa: E402
from worker.fleet.store_redis import RedisJobStore  # noqa: E402
from worker.fleet.submit import make_jobs, submit  # noqa: E402

PROBLEM = resolve_problem("level1/2_ReLU")
API_KEY = "sk-test-not-a-real-key"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(x: float) -> str:
    return f"{x * 1000:8.1f} ms"


def wait_done(store: RedisJobStore, ids: list[str], timeout: float, poll: float) -> list[Job]:
    """Figures come from the store's timestamps, so polling only decides when to stop."""
    return wait_for(
        lambda: (jobs := store._many(ids)) and all(j.status in TERMINAL for j in jobs) and jobs,
        timeout,
        f"{len(ids)} jobs to finish",
        poll=poll,
    )


def job_when(store: RedisJobStore, job_id: str, ok: Callable[[Job], bool]) -> Job | None:
    job = store.require(job_id)
    return job if ok(job) else None


def measure_recovery(
    env: dict[str, str],
    tmp: Path,
    store: RedisJobStore,
    settings: Settings,
    config: AgentConfig,
    first: WorkerProcess,
    kills: int,
) -> tuple[list[float], list[float]]:
    """Kill -> back on the queue, and kill -> restarted, for `kills` whole-worker kills."""
    workers = [first, WorkerProcess("spare", env, tmp).start()]
    requeue: list[float] = []
    restart: list[float] = []
    try:
        for k in range(kills):
            (job,) = make_jobs([PROBLEM], config, "cpu")
            submit([job], settings, store)
            running = wait_for(
                partial(
                    job_when,
                    store,
                    job.id,
                    lambda j: j.status == "running" and j.progress is not None,
                ),
                120,
                "the long job to run",
            )
            victim = next(
                w for w in workers if (running.state.owner or "").startswith(f"{w.name}@")
            )
            victim.kill_all()
            killed_at = time.time()
            again = wait_for(
                partial(job_when, store, job.id, lambda j: j.state.deliveries >= 2),
                settings.recovery_bound_s + 60,
                "the job to be recovered",
                poll=0.2,
            )
            lost, new = again.state.history[-2:]
            assert lost.ended_at is not None and (lost.end or "").startswith("lost"), lost
            requeue.append(lost.ended_at - killed_at)
            restart.append(new.started_at - killed_at)
            store.cancel(job.id)
            workers[workers.index(victim)] = WorkerProcess(f"bench{k + 2}", env, tmp).start()
            wait_done(store, [job.id], 120, 0.2)
    finally:
        for w in workers:
            w.stop()
    return requeue, restart


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs in the batch comparison")
    parser.add_argument("--samples", type=int, default=20, help="idle-worker latency samples")
    parser.add_argument("--kills", type=int, default=2, help="whole-worker kills to recover")
    parser.add_argument("--lease", type=float, default=Settings().lease_s, help="lease, s")
    parser.add_argument("--sweep", type=float, default=Settings().sweep_interval_s, help="s")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if REDIS_SERVER is None:
        print("redis-server is not installed (bash tests/setup.sh installs it)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    with RedisServer(tmp / "redis", appendonly=True) as server, FakeOpenAI() as fake:
        fake.defaults["coder"] = Scripted(content=NO_CODE)
        timing = {"lease_s": args.lease, "sweep_interval_s": args.sweep}
        env = fleet_env(tmp / "home", server.url, soft_time_limit_s=1200, **timing)
        settings = Settings(
            home=tmp / "home",
            broker_url=server.url,
            sandbox="none",
            soft_time_limit_s=1200,
            **timing,
        )
        config = AgentConfig(
            agent="llm", llm=LLMSettings(base_url=fake.base_url, max_retries=0), rounds=1
        )
        store = RedisJobStore(server.url)
        worker = WorkerProcess("bench", env, tmp).start()
        try:
            warm = make_jobs([PROBLEM] * 3, config, "cpu")  # first-job costs, not queue costs
            submit(warm, settings, store)
            wait_done(store, [j.id for j in warm], 300, 0.2)

            submit_s: list[float] = []
            latency: list[float] = []
            for _ in range(args.samples):
                jobs = make_jobs([PROBLEM], config, "cpu")
                t0 = time.perf_counter()
                submit(jobs, settings, store)
                submit_s.append(time.perf_counter() - t0)
                (done,) = wait_done(store, [jobs[0].id], 120, 0.05)
                assert done.state.started_at is not None
                latency.append(done.state.started_at - done.spec.submitted_at)

            batch = make_jobs([PROBLEM] * args.jobs, config, "cpu")
            t0 = time.perf_counter()
            submit(batch, settings, store)
            batch_submit = time.perf_counter() - t0
            finished = wait_done(store, [j.id for j in batch], 600, 0.5)
            starts = sorted(
                (j.state.last_started_at or 0, j.state.finished_at or 0) for j in finished
            )
            fleet_wall = starts[-1][1] - min(j.spec.submitted_at for j in finished)
            in_worker = [end - start for start, end in starts]
            handoff = [b[0] - a[1] for a, b in itertools.pairwise(starts)]
            statuses = {j.status for j in finished}

            fake.defaults["coder"] = Scripted(content=NO_CODE, delay_s=0.5)
            long_job = config.model_copy(update={"rounds": 200, "patience": 200})
            requeue, restart = (
                measure_recovery(env, tmp, store, settings, long_job, worker, args.kills)
                if args.kills
                else ([], [])
            )
        finally:
            worker.stop()
            store.close()

        home = tmp / "inproc"
        per_job: list[float] = []
        with get_sandbox("none", warn=False) as box:
            run_job([PROBLEM], config, home, box, api_key=API_KEY, device="cpu")  # warm-up
            t0 = time.perf_counter()
            for _ in range(args.jobs):
                t1 = time.perf_counter()
                _, info = run_job([PROBLEM], config, home, box, api_key=API_KEY, device="cpu")
                per_job.append(time.perf_counter() - t1)
                assert info.status == "done"
            inproc_wall = time.perf_counter() - t0

    overhead = (fleet_wall - inproc_wall) / args.jobs
    figures = {
        "jobs": args.jobs,
        "samples": args.samples,
        "fleet_statuses": sorted(statuses),
        "submit_one_job_ms": {
            "median": statistics.median(submit_s) * 1000,
            "p95": pct(submit_s, 0.95) * 1000,
        },
        "submit_to_start_idle_worker_ms": {
            "median": statistics.median(latency) * 1000,
            "p95": pct(latency, 0.95) * 1000,
            "max": max(latency) * 1000,
        },
        "batch_submit_ms_per_job": batch_submit / args.jobs * 1000,
        "fleet_wall_s": fleet_wall,
        "fleet_per_job_ms": fleet_wall / args.jobs * 1000,
        "fleet_in_worker_per_job_ms": statistics.median(in_worker) * 1000,
        "fleet_in_worker_mean_ms": statistics.mean(in_worker) * 1000,
        "fleet_handoff_between_jobs_ms": statistics.median(handoff) * 1000,
        "fleet_handoff_mean_ms": statistics.mean(handoff) * 1000,
        "inprocess_wall_s": inproc_wall,
        "inprocess_per_job_ms": inproc_wall / args.jobs * 1000,
        "inprocess_median_job_ms": statistics.median(per_job) * 1000,
        "inprocess_mean_job_ms": statistics.mean(per_job) * 1000,
        "queue_overhead_per_job_ms": overhead * 1000,
        "recovery": {
            "kills": args.kills,
            "lease_s": args.lease,
            "sweep_interval_s": args.sweep,
            "bound_s": settings.recovery_bound_s,
            "kill_to_requeued_s": requeue,
            "kill_to_restarted_s": restart,
        },
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"fleet vs in-process, {args.jobs} cheap jobs (1 round, no evaluation), loopback")
    print(f"{'':38s}{'fleet (1 worker)':>18s}{'in-process':>16s}")
    print(f"{'submit one job (median)':38s}{ms(statistics.median(submit_s)):>18s}{'-':>16s}")
    print(
        f"{'submit->start, idle worker (median)':38s}{ms(statistics.median(latency)):>18s}"
        f"{'0 (no queue)':>16s}"
    )
    print(f"{'submit->start, idle worker (p95)':38s}{ms(pct(latency, 0.95)):>18s}{'':>16s}")
    print(
        f"{'job in the worker / in-process (med)':38s}{ms(statistics.median(in_worker)):>18s}"
        f"{ms(statistics.median(per_job)):>16s}"
    )
    print(
        f"{'job in the worker / in-process (mean)':38s}{ms(statistics.mean(in_worker)):>18s}"
        f"{ms(statistics.mean(per_job)):>16s}"
    )
    print(f"{'finish -> next start (mean)':38s}{ms(statistics.mean(handoff)):>18s}{'-':>16s}")
    print(f"{'finish -> next start (median)':38s}{ms(statistics.median(handoff)):>18s}{'-':>16s}")
    print(
        f"{f'{args.jobs} jobs, wall per job':38s}{ms(fleet_wall / args.jobs):>18s}"
        f"{ms(inproc_wall / args.jobs):>16s}"
    )
    print(f"{'queue overhead per job':38s}{ms(overhead):>18s}")
    if requeue:
        print(
            f"{'lost worker -> back on queue (median)':38s}"
            f"{statistics.median(requeue):16.1f} s   max {max(requeue):.1f} s"
        )
        print(
            f"{'lost worker -> restarted (median)':38s}"
            f"{statistics.median(restart):16.1f} s   max {max(restart):.1f} s"
        )
        print(
            f"  ({args.kills} whole-worker SIGKILLs; lease {args.lease:g} s, sweep "
            f"{args.sweep:g} s: bound {settings.recovery_bound_s:g} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

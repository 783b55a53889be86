"""Per-candidate sandbox overhead: the warm pool versus a cold process per candidate.

    python tests/benchmarks/bench_sandbox.py [--repeats N] [--problem ID] [--json]

One candidate step (the built-in Triton solution of a problem, on the CPU interpreter)
is prepared once, then run over and over on fresh copies of its scratch dir:

* `work`: in this process, warmed up: the runner (`kernelbench.runner.child.main`) alone, i.e. the
  step's own work (loading the candidate, running the kernel, saving outputs);
* `warm`: the local backend's warm pool (fork from a zygote, full isolation);
* `cold`: the local backend with `warm=False`: a fresh process per candidate that
  imports torch and triton itself, with the same isolation;
* `none`: a plain child process (no isolation), for reference.

Warm and cold steps are interleaved, so both see the same machine load. Overhead is the
step's wall time minus the median `work`. Targets (issue 4): warm at least 5x less
overhead than cold, and a median warm overhead of at most 0.3 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: in-process work is interpreted
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.harness.evaluate import evaluate
from kernelbench.harness.steps import STEP_PROGRAM
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import RunnerReport
from kernelbench.protocol.runner_files import CANDIDATE_FILE, RUNNER_REPORT, RUNNER_REQUEST
from kernelbench.runner.candidate_step import run_candidate_step
from kernelbench.runner.child import main as child_main
from sandbox.base import Sandbox, SandboxJob, SandboxLimits, get_sandbox
from sandbox.local import LocalSandbox


class _Keep(Sandbox):
    """Runs steps in-process and keeps the candidate step's inputs as a template."""

    name = "keep"

    def __init__(self, into: Path) -> None:
        self.into = into

    def run_step(self, job: SandboxJob):
        from sandbox.base import SandboxOutcome

        if job.label == "candidate":
            shutil.copytree(job.workdir, self.into, dirs_exist_ok=True)
        run_step(job.workdir)
        return SandboxOutcome(returncode=0, backend=self.name)


def prepare(problem_id: str, root: Path) -> Path:
    """A candidate step's scratch dir (runner request, candidate, inputs, init state)."""
    problem = resolve_problem(problem_id)
    template = root / "template"
    result = evaluate(problem, solution_path(problem).read_text(), sandbox=_Keep(template))
    if result.status.value != "correct":
        raise SystemExit(f"the template evaluation failed: {result.status} {result.reason}")
    assert (template / RUNNER_REQUEST).is_file() and (template / CANDIDATE_FILE).is_file()
    return template


def run_step(workdir: Path) -> int:
    if (workdir / RUNNER_REQUEST).is_file():  # the runner ends its process: keep ours
        return run_candidate_step(workdir, in_process=True)
    return child_main(["kernelbench.runner.child", str(workdir)])


def fresh(template: Path, root: Path) -> tuple[Path, str]:
    workdir = root / f"step-{secrets.token_hex(4)}"
    shutil.copytree(template, workdir)
    return workdir, ""


def check(workdir: Path, nonce: str) -> None:
    report = RunnerReport.model_validate_json((workdir / RUNNER_REPORT).read_text())
    if report.status != "ok":
        raise SystemExit(f"step failed: {report.status} {report.message}")


def time_in_process(template: Path, root: Path) -> float:
    workdir, nonce = fresh(template, root)
    started = time.perf_counter()
    run_step(workdir)
    elapsed = time.perf_counter() - started
    check(workdir, nonce)
    shutil.rmtree(workdir)
    return elapsed


def time_sandboxed(box: Sandbox, template: Path, root: Path) -> float:
    workdir, nonce = fresh(template, root)
    job = SandboxJob(
        program=STEP_PROGRAM,
        workdir=workdir,
        env={"TRITON_INTERPRET": "1"},
        limits=SandboxLimits(timeout_s=300),
        run_id="bench",
        label="candidate",
    )
    started = time.perf_counter()
    outcome = box.run_step(job)
    elapsed = time.perf_counter() - started
    if outcome.infra_error or outcome.returncode != 0:
        raise SystemExit(f"{box.name} step failed: {outcome}")
    check(workdir, nonce)
    shutil.rmtree(workdir)
    return elapsed


def summary(times: list[float], work: float) -> dict[str, float]:
    overheads = sorted(t - work for t in times)
    return {
        "runs": len(times),
        "median_wall_s": statistics.median(times),
        "median_overhead_s": statistics.median(overheads),
        "p90_overhead_s": overheads[min(len(overheads) - 1, int(0.9 * len(overheads)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8, help="steps per mode (default 8)")
    parser.add_argument("--problem", default="level1/2_ReLU")
    parser.add_argument("--no-none", action="store_true", help="skip the unisolated reference")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kw-bench-"))
    warm_box = LocalSandbox(warm=True)
    cold_box = LocalSandbox(warm=False)
    none_box = None if args.no_none else get_sandbox("none", warn=False)
    try:
        template = prepare(args.problem, root)
        if warm_box.mode() != "namespaces":
            raise SystemExit(f"the warm pool needs namespaces; this host gives {warm_box.mode()}")
        started = time.perf_counter()
        warm_box.start()
        pool_start = time.perf_counter() - started
        time_in_process(template, root)  # warm-up of this process
        time_sandboxed(warm_box, template, root)  # warm-up of the pool
        work, warm, cold, plain = [], [], [], []
        for _ in range(args.repeats):  # interleaved: every mode sees the same load
            work.append(time_in_process(template, root))
            warm.append(time_sandboxed(warm_box, template, root))
            cold.append(time_sandboxed(cold_box, template, root))
            if none_box is not None:
                plain.append(time_sandboxed(none_box, template, root))
        base = statistics.median(work)
        report = {
            "problem": args.problem,
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "pool_start_s": pool_start,
            "work_median_s": base,
            "warm": summary(warm, base),
            "cold": summary(cold, base),
        }
        if plain:
            report["none"] = summary(plain, base)
        w, c = report["warm"]["median_overhead_s"], report["cold"]["median_overhead_s"]
        report["cold_over_warm_overhead"] = c / w if w > 0 else float("inf")
        report["targets_met"] = report["cold_over_warm_overhead"] >= 5 and w <= 0.3
    finally:
        warm_box.close()
        cold_box.close()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"problem {args.problem}, {report['cpus']} cpus, load {report['load_avg_1m']:.1f}")
    print(f"warm pool start (one-off): {pool_start:.2f} s; the step's own work: {base:.3f} s")
    print(f"{'mode':<6} {'runs':>4} {'wall (median)':>14} {'overhead (median)':>18} {'p90':>8}")
    for mode in ("warm", "cold", "none"):
        if mode in report:
            s = report[mode]
            print(
                f"{mode:<6} {s['runs']:>4} {s['median_wall_s']:>13.3f}s "
                f"{s['median_overhead_s']:>17.3f}s {s['p90_overhead_s']:>7.3f}s"
            )
    print(
        f"cold/warm overhead: {report['cold_over_warm_overhead']:.1f}x "
        f"(target >= 5x); warm median overhead {w:.3f} s (target <= 0.3 s): "
        + ("met" if report["targets_met"] else "NOT met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

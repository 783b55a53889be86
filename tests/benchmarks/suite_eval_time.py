"""How long the built-in suite takes to check on this machine's CPU.

Evaluates every built-in reference solution (and, with --wrong, every wrong twin) through
the real harness, N at a time, and prints each verdict and duration, the wall time, and the
CPU time of all the child processes. On a shared machine the wall time depends on the load;
the CPU time does not much, and CPU time / cores is the wall time on an idle machine.

    python tests/benchmarks/suite_eval_time.py --workers 2 [--wrong] [--level N]

With `--against REV` it measures this tree side by side with another revision in the same
run: each evaluation runs in a fresh child process of either tree (its warm pool started
before the clock), the two trees' jobs interleaved problem by problem so both see the same
load, and it prints the summed evaluation time of each tree and their ratio.

    python tests/benchmarks/suite_eval_time.py --against 4b370f5 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import Problem, ProblemError
from kernelbench.problems.registry import list_problems, solution_path
from kernelbench.protocol.result import EvalResult


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Runs in a child process of either tree: the evaluate() import moved in issue 12.
ONE = """
import json, sys
try:
    from kernelbench.harness.evaluate import evaluate
except ImportError:
    from sandbox.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem, solution_path
from sandbox.defaults import shared_sandbox
try:  # since issue 26 the sandbox is generic: it is started with the harness's step program
    from kernelbench.harness.steps import STEP_PROGRAM
except ImportError:
    shared_sandbox().start()
else:
    shared_sandbox().start(STEP_PROGRAM)
problem = resolve_problem(sys.argv[1])
result = evaluate(problem, solution_path(problem, wrong=sys.argv[2] == "wrong").read_text())
print(json.dumps({"status": result.status.value, "duration_s": result.duration_s}))
"""


def _run_in(tree: Path, problem_id: str, wrong: bool) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(
        [sys.executable, "-c", ONE, problem_id, "wrong" if wrong else "solution"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return {"status": f"failed (rc {proc.returncode}): {proc.stderr[-300:]}", "duration_s": 0.0}
    return json.loads(lines[-1])


def compare(jobs: list[tuple[Problem, bool]], rev: str, workers: int) -> int:
    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="kw-bench-") as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(other), rev],
                       check=True, capture_output=True)  # fmt: skip
        try:
            tasks = [(tree, p, w) for p, w in jobs for tree in (other, here)]
            totals = {other: 0.0, here: 0.0}
            failed = 0
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = pool.map(lambda t: (t, _run_in(*[t[0], t[1].id, t[2]])), tasks)
                for (tree, problem, wrong), res in results:
                    totals[tree] += float(res["duration_s"])  # type: ignore[arg-type]
                    failed += str(res["status"]).startswith("failed")
                    label = f"{problem.id}{' @wrong' if wrong else ''} [{'new' if tree == here else rev}]"
                    print(f"{label:60s} {res['status']:10s} {res['duration_s']:6.1f} s")
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(other)],
                           check=False, capture_output=True)  # fmt: skip
    ratio = totals[here] / totals[other] if totals[other] else float("nan")
    print(
        f"{len(jobs)} evaluations per tree: {rev} {totals[other]:.0f} s, this tree "
        f"{totals[here]:.0f} s, ratio {ratio:.2f}x"
    )
    if failed:
        print(f"{failed} evaluations could not run: the ratio is not a measurement")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--wrong", action="store_true", help="also evaluate the wrong twins")
    parser.add_argument("--level", type=int, default=None)
    parser.add_argument(
        "--against", metavar="REV", help="also time this git revision, side by side"
    )
    args = parser.parse_args()

    jobs: list[tuple[Problem, bool]] = []
    for problem in list_problems(level=args.level):
        jobs.append((problem, False))
        if args.wrong:
            try:
                solution_path(problem, wrong=True)
            except ProblemError:
                continue
            jobs.append((problem, True))

    if args.against:
        return compare(jobs, args.against, args.workers)

    def run(job: tuple[Problem, bool]) -> tuple[Problem, bool, EvalResult]:
        problem, wrong = job
        return problem, wrong, evaluate(problem, solution_path(problem, wrong=wrong).read_text())

    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    failures = 0
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for problem, wrong, result in pool.map(run, jobs):
            expected = "incorrect" if wrong else "correct"
            ok = result.status.value == expected
            failures += not ok
            label = problem.id + (" @wrong" if wrong else "")
            flag = "" if ok else f"  <-- expected {expected}: {result.reason}"
            print(f"{label:50s} {result.status.value:10s} {result.duration_s:6.1f} s{flag}")
    wall = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    print(
        f"{len(jobs)} evaluations, {args.workers} at a time: wall {wall:.0f} s, "
        f"child CPU {cpu:.0f} s (idle-machine wall ~{cpu / args.workers:.0f} s), "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, {failures} unexpected"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

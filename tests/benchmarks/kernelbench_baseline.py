"""The baseline agent over a KernelBench checkout: solve rates per level, and the ops it
cannot lower.

Each problem runs in a child process of its own (this script, re-invoked) under a time
limit, so a hang or a crash is recorded as such and the sweep goes on. The child runs the
real loop -- `agents.job.run_job`, what `kwright run` calls: baseline Coder -> sandbox ->
harness -> profiler -> baseline Judge -- for `--rounds` rounds, or with `--plan-only` only
the baseline Coder's plan (read the reference, lower, schedule, write the source; nothing
is evaluated): a fast count of the problems that get a candidate at all.

One JSON line per finished problem goes to `OUT/run.jsonl` (`OUT/plan.jsonl` with
--plan-only): level, problem id, status (`correct`, `incorrect`, `compile_error`,
`no_candidate`, ..., `candidate` for a plan; `time_limit` and `crashed` for the child),
the reason, the unsupported op where the reason is `no candidate: unsupported op X`,
seconds, speedup. Rerunning with the same --out skips the problems already recorded (at
the same --rounds) unless --fresh; Ctrl-C stops the running children and leaves only
whole lines. Run directories go to `OUT/home/runs/`. Without --level, every `levelN/` of
the suite (a KernelBench checkout also has level4/, which needs Hugging Face models).

    python tests/benchmarks/kernelbench_baseline.py --suite /path/to/KernelBench --out DIR \\
        [--level 1 2 3] [--stride K --offset I] [--only level1/19_ReLU ...] \\
        [--rounds 1] [--jobs J] [--timeout-s 600] [--fresh] [--plan-only]
    python tests/benchmarks/kernelbench_baseline.py --out DIR --report [--plan-only]

It ends (or, with --report, only does this) by printing per level: problems run, solved
(correct, or with --plan-only: got a candidate), the rate, no-candidate count, the other
failures by status, total and median seconds; then the unsupported ops by count.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from pydantic import BaseModel, ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kernelbench.problems.problem import Problem
from kernelbench.problems.registry import list_problems, resolve_problem
from sandbox.process import kill_group

log = logging.getLogger("kernelbench_baseline")

UNSUPPORTED = re.compile(r"no candidate: unsupported op (\S+)")
TERM_GRACE_S = 10.0  # after SIGTERM, before SIGKILL: lets the child stop its own children
TAIL_CHARS = 300


class SweepRecord(BaseModel):
    """One problem's outcome: one line of the JSONL."""

    level: int | None
    problem_id: str
    status: str
    reason: str | None = None
    unsupported_op: str | None = None
    seconds: float
    speedup: float | None = None
    rounds: int | None = None  # None for a plan
    run_dir: str | None = None


def unsupported_op(reason: str | None) -> str | None:
    """X of `no candidate: unsupported op X ...` (its first word: the op, not the detail)."""
    match = UNSUPPORTED.search(reason or "")
    return match.group(1) if match else None


def record(
    problem: Problem,
    status: str,
    reason: str | None,
    seconds: float,
    *,
    speedup: float | None = None,
    rounds: int | None = None,
    run_dir: Path | None = None,
) -> SweepRecord:
    reason = reason.strip().splitlines()[0][:500] if reason and reason.strip() else None
    return SweepRecord(
        level=problem.level,
        problem_id=problem.id,
        status=status,
        reason=reason,
        unsupported_op=unsupported_op(reason),
        seconds=round(seconds, 2),
        speedup=speedup,
        rounds=rounds,
        run_dir=str(run_dir) if run_dir else None,
    )


# ---- child side: one problem, in this process ----------------------------------------


def child_plan(problem: Problem) -> SweepRecord:
    from agents.baseline.coder import BaselineCoder
    from agents.config import AgentConfig
    from agents.protocols import CoderContext

    started = time.perf_counter()
    ctx = CoderContext(
        problem=problem,
        problem_source=problem.source(),
        config=AgentConfig(agent="baseline", rounds=1),
        round=1,
    )
    proposal = BaselineCoder().propose(ctx)
    seconds = time.perf_counter() - started
    if proposal.source is None:
        return record(problem, "no_candidate", proposal.failure, seconds)
    kernels = ", ".join(sorted(proposal.notes.get("kernels", {})))
    return record(problem, "candidate", f"kernels: {kernels}", seconds)


def child_run(problem: Problem, rounds: int, home: Path, args: argparse.Namespace) -> SweepRecord:
    from agents.config import AgentConfig
    from agents.job import run_job
    from sandbox.base import get_sandbox
    from sandbox.defaults import default_sandbox_name

    started = time.perf_counter()
    config = AgentConfig(agent="baseline", rounds=rounds, patience=rounds)
    with get_sandbox(args.sandbox or default_sandbox_name()) as box:
        rundir, info = run_job([problem], config, home, box)
    seconds = time.perf_counter() - started
    result = info.results.get(problem.id)
    status: str
    reason: str | None
    if result is None:
        status, reason = "not_run", info.status
    elif result.best is not None and result.best.correct:
        status, reason = "correct", None
    elif not result.attempts:
        status, reason = "no_attempt", result.stop_reason
    else:
        last = result.attempts[-1]
        status, reason = last.status, last.reason or result.stop_reason
    speedup = result.best.speedup if result and result.best and result.best.correct else None
    return record(
        problem, status, reason, seconds, speedup=speedup, rounds=rounds, run_dir=rundir.root
    )


def child_main(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds run_job and the sandbox's children
    problem = resolve_problem(args.only[0], args.suite)
    home = args.out / "home"
    rec = child_plan(problem) if args.plan_only else child_run(problem, args.rounds, home, args)
    Path(args.child).write_text(rec.model_dump_json())
    return 0


# ---- parent side: the sweep ----------------------------------------------------------


class Sweep:
    """Runs problems in child processes, `jobs` at a time; stop() ends the running ones."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.running: dict[int, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def command(self, problem: Problem, child_out: Path) -> list[str]:
        a = self.args
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(child_out)]
        cmd += ["--suite", str(a.suite), "--only", problem.id, "--out", str(a.out)]
        cmd += ["--rounds", str(a.rounds)] + (["--plan-only"] if a.plan_only else [])
        return cmd + (["--sandbox", a.sandbox] if a.sandbox else [])

    def run_one(self, problem: Problem) -> SweepRecord | None:
        """The child's record, or one saying how it ended; None when the sweep stopped."""
        if self.stopping.is_set():
            return None
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="kw-sweep-") as tmp:
            child_out, err_path = Path(tmp) / "record.json", Path(tmp) / "stderr"
            with err_path.open("wb") as err:
                proc = subprocess.Popen(
                    self.command(problem, child_out),
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    start_new_session=True,
                    # --jobs children share the cores: torch's thread per core oversubscribes
                    env={**os.environ, "OMP_NUM_THREADS": "1"},
                )
                with self.lock:
                    self.running[proc.pid] = proc
                try:
                    timed_out = not self.wait(proc, self.args.timeout_s)
                finally:
                    with self.lock:
                        self.running.pop(proc.pid, None)
            seconds = time.perf_counter() - started
            if self.stopping.is_set():
                return None
            if timed_out:
                limit = f"no result within the {self.args.timeout_s:g} s time limit"
                return record(problem, "time_limit", limit, seconds)
            if proc.returncode == 0 and child_out.is_file():
                rec = SweepRecord.model_validate_json(child_out.read_text())
                rec.seconds = round(seconds, 2)  # the child's whole life, start-up included
                return rec
            tail = err_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            why = f"child exited with {proc.returncode}: {tail[0][-TAIL_CHARS:]}"
            return record(problem, "crashed", why, seconds)

    def wait(self, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
        """True if the child ended by itself within `timeout_s`; else it is stopped."""
        try:
            proc.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            self.end(proc)
            return False

    def end(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=TERM_GRACE_S)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            log.warning("%d: still running %g s after SIGTERM, killed", proc.pid, TERM_GRACE_S)
        kill_group(proc.pid)
        proc.wait()

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            procs = list(self.running.values())
        for proc in procs:
            self.end(proc)


def results_path(args: argparse.Namespace) -> Path:
    return args.out / ("plan.jsonl" if args.plan_only else "run.jsonl")


def load_records(path: Path) -> dict[str, SweepRecord]:
    """The last record of each problem; an unreadable line (a cut-off write) is skipped."""
    records: dict[str, SweepRecord] = {}
    if not path.is_file():
        return records
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = SweepRecord.model_validate_json(line)
        except ValidationError:
            log.warning("%s:%d: not a record, skipped", path, n)
            continue
        records[rec.problem_id] = rec
    return records


def select(args: argparse.Namespace) -> list[Problem]:
    if args.only:
        return [resolve_problem(p, args.suite) for p in args.only]
    by_level: dict[int | None, list[Problem]] = defaultdict(list)
    for level in args.level or [None]:
        for problem in list_problems(args.suite, level):
            by_level[problem.level].append(problem)
    if args.stride:  # a stratified sample: the stride runs within each level
        return [p for ps in by_level.values() for p in ps[args.offset :: args.stride]]
    return [p for ps in by_level.values() for p in ps]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def sweep(args: argparse.Namespace, problems: list[Problem]) -> tuple[dict[str, SweepRecord], bool]:
    """Runs what is not recorded yet; (all records, whether it ran to the end)."""
    path = results_path(args)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fresh and path.exists():
        path.unlink()
    records = load_records(path)
    rounds = None if args.plan_only else args.rounds
    todo = [p for p in problems if p.id not in records or records[p.id].rounds != rounds]
    skipped = len(problems) - len(todo)
    log.info("%d problems, %d already in %s, %d to run", len(problems), skipped, path, len(todo))
    if path.is_file() and path.read_bytes()[-1:] not in (b"", b"\n"):
        with path.open("a") as f:
            f.write("\n")  # a line cut off by a kill: the next record starts on its own line
    runner = Sweep(args)
    done = 0
    # `kill` stops the children as Ctrl-C does; SIGINT too where the sweep was started in
    # the background (`cmd &` in a script starts it with SIGINT ignored)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        futures = [pool.submit(runner.run_one, p) for p in todo]
        with path.open("a") as f:
            for future in as_completed(futures):
                rec = future.result()
                if rec is None:
                    continue
                f.write(rec.model_dump_json() + "\n")
                f.flush()
                records[rec.problem_id] = rec
                done += 1
                why = f" ({rec.reason[:120]})" if rec.reason and rec.status != "correct" else ""
                count = f"{done + skipped}/{len(problems)}"
                log.info(
                    "%s %s: %s in %.1f s%s", count, rec.problem_id, rec.status, rec.seconds, why
                )
    except KeyboardInterrupt:
        log.warning("interrupted: stopping the running problems; %d recorded this run", done)
        runner.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        return records, False
    pool.shutdown(wait=True)
    return records, True


# ---- the report ----------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    head = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


def report(records: list[SweepRecord], plan_only: bool) -> str:
    solved_status = "candidate" if plan_only else "correct"
    by_level: dict[int | None, list[SweepRecord]] = defaultdict(list)
    for rec in records:
        by_level[rec.level].append(rec)
    rows = []
    for level in sorted(by_level, key=lambda lv: lv or 0):
        recs = by_level[level]
        statuses = Counter(r.status for r in recs)
        solved, no_cand = statuses.pop(solved_status, 0), statuses.pop("no_candidate", 0)
        secs = [r.seconds for r in recs]
        others = ", ".join(f"{s} {n}" for s, n in statuses.most_common()) or "-"
        rows.append(
            [
                f"level {level}" if level is not None else "no level",
                str(len(recs)),
                str(solved),
                f"{100 * solved / len(recs):.0f}%",
                str(no_cand),
                others,
                f"{sum(secs):.0f}",
                f"{statistics.median(secs):.1f}",
            ]
        )
    solved_col = "candidate" if plan_only else "correct"
    header = ["level", "run", solved_col, "rate", "no candidate", "other failures"]
    out = [table([*header, "total s", "median s"], rows)] if rows else ["no problems recorded"]
    ops: dict[str, list[SweepRecord]] = defaultdict(list)
    for rec in records:
        if rec.unsupported_op:
            ops[rec.unsupported_op].append(rec)
    if ops:
        op_rows = [
            [op, str(len(recs)), " ".join(sorted({f"L{r.level}" for r in recs}))]
            for op, recs in sorted(ops.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]
        out += ["", "unsupported ops", table(["op", "problems", "levels"], op_rows)]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, help="a KernelBench checkout (or its KernelBench/)")
    ap.add_argument("--level", type=int, nargs="+", help="levels (default: all)")
    ap.add_argument("--stride", type=int, help="every K-th problem of each level")
    ap.add_argument("--offset", type=int, default=0, help="where the stride starts (0-based)")
    ap.add_argument("--only", nargs="+", help="these problem ids (levelN/<name>)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="problems at a time")
    ap.add_argument("--timeout-s", type=float, default=600.0, help="time limit per problem")
    ap.add_argument("--out", type=Path, required=True, help="where the records go")
    ap.add_argument("--fresh", action="store_true", help="forget what --out has recorded")
    ap.add_argument("--plan-only", action="store_true", help="the Coder's plan, no evaluation")
    ap.add_argument("--report", action="store_true", help="only print the report of --out")
    ap.add_argument("--sandbox", help="local | docker | none (default: the project's)")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: one problem, record here
    args = ap.parse_args(argv)
    if args.stride is not None and not (args.stride >= 1 and 0 <= args.offset < args.stride):
        ap.error("--stride must be >= 1 and 0 <= --offset < --stride")
    if args.suite is None and not args.report:
        ap.error("--suite is required (except with --report)")
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.report:
        recorded = list(load_records(results_path(args)).values())
        if args.level:
            recorded = [r for r in recorded if r.level in args.level]
        print(report(recorded, args.plan_only))
        return 0
    problems = select(args)
    started = time.perf_counter()
    records, finished = sweep(args, problems)
    chosen = [records[p.id] for p in problems if p.id in records]
    mode = "plan only" if args.plan_only else f"baseline, {args.rounds} round(s)"
    print(f"\n{mode}: {len(chosen)}/{len(problems)} problems recorded in {results_path(args)}")
    print(report(chosen, args.plan_only))
    print(f"wall time {time.perf_counter() - started:.0f} s with --jobs {args.jobs}")
    return 0 if finished else 130


if __name__ == "__main__":
    sys.exit(main())

"""How long `kwright leaderboard --suite ... --level 1` takes over 500 recorded problems.

Writes a KernelBench-shaped suite of 500 level-1 problems and, in a temporary
KWRIGHT_HOME, two recorded runs over all of them (an LLM agent timed on a GPU, the
offline agent on the CPU; a mix of correct, incorrect and failed problems), then times
the real CLI in a child process: printing the table and writing the HTML board with its
charts. The issue's bar is 5 s each; the script exits 1 above it. On a shared machine
the wall time depends on the load; the CPU time of the child is printed beside it.

    python tests/benchmarks/leaderboard_500.py [--problems 500] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agents.config import AgentConfig, LLMSettings  # noqa: E402
from agents.rundir import AttemptRecord, BestInfo, ProblemResult, RunInfo  # noqa: E402
from agents.usage import Usage  # noqa: E402

LIMIT_S = 5.0
PROBLEM = """import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x) * {k}


size = {size}


def get_inputs():
    return [torch.randn(size)]


def get_init_inputs():
    return []
"""


def _result(pid: str, k: int, timed: bool, offline: bool) -> ProblemResult:
    kind = k % 5  # 0-2 correct, 3 incorrect, 4 compile error only
    statuses = ["incorrect", "correct"] if kind < 3 else (["incorrect"] if kind == 3 else [])
    statuses = statuses or ["compile_error"]
    speedup = (0.4 + (k % 17) / 6) if timed and kind < 3 else None
    attempts = [
        AttemptRecord(attempt=i, round=i, status=s, correct=s == "correct",
                      speedup=speedup if s == "correct" else None, coder_s=2.0, eval_s=3.0)
        for i, s in enumerate(statuses, start=1)
    ]  # fmt: skip
    best = attempts[-1]
    return ProblemResult(
        problem_id=pid,
        best=BestInfo(attempt=best.attempt, round=best.round, status=best.status,
                      correct=best.correct, speedup=best.speedup, runtime_ms=1.0,
                      candidate_path=f"{pid}/{best.attempt:03d}/candidate.py"),
        attempts=attempts,
        rounds_run=len(attempts),
        usage=Usage() if offline else Usage(calls=4, prompt_tokens=3000, completion_tokens=900,
                                            cost_usd=0.02),
        duration_s=5.0 * len(attempts),
    )  # fmt: skip


def write_fixture(root: Path, n: int) -> tuple[Path, Path]:
    suite = root / "suite" / "level1"
    suite.mkdir(parents=True)
    ids = []
    for k in range(1, n + 1):
        (suite / f"{k}_Scaled_relu_{k}.py").write_text(PROBLEM.format(k=k, size=1024 + k))
        ids.append(f"level1/{k}_Scaled_relu_{k}")
    home = root / "home"
    for run_id, cfg, device in [
        ("llm-run", AgentConfig(agent="llm", llm=LLMSettings(model="o3")), "cuda"),
        ("baseline-run", AgentConfig(agent="baseline"), "cpu"),
    ]:
        offline = cfg.agent == "baseline"
        info = RunInfo(
            run_id=run_id, status="done", config=cfg, device=device, problems=ids,
            results={p: _result(p, k, device == "cuda", offline) for k, p in enumerate(ids)},
        )  # fmt: skip
        (home / "runs" / run_id).mkdir(parents=True)
        (home / "runs" / run_id / "run.json").write_text(info.model_dump_json())
    return root / "suite", home


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    return time.perf_counter() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--keep", type=Path, default=None, help="write the fixture here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kwright-lb-"))
    suite, home = write_fixture(root, args.problems)
    env = dict(os.environ, KWRIGHT_HOME=str(home), PYTHONPATH=str(ROOT))
    base = ["leaderboard", "--suite", str(suite), "--level", "1"]
    worst = 0.0
    for label, extra in [
        ("print the table", []),
        ("write the HTML", ["--out", str(root / "b.html")]),
    ]:
        cpu = _cpu_s()
        seconds, done = _time(base + extra, env)
        cpu = _cpu_s() - cpu
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 2
        worst = max(worst, seconds)
        lines = len(done.stdout.splitlines())
        print(f"{label}: {seconds:.2f} s wall, {cpu:.2f} s CPU ({lines} lines on stdout)")
    html = root / "b.html"
    print(f"board: {html} ({html.stat().st_size / 1e6:.1f} MB), {args.problems} problems x 2 rows")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if worst < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())

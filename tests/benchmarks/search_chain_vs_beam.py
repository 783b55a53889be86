"""chain against beam with the offline agent, at the same number of evaluations.

Runs the real loop (baseline Coder -> sandbox -> harness -> profiler -> baseline Judge)
twice per problem: `--search chain` with one candidate per round for E rounds, and
`--search beam` with `--candidates C` per round (the offline beam's first round is one
candidate: it has nothing to spread yet) for as many rounds as fit in E evaluations. Then
prints, per problem, each search's evaluations and the best kernel's static score
(spilled bytes, worst-kernel occupancy, tensor-core use, launches per forward; and the
speedup where a GPU timed it), and which search found the better kernel by the loop's own
ranking (`agents.ranking.is_better`).

    python tests/benchmarks/search_chain_vs_beam.py [--evals 5] [--candidates 2]
        [--beam-width 2] [--level N] [--home DIR] [PROBLEM ...]

Without PROBLEMs it runs the whole built-in suite (`--level` for one level).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.config import AgentConfig
from agents.job import run_job
from agents.protocols import AttemptView
from agents.ranking import is_better, static_score
from kernelbench.problems.problem import Problem
from kernelbench.problems.registry import list_problems, resolve_problem
from sandbox.base import Sandbox, get_sandbox
from sandbox.defaults import default_sandbox_name


def configs(evals: int, candidates: int, width: int) -> dict[str, AgentConfig]:
    beam_rounds = 1 + max(0, (evals - 1) // candidates)
    common = {"agent": "baseline", "patience": evals}
    return {
        "chain": AgentConfig(search="chain", rounds=evals, candidates_per_round=1, **common),  # type: ignore[arg-type]
        "beam": AgentConfig(
            search="beam",
            rounds=beam_rounds,
            candidates_per_round=candidates,
            beam_width=width,
            **common,  # type: ignore[arg-type]
        ),
    }


def best_of(home: Path, search: str, problem: Problem, config: AgentConfig, box: Sandbox):
    rundir, info = run_job([problem], config, home / search, box, device="cpu")
    result = info.results[problem.id]
    attempts = rundir.problem(problem.id).load()
    evaluated = sum(1 for a in attempts if a.view.result is not None)
    best = None
    if result.best is not None:
        best = next(a.view for a in attempts if a.record.attempt == result.best.attempt)
    return best, evaluated, result.stop_reason, rundir


def score_text(view: AttemptView | None) -> str:
    if view is None or view.result is None:
        return "no correct kernel"
    r = view.result
    spills, occupancy, tensor, launches = static_score(r.profile, r.kernel_launches)
    text = (
        f"spills {-spills:.0f} B, occupancy {occupancy:.0f}%, "
        f"tensor cores {'yes' if tensor else 'no'}, launches {-launches:.0f}"
    )
    if r.speedup is not None:
        text += f", {r.speedup:.2f}x"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problems", nargs="*")
    parser.add_argument("--evals", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--beam-width", type=int, default=2)
    parser.add_argument("--level", type=int, default=None)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    problems = (
        [resolve_problem(p) for p in args.problems]
        if args.problems
        else list_problems(None, args.level)
    )
    home = args.home or Path(tempfile.mkdtemp(prefix="kw-search-"))
    plans = configs(args.evals, args.candidates, args.beam_width)
    tally = {"beam better": 0, "chain better": 0, "equal": 0}
    started = time.perf_counter()
    print(f"evaluations per search: at most {args.evals}; runs under {home}")
    with get_sandbox(default_sandbox_name()) as box:
        for problem in problems:
            found = {s: best_of(home, s, problem, c, box) for s, c in plans.items()}
            (chain, chain_n, chain_stop, _), (beam, beam_n, beam_stop, _) = (
                found["chain"],
                found["beam"],
            )
            if beam is not None and is_better(beam, chain):
                verdict = "beam better"
            elif chain is not None and is_better(chain, beam):
                verdict = "chain better"
            else:
                verdict = "equal"
            tally[verdict] += 1
            print(f"{problem.id}: {verdict}")
            print(f"  chain ({chain_n} evals; {chain_stop}): {score_text(chain)}")
            print(f"  beam  ({beam_n} evals; {beam_stop}): {score_text(beam)}")
    took = time.perf_counter() - started
    print(
        f"{len(problems)} problems in {took:.0f} s: "
        + ", ".join(f"{k} {v}" for k, v in tally.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

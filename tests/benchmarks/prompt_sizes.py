"""Prompt sizes per round for built-in problems (characters; tokens where a local
tokenizer is available — tiktoken cannot download its encodings on these machines).

Round 1 has no history; round 2 carries a failing candidate (a compile error) and the
repair Judge's feedback; round 3 a correct candidate, its profile and an optimization
plan. Judge prompts are shown for both modes.

    python tests/benchmarks/prompt_sizes.py [PROBLEM ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.config import AgentConfig
from agents.prompts import as_markdown, coder_messages, judge_messages
from agents.protocols import AttemptView, CoderContext, Feedback, JudgeContext
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult, Status

DEFAULT = ["level1/2_ReLU", "level1/5_LayerNorm", "level2/1_Gemm_Bias_ReLU"]


def tokenizer():
    try:
        import tiktoken

        enc = tiktoken.get_encoding("o200k_base")
        return lambda text: len(enc.encode(text))
    except Exception:
        return None


def main(ids: list[str]) -> None:
    count = tokenizer()
    cfg = AgentConfig(agent="llm")
    print(f"{'problem':28} {'prompt':22} {'chars':>7} {'tokens':>7}")
    for pid in ids:
        problem = resolve_problem(pid)
        src = problem.source()
        good = solution_path(problem).read_text()
        broken = good.replace("class ModelNew(nn.Module):", "class ModelNew(nn.Module:")
        failing = AttemptView(
            attempt=1,
            round=1,
            source=broken,
            result=EvalResult(
                status=Status.COMPILE_ERROR, reason="syntax error at line 30: '(' was never closed"
            ),
        )
        correct = AttemptView(
            attempt=2,
            round=2,
            source=good,
            result=EvalResult(status=Status.CORRECT, correct=True, timing_note="not measured: CPU"),
        )
        repair = Feedback(
            mode="repair",
            summary="unbalanced parenthesis",
            critical_issue="class header",
            minimal_fix="close the parenthesis",
        )
        optimize = Feedback(
            mode="optimize",
            summary="memory-bound",
            bottleneck="memory-bound",
            method="wider blocks",
            plan=["BLOCK=4096", "num_warps=8"],
        )
        prompts = {
            "coder round 1": coder_messages(
                CoderContext(problem=problem, problem_source=src, config=cfg, round=1)
            ),
            "coder round 2": coder_messages(
                CoderContext(
                    problem=problem,
                    problem_source=src,
                    config=cfg,
                    round=2,
                    previous=failing,
                    feedback=repair,
                )
            ),
            "coder round 3": coder_messages(
                CoderContext(
                    problem=problem,
                    problem_source=src,
                    config=cfg,
                    round=3,
                    previous=correct,
                    feedback=optimize,
                    best=correct,
                )
            ),
            "judge repair": judge_messages(
                JudgeContext(
                    problem=problem, problem_source=src, config=cfg, round=1, attempt=failing
                ),
                "repair",
                structured=True,
                keys="",
            ),
            "judge optimize": judge_messages(
                JudgeContext(
                    problem=problem, problem_source=src, config=cfg, round=2, attempt=correct
                ),
                "optimize",
                structured=True,
                keys="",
            ),
        }
        for name, messages in prompts.items():
            text = as_markdown(messages)
            tokens = str(count(text)) if count else "n/a"
            print(f"{pid:28} {name:22} {len(text):>7} {tokens:>7}")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)

"""The kernel library in the loop (issue 32, acceptance): a kernel verified in one LLM job is
in the first Coder prompt of a later job whose problem computes the same thing written
differently (other names, `F.relu` for `torch.relu`, other nesting), and not in a job on an
unrelated problem. Real jobs (`agents.job.run_job`) against a real HTTP server speaking the
OpenAI API, the real harness judging each candidate."""

from __future__ import annotations

import json
from pathlib import Path

from agents.config import AgentConfig, LLMSettings
from agents.job import eval_options, run_job
from agents.library.hooks import examples_for
from agents.library.seed import SEED_LESSON, seed_from_baseline
from agents.library.store import LibraryStore
from agents.loop import Evaluator
from kernelbench.problems.problem import Problem, load_problem
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult, Status
from sandbox.base import get_sandbox
from sandbox.defaults import default_sandbox_name
from tests.conftest import kwright
from tests.fake_openai import FakeOpenAI, Scripted
from tests.test_library import REWRITES, TAIL

HEADER = "## Worked examples from the kernel library"
ADVICE = json.dumps({"bottleneck": "memory", "method": "wider blocks", "plan": ["BLOCK=128"]})


def job(problem: Problem, reply: str, home: Path) -> str:
    """Run a one-round LLM job on `problem`, the Coder answering `reply`; its first prompt."""
    with FakeOpenAI() as server:
        server.script("coder", Scripted(content=f"```python\n{reply}```"))
        server.defaults["judge"] = Scripted(content=ADVICE)
        llm = LLMSettings(model="gpt-4o-mini", base_url=server.base_url, max_retries=0)
        config = AgentConfig(agent="llm", llm=llm, rounds=1)
        with get_sandbox(default_sandbox_name()) as box:
            _, info = run_job([problem], config, home, box, api_key="sk-test-not-a-real-key")
        assert info.results[problem.id].status == "done"
        return server.requests_for("coder")[0].user


def test_a_verified_kernel_reaches_the_first_prompt_of_a_later_job_on_the_same_computation(
    tmp_path,
):
    home = tmp_path / "home"
    gemm = resolve_problem("level2/1_Gemm_Bias_ReLU")
    kernel = solution_path(gemm).read_text()
    first = job(gemm, kernel, home)
    assert HEADER not in first  # the library was empty
    (entry,) = LibraryStore(home).entries()
    assert entry.problem_id == gemm.id and entry.source == kernel and entry.agent == "llm"

    rewritten = tmp_path / "problems" / "nested.py"
    rewritten.parent.mkdir()
    rewritten.write_text(REWRITES["nested"] + TAIL)
    later = job(load_problem(rewritten, problem_id="mine/nested"), kernel, home)
    assert HEADER in later and kernel.strip() in later
    assert f"Example from {gemm.id} (the same computation)" in later

    relu = resolve_problem("level1/2_ReLU")
    unrelated = job(relu, solution_path(relu).read_text(), home)
    assert HEADER not in unrelated and kernel.strip() not in unrelated


def test_the_offline_agents_kernel_seeds_the_library_after_it_is_judged(tmp_path):
    """`--seed baseline`'s library side: the offline agent's kernel, judged by the job's
    evaluator, becomes an exact example for the LLM job; a wrong one never does."""
    home = tmp_path / "home"
    gemm = resolve_problem("level2/1_Gemm_Bias_ReLU")
    config = AgentConfig(agent="llm")
    with get_sandbox(default_sandbox_name()) as box:
        evaluate = Evaluator(box, eval_options(config, "cpu"), run_id="seed")
        entry = seed_from_baseline(gemm, config, evaluate, home=home, run_id="seed")
    assert entry is not None and entry.agent == "baseline" and entry.lessons == [SEED_LESSON]
    examples = examples_for(gemm, 4000, home=home, config=config)
    assert [(e.entry.id, e.exact) for e in examples] == [(entry.id, True)]

    def wrong(problem: Problem, source: str) -> EvalResult:  # a verdict that is not `correct`
        return EvalResult(status=Status.INCORRECT, reason="values differ")

    other = tmp_path / "other"
    assert seed_from_baseline(gemm, config, wrong, home=other) is None
    assert LibraryStore(other).entries() == []


def test_seed_baseline_puts_the_offline_agents_judged_kernel_in_the_first_prompt(tmp_path):
    """`--seed baseline`: before round 1 of an LLM job on an empty library, the offline
    agent's kernel is judged by the job's evaluator, recorded, and offered as an exact
    example; the baseline agent itself is refused the option (one line, exit 2)."""
    home = tmp_path / "home"
    relu = resolve_problem("level1/2_ReLU")
    with FakeOpenAI() as server:
        server.script("coder", Scripted(content=f"```python\n{solution_path(relu).read_text()}```"))
        server.defaults["judge"] = Scripted(content=ADVICE)
        llm = LLMSettings(model="gpt-4o-mini", base_url=server.base_url, max_retries=0)
        config = AgentConfig(agent="llm", llm=llm, rounds=1, seed="baseline")
        with get_sandbox(default_sandbox_name()) as box:
            _, info = run_job([relu], config, home, box, api_key="sk-test-not-a-real-key")
        assert info.results[relu.id].status == "done"
        first = server.requests_for("coder")[0].user
    seeds = [e for e in LibraryStore(home).entries() if SEED_LESSON in e.lessons]
    assert len(seeds) == 1 and seeds[0].agent == "baseline"
    assert HEADER in first and seeds[0].source.strip() in first
    refused = kwright("run", relu.id, "--agent", "baseline", "--seed", "baseline",
                      env={"KWRIGHT_HOME": str(tmp_path / "other")})  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("kwright: error: --seed: only the LLM agent reads it")

"""The kernel library in the loop (issue 32, acceptance): a kernel verified in one LLM job is
in the first Coder prompt of a later job whose problem computes the same thing written
differently (other names, `F.relu` for `torch.relu`, other nesting), and not in a job on an
unrelated problem. Real jobs (`agents.job.run_job`) against a real HTTP server speaking the
OpenAI API, the real harness judging each candidate."""

from __future__ import annotations

import json
from pathlib import Path

from agents.config import AgentConfig, LLMSettings
from agents.job import run_job
from agents.library.store import LibraryStore
from kernelbench.problems.problem import Problem, load_problem
from kernelbench.problems.registry import resolve_problem, solution_path
from sandbox.base import get_sandbox
from sandbox.defaults import default_sandbox_name
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

"""`--search beam` with the offline agent (issue 31): no LLM, the real loop, sandbox,
harness and static profiler on the CPU. The baseline Judge ranks distinct next
configurations with the profile facts as evidence; the beam expands the kept kernel along
them, one candidate per configuration; `kwright run --search beam` takes the option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.baseline.params import read_header
from agents.config import AgentConfig
from agents.job import run_job
from kernelbench.problems.problem import load_problem
from sandbox.base import get_sandbox
from sandbox.defaults import default_sandbox_name
from tests.conftest import kwright
from worker.cli.agent_options import AgentOptions
from worker.cli.show_cmd import trajectory

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "baseline"


@pytest.mark.slow
def test_an_offline_beam_expands_the_kept_kernel_along_ranked_configurations(tmp_path):
    problem = load_problem(FIXTURES / "scaled_leaky_clamp.py")
    config = AgentConfig(
        agent="baseline", search="beam", rounds=2, candidates_per_round=2, beam_width=2
    )
    with get_sandbox(default_sandbox_name()) as box:
        rundir, info = run_job([problem], config, tmp_path, box, device="cpu")
    result = info.results[problem.id]
    assert result.best is not None and result.best.correct, result
    attempts = rundir.problem(problem.id).load()
    first = attempts[0]
    # Round 1 is one candidate (the offline Coder has nothing to spread yet); the Judge
    # ranked several distinct configurations, each with its knobs and its evidence.
    assert [a.record.round for a in attempts].count(1) == 1
    assert first.feedback is not None and len(first.feedback.bottlenecks) >= 2
    for b in first.feedback.bottlenecks:
        assert b.params["kernels"] and b.evidence
    assert any(e.metric.endswith("occupancy_pct") for e in first.feedback.bottlenecks[0].evidence)
    # Round 2: one candidate per ranked configuration, all from the kept kernel.
    second = [a for a in attempts if a.record.round == 2]
    assert len(second) == 2
    assert all(a.record.parent == first.record.attempt and a.record.direction for a in second)
    configs = [json.dumps(read_header(a.view.source), sort_keys=True) for a in attempts]
    assert len(set(configs)) == len(configs)  # no configuration evaluated twice
    wanted = [b.params["kernels"] for b in first.feedback.bottlenecks[:2]]
    got = [{n: k["params"] for n, k in read_header(a.view.source).items()} for a in second]
    assert got == wanted
    reflection = json.loads(
        (rundir.problem(problem.id).root / "reflections" / "001.json").read_text()
    )
    assert reflection["search"] == "beam" and reflection["kept"] == [first.record.attempt]
    # `kwright show` diffs each child against its parent, not the attempt before it.
    rows = trajectory(rundir, info, problem.id)["rounds"]
    children = [r for r in rows if r["round"] == 2]
    assert [r["diff_from"] for r in children] == [first.record.attempt] * 2
    assert all(r["parent"] == first.record.attempt and r["direction"] for r in children)


def test_the_cli_takes_the_search_options(tmp_path):
    """`--search`, `--beam-width`, `--roofline-stop` reach run.json; a Judge option is
    refused where the offline agent runs (it has no Judge endpoint to point)."""
    env = {"KWRIGHT_HOME": str(tmp_path), "OPENAI_API_KEY": "", "KWRIGHT_API_KEY": ""}
    refused = kwright("run", "level1/2_ReLU", "--judge-model", "gpt-4o", env=env)
    assert refused.returncode == 2 and "--judge-model" in refused.stderr
    bad = kwright("run", "level1/2_ReLU", "--search", "tree", env=env)
    assert bad.returncode == 2 and "tree" in bad.stderr


def test_the_options_build_the_search_and_the_judge_settings():
    options = AgentOptions(
        agent="llm",
        base_url="http://127.0.0.1:9/v1",
        judge_model="gpt-4o",
        judge_base_url="http://127.0.0.1:8/v1",
        judge_api_key_env="KW_JUDGE_KEY",
        search="beam",
        beam_width=3,
        roofline_stop=0.0,
    )
    config = options.config(None)
    assert config.judge_llm is not None and config.judge_llm.model == "gpt-4o"
    assert config.judge_llm.base_url == "http://127.0.0.1:8/v1"
    assert config.judge_llm.api_key_env == "KW_JUDGE_KEY"
    assert config.llm.model == "gpt-4o-mini" and config.llm.api_key_env is None
    assert (config.search, config.beam_width, config.roofline_stop) == ("beam", 3, None)
    assert AgentOptions().config(None).judge_llm is None  # the Coder's endpoint by default

"""The baseline agent end to end through the real loop, sandbox and harness, on problems
written for these tests (unseen by the Coder's authors' examples), and `kwright run`
choosing it by default when no LLM endpoint is configured."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agents.baseline.params import read_header
from agents.config import AgentConfig
from agents.job import run_job
from kernelbench.harness.static.check import check_candidate
from kernelbench.problems.problem import load_problem
from sandbox.base import get_sandbox
from sandbox.defaults import default_sandbox_name
from tests.conftest import kwright

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "baseline"
UNSEEN = ["scaled_leaky_clamp", "manual_layernorm", "linear_gelu_scale"]


@pytest.mark.slow
@pytest.mark.parametrize("name", UNSEEN)
def test_baseline_solves_unseen_problems(tmp_path, name):
    problem = load_problem(FIXTURES / f"{name}.py")
    config = AgentConfig(agent="baseline", rounds=2, patience=2)
    with get_sandbox(default_sandbox_name()) as box:
        rundir, info = run_job([problem], config, tmp_path, box, device="cpu")
    result = info.results[problem.id]
    assert result.best is not None and result.best.correct, result
    attempts = rundir.problem(problem.id).load()
    # Every candidate it wrote was accepted by the harness: correct, never rejected for
    # calling torch compute ops (or anything else).
    assert [a.record.status for a in attempts] == ["correct"] * len(attempts)
    for a in attempts:
        assert check_candidate(a.view.source or "", "triton").violations == []
    # The Judge's feedback changed the kernel between rounds.
    assert len(attempts) == 2
    first, second = (read_header(a.view.source) for a in attempts)
    assert first.keys() == second.keys()
    assert [k["params"] for k in first.values()] != [k["params"] for k in second.values()]
    assert attempts[0].feedback is not None and attempts[0].feedback.params["kernels"]
    # The kept kernel's static sm_90 profile shows no spills.
    best = next(a for a in attempts if a.record.attempt == result.best.attempt)
    profile = best.view.result.profile if best.view.result else None
    assert profile is not None and profile.kernels, "the profile step attached no facts"
    for k in profile.kernels:
        assert not (k.spill_stores_bytes or k.spill_loads_bytes), (k.name, k)


CONV_FAMILY = [
    "conv1d_then_transposed",
    "conv_transpose2d_strided_grouped",
    "conv3d_then_transposed",
    "pool3d_family",
    "tensor_constants_depthwise",
    "grouped_direct_convs",
    "einsum_contractions",
    "causal_attention_sizes",
    "lstm_gru_stack",
    "reverse_cumsum",
    "attention_family",
    "maxpool_ceil",
    "unused_optional_arg",
    "resnet_style_blocks",
    "soft_cluster_pooling",
    "group_norm_following_sizes",
    "roll_repeat_tile",
    "inplace_methods",
    "constant_pad_logsigmoid",
    "helpers_defaults_softmax2d",
    "pixel_shuffle_pair",
    "einsum_ellipsis",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", CONV_FAMILY)
def test_baseline_solves_1d_3d_and_transposed_convolutions(tmp_path, name):
    """Conv1d over a (1, L) plane, Conv3d, and ConvTranspose1d/2d/3d as implicit GEMM in
    gather form, with stride, padding, output_padding, groups and dilation off their
    defaults; 3-D max/avg/adaptive pooling as windows inlined in an elementwise kernel."""
    problem = load_problem(FIXTURES / f"{name}.py")
    config = AgentConfig(agent="baseline", rounds=1, patience=1)
    with get_sandbox(default_sandbox_name()) as box:
        rundir, info = run_job([problem], config, tmp_path, box, device="cpu")
    result = info.results[problem.id]
    assert result.best is not None and result.best.correct, result
    (attempt,) = rundir.problem(problem.id).load()
    assert attempt.view.result is not None and attempt.view.result.random_shape is not None
    assert check_candidate(attempt.view.source or "", "triton").violations == []


@pytest.mark.slow
def test_kwright_run_defaults_to_baseline_without_an_api_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "KWRIGHT_API_KEY")}
    env["KWRIGHT_HOME"] = str(tmp_path)
    proc = kwright(
        "run", str(FIXTURES / "scaled_leaky_clamp.py"), "--rounds", "1", "--json", env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["agent"] == "baseline"
    (p,) = out["problems"]
    assert p["best"]["status"] == "correct"


@pytest.mark.slow
def test_kwright_run_reports_unsupported_ops(tmp_path):
    env = {"KWRIGHT_HOME": str(tmp_path)}
    proc = kwright("run", str(FIXTURES / "sort_rows.py"), "--agent", "baseline", "--json", env=env)
    assert proc.returncode == 1
    (p,) = json.loads(proc.stdout)["problems"]
    assert p["best"] is None
    assert p["attempts"][0]["reason"] == "no candidate: unsupported op sort"
    assert "no further suggestion" in p["stop_reason"]

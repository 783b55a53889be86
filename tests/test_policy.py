"""The judging policy (issue 30, point 1): `strict` (all compute in custom kernels, the
default) or `kernelbench` (KernelBench's rule: any ops may stay in PyTorch, every forward
launches at least one custom kernel), accepted by eval, run, submit and leaderboard and
recorded in every result, run, job and leaderboard row."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from tests.conftest import kwright
from tests.fake_openai import FakeOpenAI, Scripted
from tests.test_agents_loop import fenced
from worker.config import Settings
from worker.fleet.embedded import HomeLock
from worker.fleet.store_open import open_store

PROBLEM = "level1/2_ReLU"
RUNS = Path(__file__).parent / "fixtures" / "leaderboard" / "runs"

# A Triton kernel computes relu(x); a torch op stays on the output (|relu(x)| == relu(x)).
MIXED_TRITON = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
        return torch.abs(y)
"""

# CUDA C with one function that launches a kernel and one that computes in host code.
CUDA_HEAD = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = """
#include <torch/extension.h>

__global__ void relu_kernel(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

torch::Tensor relu_launch(torch::Tensor x) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    relu_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}

torch::Tensor relu_host(torch::Tensor x) {
    auto y = torch::empty_like(x);
    const float* in = x.data_ptr<float>();
    float* o = y.data_ptr<float>();
    for (int i = 0; i < x.numel(); ++i) o[i] = in[i] > 0.f ? in[i] : 0.f;
    return y;
}
"""

ext = load_inline(
    name="policy_probe",
    cpp_sources="torch::Tensor relu_launch(torch::Tensor x); torch::Tensor relu_host(torch::Tensor x);",
    cuda_sources=source,
    functions=["relu_launch", "relu_host"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
'''
CUDA_MIXED = CUDA_HEAD + "        return torch.abs(ext.relu_launch(x.contiguous()))\n"
CUDA_NO_LAUNCH = CUDA_HEAD + "        return torch.abs(ext.relu_host(x.contiguous()))\n"


def _eval(candidate: Path, *options: str) -> dict:
    out = kwright("eval", PROBLEM, str(candidate), "--device", "cpu", "--json", *options)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.mark.slow
def test_eval_policy_kernelbench_lets_torch_ops_stay_beside_a_kernel(tmp_path):
    cand = tmp_path / "mixed.py"
    cand.write_text(MIXED_TRITON)
    strict = _eval(cand)
    assert strict["status"] == "rejected" and strict["policy"] == "strict"
    assert "torch.abs" in strict["reason"]
    for flag in (["--policy", "kernelbench"], ["--allow-torch-ops"]):  # the old name, an alias
        got = _eval(cand, *flag)
        assert got["status"] == "correct", (flag, got["reason"], got["messages"][-1500:])
        assert got["policy"] == "kernelbench"
        assert any(f.startswith("torch ops allowed") for f in got["flags"])
        assert not any(f.startswith("blind") for f in got["flags"])  # blind is off there
    bad = kwright("eval", PROBLEM, str(cand), "--policy", "lenient")
    assert bad.returncode == 2 and "lenient" in bad.stderr


@pytest.mark.slow
def test_kernelbench_policy_refuses_a_cuda_forward_that_launches_no_kernel():
    relu = resolve_problem(PROBLEM)
    kb = EvalOptions(device="cpu", profile=False, policy="kernelbench")
    mixed = evaluate(relu, CUDA_MIXED, kb)
    assert mixed.status == Status.CORRECT, (mixed.reason, mixed.messages[-2000:])
    assert mixed.policy == "kernelbench"
    none = evaluate(relu, CUDA_NO_LAUNCH, kb)
    assert none.status == Status.REJECTED and none.policy == "kernelbench"
    assert "launched no CUDA kernel" in str(none.reason)
    strict = evaluate(relu, CUDA_MIXED, EvalOptions(device="cpu", profile=False))
    assert strict.status == Status.REJECTED and strict.policy == "strict"


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    yield {
        "KWRIGHT_HOME": str(home),
        "OPENAI_API_KEY": "",
        "KWRIGHT_API_KEY": "sk-test-not-a-real-key",
        "KWRIGHT_BROKER_URL": "",
        "KWRIGHT_STORE_URL": "",
        "KWRIGHT_SANDBOX": "none",
        "KWRIGHT_QUEUE": "cpu",
        "KWRIGHT_EMBEDDED_IDLE_EXIT_S": "5",
    }
    pid = HomeLock(home).holder()  # the embedded worker `submit` started
    if pid and pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_run_judges_every_attempt_under_its_policy_and_records_it(env):
    with FakeOpenAI() as fake:
        fake.script("coder", Scripted(content=fenced(MIXED_TRITON)))
        fake.script(
            "judge", Scripted(content=json.dumps({"bottleneck": "x", "method": "y", "plan": ["z"]}))
        )
        llm = ("--agent", "llm", "--base-url", fake.base_url, "--rounds", "1", "--json")
        out = kwright("run", PROBLEM, *llm, "--policy", "kernelbench", env=env, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "kernelbench policy" in fake.requests_for("coder")[0].system
    run_dir = Path(json.loads(out.stdout)["run_dir"])
    assert json.loads((run_dir / "run.json").read_text())["config"]["policy"] == "kernelbench"
    evals = [json.loads(p.read_text()) for p in run_dir.rglob("eval.json")]
    assert evals and {e["policy"] for e in evals} == {"kernelbench"}
    assert evals[0]["status"] == "correct"


def test_submit_records_the_policy_in_the_job(env):
    out = kwright("submit", PROBLEM, "--agent", "baseline", "--policy", "kernelbench", "--json",
                  env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    job_id = json.loads(out.stdout)["jobs"][0]["job_id"]
    job = open_store(Settings(home=Path(env["KWRIGHT_HOME"]), broker_url=None)).get(job_id)
    assert job is not None and job.spec.config.policy == "kernelbench"


def _runs_with_one_kernelbench_run(tmp_path: Path) -> Path:
    """The leaderboard fixtures with run a1 (llm / o3 / H100 / cuda) judged under kernelbench;
    a2, the same agent, model and GPU, stays strict."""
    runs = tmp_path / "runs"
    shutil.copytree(RUNS, runs)
    path = runs / "a1" / "run.json"
    data = json.loads(path.read_text())
    data["config"]["policy"] = "kernelbench"
    path.write_text(json.dumps(data))
    return runs


def test_the_leaderboard_never_ranks_two_policies_together(tmp_path):
    runs = str(_runs_with_one_kernelbench_run(tmp_path))
    base = ("leaderboard", "--runs-dir", runs, "--suite", "builtin", "--level", "1")
    strict = kwright(*base, "--json")
    assert strict.returncode == 0, strict.stderr
    board = json.loads(strict.stdout)
    assert board["policy"] == "strict" and {r["key"]["policy"] for r in board["rows"]} == {"strict"}
    assert (
        "not on this board (judged under the kernelbench policy: --policy kernelbench): "
        "llm / o3 / H100 / cuda" in board["notes"]
    )
    kb = json.loads(kwright(*base, "--json", "--policy", "kernelbench").stdout)
    assert kb["policy"] == "kernelbench" and [r["key"] for r in kb["rows"]] == [
        {
            "agent": "llm",
            "model": "o3",
            "gpu": "H100",
            "device": "cuda",
            "policy": "kernelbench",
            "precision": "fp32",
        }
    ]
    # The same agent, model and GPU under each policy: two rows on two boards, each with only
    # its own policy's results (a1 finished level1/1, a2 did not attempt it).
    cells = {b["policy"]: b["cells"] for b in (board, kb)}
    o3 = next(i for i, r in enumerate(board["rows"]) if r["key"]["model"] == "o3")
    strict_cell = next(
        c for c in cells["strict"] if c["row"] == o3 and c["problem_id"] == "level1/1_Square_matmul"
    )
    kb_cell = next(c for c in cells["kernelbench"] if c["problem_id"] == "level1/1_Square_matmul")
    assert strict_cell["status"] == "not_attempted" and kb_cell["run_dir"].endswith("a1")
    md = kwright(*base, "--policy", "kernelbench").stdout
    assert any(line.startswith("- Policy: kernelbench (") for line in md.splitlines())
    csv = kwright(*base, "--format", "csv").stdout.splitlines()
    assert csv[0].endswith(",policy,precision")
    assert all(line.endswith(",strict,fp32") for line in csv[1:])


def test_a_run_at_another_precision_is_a_row_of_its_own_and_exported_as_such(tmp_path):
    """Issue 30: the precision is recorded on the board and in --export-kernelbench."""
    runs = tmp_path / "runs"
    shutil.copytree(RUNS, runs)
    path = runs / "a1" / "run.json"
    data = json.loads(path.read_text())
    data["config"]["precision"] = "bf16"
    path.write_text(json.dumps(data))
    base = ("leaderboard", "--runs-dir", str(runs), "--suite", "builtin", "--level", "1")
    board = json.loads(kwright(*base, "--json").stdout)
    o3 = sorted(r["key"]["precision"] for r in board["rows"] if r["key"]["model"] == "o3")
    assert o3 == ["bf16", "fp32"]  # a1 at bf16, a2 at fp32: two rows, never one
    assert "llm / o3 / H100 / cuda / bf16" in kwright(*base).stdout
    out = tmp_path / "kb"
    done = kwright(*base, "--export-kernelbench", str(out))
    assert done.returncode == 0, done.stderr
    found = {
        json.loads(p.read_text())["precision"]
        for p in out.rglob("analysis.json")
        if "o3" in json.loads(p.read_text())["run_name"]
    }
    assert found == {"bf16", "fp32"}


def test_run_precision_reaches_every_evaluation_and_the_record(env):
    """`run --precision fp16`: every attempt is judged at fp16 and the run records it; the
    baseline agent, which writes float32 kernels, is refused up front (one line, exit 2)."""
    refused = kwright("run", PROBLEM, "--agent", "baseline", "--precision", "fp16", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "kwright: error: --precision fp16: the baseline agent writes float32 kernels only; "
        "use --precision fp32, or --agent llm with an API key or --base-url"
    ]
    with FakeOpenAI() as fake:
        fake.script(
            "coder",
            Scripted(content=fenced(MIXED_TRITON.replace("return torch.abs(y)", "return y"))),
        )
        fake.script(
            "judge", Scripted(content=json.dumps({"bottleneck": "x", "method": "y", "plan": ["z"]}))
        )
        llm = ("--agent", "llm", "--base-url", fake.base_url, "--rounds", "1", "--json")
        out = kwright("run", PROBLEM, *llm, "--precision", "fp16", env=env, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
    run_dir = Path(json.loads(out.stdout)["run_dir"])
    assert json.loads((run_dir / "run.json").read_text())["config"]["precision"] == "fp16"
    evals = [json.loads(p.read_text()) for p in run_dir.rglob("eval.json")]
    assert evals and {e["precision"] for e in evals} == {"fp16"}
    assert evals[0]["status"] == "correct", evals[0]["reason"]

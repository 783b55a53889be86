"""The baseline Coder: reading references safely, lowering, fusing, writing legal candidates.

Unit tests trace test-written problems in-process (`analyze`); the reading tests go through
the real child process, as the Coder does.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agents.baseline.coder import BaselineCoder
from agents.baseline.lowering.analyze import analyze
from agents.baseline.lowering.codegen import generate
from agents.baseline.lowering.lower import lower
from agents.baseline.lowering.schedule import schedule
from agents.baseline.params import read_header
from agents.config import AgentConfig
from agents.protocols import CoderContext, Feedback
from kernelbench.harness.static.check import check_candidate
from kernelbench.problems.problem import load_problem
from kernelbench.problems.registry import list_problems

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "baseline"


def problem(name: str):
    return load_problem(FIXTURES / f"{name}.py")


def plan(tmp_path: Path, source: str):
    path = tmp_path / "p.py"
    path.write_text(source)
    p = load_problem(path)
    analysis = analyze(path, p.sizes, p.check_sizes, seed=0)
    assert analysis["ok"], analysis
    return p, analysis, schedule(lower(analysis))


def context(p, round_=1, feedback=None) -> CoderContext:
    return CoderContext(
        problem=p,
        problem_source=p.source(),
        config=AgentConfig(),
        round=round_,
        feedback=feedback,
    )


PROBLEM = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Model(nn.Module):
    def __init__(self{init_args}):
        super().__init__()
{init_body}
    def forward(self, {fwd_args}):
{fwd_body}

batch_size = 8
dim = 64

def get_inputs():
    return [{inputs}]

def get_init_inputs():
    return [{init_inputs}]
"""


def source(fwd_body: str, init_args="", init_body="        pass\n", fwd_args="x",
           inputs="torch.randn(batch_size, dim)", init_inputs="") -> str:  # fmt: skip
    return PROBLEM.format(
        init_args=init_args,
        init_body=init_body,
        fwd_args=fwd_args,
        fwd_body=fwd_body,
        inputs=inputs,
        init_inputs=init_inputs,
    )


def kinds(sched) -> list[str]:
    return [g.kind for g in sched.groups]


def test_softmax_is_one_row_kernel_with_two_reduction_passes(tmp_path):
    _, _, sched = plan(tmp_path, source("        return torch.softmax(x, dim=-1)\n"))
    assert kinds(sched) == ["row"]
    src = generate("t", "", {}, sched)[0]
    assert src.count("for r0 in range(0, R, BLOCK_R):") == 3  # max, sum, then the output


def test_linear_bias_activation_scale_is_one_matmul_kernel(tmp_path):
    src = source(
        "        return F.silu(self.fc(x)) * 0.5 + 1.0\n",
        init_args=", n",
        init_body="        self.fc = nn.Linear(n, 32)\n",
        init_inputs="dim",
    )
    _, _, sched = plan(tmp_path, src)
    assert kinds(sched) == ["matmul"]
    assert len(sched.groups[0].members) >= 5  # matmul, bias add, silu, scale, shift


def test_a_matmul_launches_its_headers_tiles_on_the_cpu_too(tmp_path):
    """Issue 29: the interpreter and the profile see the configuration a GPU would launch
    (a K loop of several iterations: K 64 over BLOCK_K 16), not larger CPU-only tiles."""
    src = source(
        "        return self.fc(x)\n",
        init_args=", n",
        init_body="        self.fc = nn.Linear(n, 32)\n",
        init_inputs="dim",
    )
    _, analysis, sched = plan(tmp_path, src)
    params = {"BLOCK_M": 32, "BLOCK_N": 16, "BLOCK_K": 16}
    code, record = generate("t", "", analysis, sched, {"k0_matmul": params})
    assert record["k0_matmul"]["params"] | params == record["k0_matmul"]["params"]
    for key, value in params.items():
        assert f"{key}_k0_matmul = {value}\n" in code
    assert "is_cuda" not in code


def test_layer_norm_on_a_matmul_output_takes_two_kernels(tmp_path):
    src = source(
        "        return self.ln(self.fc(x))\n",
        init_args=", n",
        init_body="        self.fc = nn.Linear(n, 32)\n        self.ln = nn.LayerNorm(32)\n",
        init_inputs="dim",
    )
    _, _, sched = plan(tmp_path, src)
    assert kinds(sched) == ["matmul", "row"]


def test_unsupported_ops_are_named(tmp_path):
    from agents.baseline.coder import failure_text
    from agents.baseline.lowering.ir import Unsupported, UnsupportedKind

    for body, text, kind, op in (
        ("        return torch.fft.fft(x).real\n", "unsupported op", UnsupportedKind.OP, None),
        (
            "        return F.dropout(x, 0.5)\n",
            "unsupported op dropout",
            UnsupportedKind.OP,
            "dropout",
        ),
        (
            "        return torch.flip(x, (0, 1)) * 2\n",
            "unsupported op flip left outside a kernel",
            UnsupportedKind.OP,
            "flip",
        ),
        (
            "        y = x * 2\n        v = y.view(-1)\n        y.add_(1.0)\n        return v * 2\n",
            "unsupported: an in-place add_ on a tensor that is or has a view",
            UnsupportedKind.USAGE,
            None,
        ),
        (
            "        F.relu(x, inplace=True)\n        return x * 2\n",
            "unsupported: an in-place relu on a forward input or parameter",
            UnsupportedKind.USAGE,
            None,
        ),
        (
            "        return F.pad(x, (1, 1), mode='reflect') * 2\n",
            "unsupported op pad in mode 'reflect'",
            UnsupportedKind.OP,
            "pad",
        ),
        (
            "        return torch.matmul(x.double(), x.double().t())\n",
            "unsupported: ",
            UnsupportedKind.USAGE,
            None,
        ),
    ):
        path = tmp_path / "u.py"
        path.write_text(source(body))
        p = load_problem(path)
        analysis = analyze(path, p.sizes, p.check_sizes, seed=0)
        with pytest.raises(Unsupported) as info:
            schedule(lower(analysis))
        assert failure_text(info.value).startswith("no candidate: " + text), info.value
        assert info.value.kind is kind, info.value
        if op is not None:
            assert info.value.op == op


def test_judge_params_reach_the_kernels(tmp_path):
    _, analysis, sched = plan(tmp_path, source("        return torch.relu(x) * 2\n"))
    src, record = generate(
        "t", "", analysis, sched, {"k0_pointwise": {"BLOCK": 4096, "num_warps": 8}}
    )
    assert record["k0_pointwise"]["params"] == {"BLOCK": 4096, "num_warps": 8}
    assert "BLOCK=4096" in src and "num_warps=8" in src
    assert read_header(src)["k0_pointwise"]["params"]["BLOCK"] == 4096
    # illegal values are clamped to legal ones, unknown knobs ignored
    _, record = generate("t", "", analysis, sched, {"k0_pointwise": {"BLOCK": 3000, "VEC": 9}})
    assert record["k0_pointwise"]["params"]["BLOCK"] == 2048


def test_coder_reports_unsupported_ops_as_failures():
    proposal = BaselineCoder().propose(context(problem("sort_rows")))
    assert proposal.source is None
    assert proposal.failure == "no candidate: unsupported op sort"


def test_a_hanging_reference_times_out_and_is_killed():
    started = time.perf_counter()
    proposal = BaselineCoder(read_timeout_s=8).propose(context(problem("hangs_in_init")))
    assert proposal.source is None and "timed out" in (proposal.failure or "")
    assert time.perf_counter() - started < 60


def test_a_crashing_reference_is_a_failure_not_an_exception():
    proposal = BaselineCoder().propose(context(problem("crashes_in_init")))
    assert proposal.source is None and "crashed" in (proposal.failure or "")


def test_coder_uses_the_judges_params_and_alternatives():
    coder = BaselineCoder()
    p = problem("scaled_leaky_clamp")
    first = coder.propose(context(p))
    assert first.source is not None
    name = next(iter(read_header(first.source)))
    fb = Feedback(
        mode="optimize",
        summary="x",
        params={
            "kernels": {name: {"BLOCK": 2048}},
            "alternatives": [{name: {"BLOCK": 256}}],
        },
    )
    second = coder.propose(context(p, 2, fb))
    assert read_header(second.source)[name]["params"]["BLOCK"] == 2048
    ctx = context(p, 2, fb)
    ctx.candidate_index = 1
    alt = coder.propose(ctx)
    assert read_header(alt.source)[name]["params"]["BLOCK"] == 256


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 2, 3])
def test_candidates_for_the_builtin_suite_use_no_torch_compute_ops(level):
    """Every candidate the Coder writes passes the static checker (no torch compute ops)."""
    coder = BaselineCoder()
    written = 0
    for p in list_problems(level=level):
        proposal = coder.propose(context(p))
        if proposal.source is None:
            assert proposal.failure and proposal.failure.startswith("no candidate: ")
            continue
        report = check_candidate(proposal.source, "triton")
        assert report.violations == [], (p.id, report.violations)
        assert not [w for w in report.warnings if "tl.dot" in w], (p.id, report.warnings)
        written += 1
    assert written >= 1


SIZED = """
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        g = x.view(x.shape[0], self.groups, -1)
        return (g - g.mean(dim=-1, keepdim=True)).view(x.shape) * {scale}

batch = 8
groups = 4
dim = 64
CHECK_SIZES = [{{"batch": 8, "groups": 4, "dim": 64}}, {{"batch": 5, "groups": 2, "dim": 48}}]

def get_inputs():
    return [torch.randn(batch, dim)]

def get_init_inputs():
    return [groups]
"""


def test_constants_that_follow_the_size_are_read_from_self(tmp_path):
    p, analysis, sched = plan(tmp_path, SIZED.format(scale="2.0"))
    assert {s["expr"] for s in analysis["symbols"]} == {"self.groups"}
    src, _ = generate(p.id, p.source(), analysis, sched)
    assert "self.groups" in src.split("def forward", 1)[1]
    # a size-dependent constant that is no attribute: refused, not baked in
    path = tmp_path / "q.py"
    path.write_text(SIZED.format(scale="(self.groups * 3 + 1)"))
    q = load_problem(path)
    analysis = analyze(path, q.sizes, q.check_sizes, seed=0)
    from agents.baseline.coder import failure_text
    from agents.baseline.lowering.ir import Unsupported

    with pytest.raises(Unsupported) as info:
        lower(analysis)
    assert "changes with the problem size" in failure_text(info.value)


POOL_FOLLOWS = """
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, in_features, out_features, pool_kernel_size):
        super().__init__()
        self.matmul = nn.Linear(in_features, out_features)
        self.avg_pool = nn.AvgPool1d(kernel_size=pool_kernel_size)

    def forward(self, x):
        x = self.avg_pool(self.matmul(x).unsqueeze(1)).squeeze(1)
        return torch.max(torch.relu(x), dim=1).values

batch_size = 64
in_features = 512
out_features = 512
pool_kernel_size = {pool}

def get_inputs():
    return [torch.rand(batch_size, in_features)]

def get_init_inputs():
    return [in_features, out_features, pool_kernel_size]
"""


def test_a_pooling_window_that_follows_the_size_is_refused_not_baked(tmp_path):
    """KernelBench level2/98: the pool's kernel_size is a size the secret shape redraws
    (16 -> 13); the window was baked as 16 and every value was wrong there."""
    from agents.baseline.coder import failure_text
    from agents.baseline.lowering.ir import Unsupported, UnsupportedKind

    path = tmp_path / "pool.py"
    path.write_text(POOL_FOLLOWS.format(pool=16))
    p = load_problem(path)
    analysis = analyze(path, p.sizes, p.check_sizes, seed=0)
    assert analysis["ok"], analysis
    with pytest.raises(Unsupported) as info:
        lower(analysis)
    assert info.value.kind is UnsupportedKind.OP and info.value.op == "nn.AvgPool1d"
    assert failure_text(info.value).startswith(
        "no candidate: unsupported op nn.AvgPool1d with a kernel_size that follows the "
        "problem size (16 at one size, "
    ), failure_text(info.value)
    # a window that stays put is lowered as before
    _, fixed, sched = plan(tmp_path, POOL_FOLLOWS.format(pool=4))
    assert fixed["baked"] == [] and sched.groups


LABELS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Model(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.classes = classes

    def forward(self, labels):
        return F.one_hot(labels, self.classes).float() * 2.0

def get_inputs():
    return [torch.randint(0, 100, (4096,))]

def get_init_inputs():
    return [100]
"""


def test_the_coder_reads_the_reference_at_a_fallback_where_the_first_shape_fails(tmp_path):
    """The class count and the labels' range are equal literals; the planner's first shape
    makes them distinct (meta does not read label values), so the real forward fails
    there. The Coder falls back as the harness does instead of giving up on the problem."""
    path = tmp_path / "labels.py"
    path.write_text(LABELS)
    p = load_problem(path)
    analysis = analyze(path, p.sizes, p.check_sizes, seed=0)
    assert analysis["ok"], analysis
    sizes = analysis["sizes"]
    assert sizes["get_init_inputs[0]"] >= sizes["get_inputs[0]"], sizes
    with pytest.raises(Exception, match="unsupported op one_hot"):
        lower(analysis)


ELSEWHERE = Path(__file__).resolve().parent / "fixtures" / "elsewhere"


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", sorted(ELSEWHERE.glob("level*/*.py")), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_problems_written_elsewhere_get_a_clean_candidate_or_a_named_reason(path):
    """KernelBench-shaped problems written apart from the Coder (odd ops, dtypes, returns,
    signatures, in-place ops, literal sizes): each gets a candidate the static check
    passes, or one line saying why not -- never an exception out of the Coder."""
    proposal = BaselineCoder().propose(context(load_problem(path)))
    if proposal.source is None:
        failure = proposal.failure or ""
        assert failure.startswith("no candidate: ") and "\n" not in failure, failure
        assert "internal" not in failure and "Traceback" not in failure, failure
        return
    report = check_candidate(proposal.source, "triton")
    assert report.violations == [], report.violations

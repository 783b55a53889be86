"""KernelBench parity (issue 30, points 3-5): parameter handover by seed, shapes that cannot
tell right from wrong, precisions and the trivial-output probe; all through evaluate()."""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import load_problem
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.compare import compare_outputs
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import ErrorKind, Status

# ---------------------------------------------------------------- point 3: handover

SCALED = """
import torch, torch.nn as nn

class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.scale = nn.Parameter(torch.randn(n))

    def forward(self, x):
        return x * self.scale

n = 256

def get_inputs():
    return [torch.randn(4, n)]

def get_init_inputs():
    return [n]
"""

# ModelNew nests the parameter one level down ("inner.scale", not "scale"): no slot by name
NESTED = """
import torch, torch.nn as nn, triton, triton.language as tl

@triton.jit
def mul_kernel(x_ptr, s_ptr, y_ptr, total, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < total
    x = tl.load(x_ptr + o, mask=m, other=0.0)
    s = tl.load(s_ptr + o % n, mask=m, other=0.0)
    tl.store(y_ptr + o, x * s, mask=m)

class Inner(nn.Module):
    def __init__(self, n):
        super().__init__()
        PRELUDE
        self.scale = nn.Parameter(torch.randn(n))

class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.inner = Inner(n)

    def forward(self, x):
        y = torch.empty_like(x)
        s = self.inner.scale
        mul_kernel[(triton.cdiv(x.numel(), 1024),)](x, s, y, x.numel(), s.numel(), BLOCK=1024)
        return y
"""


@pytest.mark.slow
def test_a_candidate_nesting_its_parameters_differently_gets_the_same_initial_values(write):
    """KernelBench's protocol: the same seed before both constructors. Before, the nested
    parameter kept a random value of its own and the faithful kernel was `incorrect`."""
    problem = load_problem(write("level1/1_Scaled.py", SCALED))
    result = evaluate(problem, NESTED.replace("PRELUDE", "pass"), EvalOptions(trials=1))
    assert result.status == Status.CORRECT, (result.reason, result.messages[-2000:])
    (flag,) = [f for f in result.flags if f.startswith("parameters:")]
    assert "holds their values" in flag and "scale" in flag, flag


def test_a_reference_tensor_with_no_slot_is_named_not_dropped_silently(write):
    """ModelNew draws another tensor first: its own `scale` differs from the reference's,
    which found no slot by name nor by value. `incorrect`, and the flag names it."""
    problem = load_problem(write("level1/1_Scaled.py", SCALED))
    drawn_first = NESTED.replace("PRELUDE", "torch.randn(3)")
    result = evaluate(problem, drawn_first, EvalOptions(trials=1))
    assert result.status == Status.INCORRECT, result.reason
    (flag,) = [f for f in result.flags if f.startswith("parameters:")]
    assert "found no slot in ModelNew" in flag and flag.endswith(": scale"), flag


# ------------------------------------------------------- point 4: not judgeable shapes

# The exact output is 0; the float32 reference is rounding noise (~1e-4), all of its RMS
CANCELLED = """
import torch, torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return ((x + 4096.0) - 4096.0) - x

n = 4096

def get_inputs():
    return [torch.randn(n)]

def get_init_inputs():
    return []
"""

ZEROS = """
import torch, torch.nn as nn, triton, triton.language as tl

@triton.jit
def fill_kernel(y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.zeros([BLOCK], dtype=tl.float32) + VALUE, mask=o < n)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        y = torch.empty_like(x)
        fill_kernel[(triton.cdiv(x.numel(), 1024),)](y, x.numel(), BLOCK=1024)
        return y
"""


def test_a_problem_whose_reference_is_its_own_noise_is_not_called_incorrect(write):
    """The exact kernel (zeros) was `incorrect` against float32 noise with an atol of
    ~1e-8. No shape can tell right from wrong: not judged, typed with the figures, and the
    verdict is the problem's (error, bad_problem), not the candidate's."""
    problem = load_problem(write("level1/1_Cancelled.py", CANCELLED))
    result = evaluate(problem, ZEROS.replace("VALUE", "0.0"), EvalOptions(trials=1))
    assert result.status == Status.ERROR and result.error_kind == ErrorKind.BAD_PROBLEM
    assert "no checked shape can tell right from wrong" in (result.reason or "")
    assert result.not_judgeable, result.model_dump_json()
    item = result.not_judgeable[0]
    assert item.output == 0 and item.noise >= item.scale > 0 and item.sizes
    assert any(f.startswith("not judgeable: trial 0") for f in result.flags), result.flags
    assert result.trials[0].outputs[0].judgeable is False


def test_a_wrong_structure_on_an_unjudgeable_shape_is_still_incorrect(write):
    problem = load_problem(write("level1/1_Cancelled.py", CANCELLED))
    wrong = ZEROS.replace("VALUE", "0.0").replace("return y", "return y[:-1]")
    result = evaluate(problem, wrong, EvalOptions(trials=1))
    assert result.status == Status.INCORRECT and "shape" in (result.reason or ""), result.reason


# ------------------------------------------------------------- point 5: precision

RELU = resolve_problem("level1/2_ReLU")
RELU_KERNEL = """
import torch, torch.nn as nn, triton, triton.language as tl

@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    # through float32: the Triton interpreter compares bfloat16 values by their bits
    x = tl.load(x_ptr + o, mask=m, other=0.0).to(tl.float32)
    tl.store(y_ptr + o, tl.maximum(x, 0.0).to(y_ptr.dtype.element_ty), mask=m)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
"""


@pytest.mark.parametrize(("precision", "dtype"), [("fp16", "float16"), ("bf16", "bfloat16")])
def test_half_precisions_cast_inputs_and_use_kernelbench_tolerances(precision, dtype):
    result = evaluate(RELU, RELU_KERNEL, EvalOptions(trials=1, precision=precision))
    assert result.status == Status.CORRECT, (result.reason, result.messages[-2000:])
    assert result.precision == precision
    check = result.trials[0].outputs[0]
    assert check.ref_dtype == dtype and check.dtype == dtype
    assert check.rtol == 1e-2


def test_fp32_is_the_default_and_recorded():
    result = evaluate(RELU, RELU_KERNEL, EvalOptions(trials=1))
    assert result.status == Status.CORRECT and result.precision == "fp32"
    assert result.trials[0].outputs[0].rtol == 1e-4


# A wide tolerance under which an all-zero output passes (uniform values in [0, 1): max <= 2 x RMS)
WIDE = """
import torch, torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x * 1.0

n = 4096
TOLERANCE = {"atol": 2.0, "rtol": 0.0}

def get_inputs():
    return [torch.rand(n)]

def get_init_inputs():
    return []
"""


@pytest.mark.slow
def test_zeros_never_pass_where_the_tolerance_would_accept_them(write):
    """Before, an all-zero output was `correct` under this tolerance (KernelBench issue 165's
    hole through a problem's TOLERANCE); now a constant output is refused there and the
    check is flagged, while a faithful copy still passes."""
    problem = load_problem(write("level1/1_Wide.py", WIDE))
    zeros = evaluate(problem, ZEROS.replace("VALUE", "0.0"), EvalOptions(trials=1))
    assert zeros.status == Status.INCORRECT, zeros.reason
    assert "would accept all zeros" in (zeros.reason or ""), zeros.reason
    faithful = ZEROS.replace("VALUE", "0.0").replace(
        "tl.zeros([BLOCK], dtype=tl.float32) + 0.0", "tl.load(x_ptr + o, mask=o < n)"
    )
    faithful = faithful.replace("fill_kernel(y_ptr, n", "fill_kernel(x_ptr, y_ptr, n").replace(
        "](y, x.numel()", "](x, y, x.numel()"
    )
    copy = evaluate(problem, faithful, EvalOptions(trials=1))
    assert copy.status == Status.CORRECT, copy.reason
    assert any(f.startswith("trivial output:") for f in copy.flags), copy.flags


def test_the_trivial_probe_names_a_constant_that_would_pass():
    import torch

    ref = torch.full((64,), 5.0) + torch.linspace(0, 1e-5, 64)
    ok, _, checks = compare_outputs(ref.clone(), ref)
    assert ok and checks[0].trivial == "constant"
    ok, reason, checks = compare_outputs(torch.zeros(64), torch.linspace(-1, 1, 64))
    assert not ok and checks[0].trivial is None, reason
    wide = {"atol": 2.0, "rtol": 0.0}
    constant = torch.full((16,), 5.0)
    ok, reason, _ = compare_outputs(torch.zeros(16), constant, wide)
    assert not ok and "would accept all zeros" in (reason or ""), reason
    assert compare_outputs(constant.clone(), constant, wide)[0]


@pytest.mark.slow
def test_eval_precision_option_reaches_the_result():
    import json

    from tests.conftest import kwright

    assert kwright("eval", "level1/2_ReLU", "@solution", "--precision", "fp8").returncode == 2
    done = kwright("eval", "level1/2_ReLU", "@solution", "--precision", "fp16", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["precision"] == "fp16"
    assert result["trials"][0]["outputs"][0]["dtype"] == "float16"

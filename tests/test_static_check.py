"""Static checks on candidates (no execution)."""

from __future__ import annotations

import pytest

from kernelbench.static_check import CandidateFileError, check_candidate

TRITON_OK = """
import torch, triton
import triton.language as tl
import torch.nn as nn

@triton.jit
def k(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=o < n), mask=o < n)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)  # holding parameters is fine
    def forward(self, x):
        y = torch.empty_like(x)
        k[(1,)](x, y, x.numel(), BLOCK=1024)
        return y.view(-1)
"""


def test_clean_candidate_passes():
    report = check_candidate(TRITON_OK)
    assert report.violations == [] and report.kernels == ["k"] and report.backend == "triton"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (("return y.view(-1)", "return torch.matmul(x, x)"), "torch.matmul"),
        (("return y.view(-1)", "return x.float().softmax(1)"), "softmax"),
        (("return y.view(-1)", "return self.linear(x)"), "self.linear"),
        (("return y.view(-1)", "return x @ x"), "@ operator"),
        (("class ModelNew(nn.Module):", "class ModelNew(Model):"), "inherits from the reference"),
        (("import torch, triton", "import torch, triton, threading"), "threading"),
        (
            ("return y.view(-1)", "torch.allclose = lambda *a, **k: True\n        return y"),
            "monkeypatches torch.allclose",
        ),
        (("return y.view(-1)", "import sys; sys._getframe(1)\n        return y"), "stack frames"),
        (
            (
                "return y.view(-1)",
                "try:\n            return y\n        except Exception:\n            return x",
            ),
            "try/except",
        ),
        (("@triton.jit\n", ""), "no @triton.jit kernel"),
    ],
)
def test_cheating_patterns_are_violations(patch, expected):
    source = TRITON_OK.replace(*patch)
    assert source != TRITON_OK
    report = check_candidate(source)
    assert any(expected in v for v in report.violations), report.violations


def test_torch_ops_become_warnings_when_allowed():
    source = TRITON_OK.replace("return y.view(-1)", "return torch.relu(y)")
    assert check_candidate(source).violations
    allowed = check_candidate(source, allow_torch_ops=True)
    assert allowed.violations == [] and any("torch.relu" in w for w in allowed.warnings)


def test_not_a_candidate():
    with pytest.raises(CandidateFileError, match="syntax error"):
        check_candidate("def (:")
    with pytest.raises(CandidateFileError, match="no `class ModelNew"):
        check_candidate("class Model: pass")


def test_cuda_backend_detected_and_checked():
    src = (
        "import torch\n"
        "from torch.utils.cpp_extension import load_inline\n"
        'src = """__global__ void add(float* x) {}"""\n'
        "class ModelNew:\n    pass\n"
    )
    report = check_candidate(src)
    assert report.backend == "cuda" and report.kernels == ["add"] and report.violations == []


def test_fp32_dot_without_precision_warns():
    src = TRITON_OK.replace(
        "tl.store(y_ptr + o", "a = tl.dot(x_ptr, x_ptr)\n    tl.store(y_ptr + o"
    )
    assert any("input_precision" in w for w in check_candidate(src).warnings)

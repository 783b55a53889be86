"""Blind host code (issue 28): the candidate's process holds stand-ins, its program is
replayed on the real data in a clean process, and the replay's outputs are judged.

The cheats here attack the mechanism, not a pattern: each one tampers with what its own
process holds (the dispatch-mode stack, the recorder, the outputs, the report files) with
the static check switched off, and none may become `correct`, because nothing in the
candidate's process reaches the values the verdict compares.
"""

from __future__ import annotations

import textwrap

import pytest

from kernelbench.harness.blind import kernel_module
from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status

pytestmark = pytest.mark.slow

HEADER = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs, mask=mask, other=0.0), 0.0), mask=mask)


@triton.jit
def zero_kernel(y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.zeros([BLOCK], dtype=tl.float32), mask=offs < n)
"""


def blind_eval(source: str, *, static_check: bool = False):
    problem = resolve_problem("level1/2_ReLU")
    options = EvalOptions(blind=True, profile=False, device="cpu", static_check=static_check)
    return evaluate(problem, textwrap.dedent(HEADER) + textwrap.dedent(source), options)


def model(forward_body: str, prelude: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(forward_body).strip(), " " * 8)
    return f"{textwrap.dedent(prelude)}\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n{body}\n"


def test_a_builtin_solution_is_correct_blind_and_its_wrong_twin_is_not():
    problem = resolve_problem("level1/2_ReLU")
    options = EvalOptions(blind=True, profile=False, device="cpu")
    good = evaluate(problem, solution_path(problem).read_text(), options)
    assert good.status == Status.CORRECT, good.reason
    assert good.blind, "the verdict did not come from the replay"
    wrong = solution_path(problem).with_name("2_ReLU_wrong.py")
    if wrong.is_file():
        assert evaluate(problem, wrong.read_text(), options).status != Status.CORRECT


def test_the_kernel_module_holds_only_kernels_imports_and_constants():
    source = textwrap.dedent(HEADER) + model(
        "return x", prelude="import os\nSECRET = os.getcwd()\nBLOCK = 128\nprint('hi')"
    )
    cut = kernel_module(source)
    assert "def relu_kernel" in cut and "BLOCK = 128" in cut and "import triton" in cut
    assert "import os" not in cut and "getcwd" not in cut
    assert "ModelNew" not in cut and "print" not in cut


TAMPERING = {
    "torch compute in forward": "return torch.relu(x)",
    "dispatch disabled around torch compute": """
        with torch._C._DisableTorchDispatch():
            y = torch.relu(x)
        return y
    """,
    "every mode popped off the stack": """
        from torch.utils._python_dispatch import _pop_mode
        from torch._C import _len_torch_dispatch_stack
        popped = [_pop_mode() for _ in range(_len_torch_dispatch_stack())]
        y = torch.relu(x)
        return y
    """,
    "modes popped, the answer written into a kernel's output, modes pushed back": """
        from torch.utils._python_dispatch import _pop_mode, _push_mode
        from torch._C import _len_torch_dispatch_stack
        y = torch.empty_like(x)
        zero_kernel[(triton.cdiv(x.numel(), 1024),)](y, x.numel(), BLOCK=1024)
        popped = [_pop_mode() for _ in range(_len_torch_dispatch_stack())]
        y.copy_(torch.relu(x))
        for mode in reversed(popped):
            _push_mode(mode)
        return y
    """,
    "a kernel's output overwritten on the host behind the recorder": """
        y = torch.empty_like(x)
        zero_kernel[(triton.cdiv(x.numel(), 1024),)](y, x.numel(), BLOCK=1024)
        with torch._C._DisableTorchDispatch():
            y.copy_(torch.relu(x))
        return y
    """,
    "values written through the data pointer": """
        import ctypes
        y = torch.empty_like(x)
        zero_kernel[(triton.cdiv(x.numel(), 1024),)](y, x.numel(), BLOCK=1024)
        with torch._C._DisableTorchDispatch():
            r = torch.relu(x).contiguous()
        ctypes.memmove(y.data_ptr(), r.data_ptr(), r.numel() * r.element_size())
        return y
    """,
    "a host read makes the program depend on the data": """
        y = torch.empty_like(x)
        if x.flatten()[0].item() > -100:
            relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
    """,
    "the recorder's record emptied from inside": """
        import gc
        y = torch.empty_like(x)
        zero_kernel[(triton.cdiv(x.numel(), 1024),)](y, x.numel(), BLOCK=1024)
        for obj in gc.get_objects():
            if type(obj).__name__ == "Recorder":
                obj.steps[:] = [s for s in obj.steps if s.get("kind") != "launch"]
                obj.failure = None
        return y
    """,
    "outputs and a program forged on disk, then exit": """
        import json, os
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        os.makedirs("out", exist_ok=True)
        prog = {"version": 1, "steps": [
            {"kind": "source", "name": "input:0:0", "ref": 0},
            {"kind": "op", "op": "aten::abs", "args": {"list": [{"t": 0}]}, "kwargs": {},
             "out": {"t": 1}},
            {"kind": "outputs", "trial": 0, "values": {"list": [{"t": 1}]}},
        ]}
        open("out/program.json", "w").write(json.dumps(prog))
        os._exit(0)
    """,
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_in_the_candidates_process_never_becomes_correct(name):
    result = blind_eval(model(TAMPERING[name]))
    assert result.status != Status.CORRECT, (name, result.reason)


def test_a_torch_op_in_forward_is_refused_with_its_name():
    result = blind_eval(model("return torch.relu(x)"))
    assert result.status == Status.REJECTED and "aten.relu" in (result.reason or "")


def test_a_data_dependent_program_is_refused_with_that_reason():
    result = blind_eval(model(TAMPERING["a host read makes the program depend on the data"]))
    assert result.status == Status.REJECTED and "depend on the data" in (result.reason or "")

"""The trust boundary, layer by layer: each exact trick of issue 12's "Why" fails, with the
static check on (refused before anything runs) and off (caught at run time)."""

from __future__ import annotations

import textwrap

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status

RELU = resolve_problem("level1/2_ReLU")
SOFTPLUS = resolve_problem("level1/11_Softplus")
FAST = {"trials": 1, "profile": False}

CHEAT_IMPORTS = "import os, sys, json, glob\nfrom pathlib import Path\n"
HEAD = """
import torch, torch.nn as nn, triton, triton.language as tl


@triton.jit
def copy_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=o < n), mask=o < n)


def launch(x):
    y = torch.empty_like(x)
    copy_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
    return y
"""


def _candidate(forward: str, extra: str = "", imports: str = CHEAT_IMPORTS) -> str:
    body = textwrap.indent(textwrap.dedent(forward).strip(), " " * 8)
    return (
        imports + HEAD + textwrap.dedent(extra) + "\n\nclass ModelNew(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n\n"
        f"    def forward(self, x):\n{body}\n"
    )


def _both(problem, source):
    """(static on, static off) results."""
    on = evaluate(problem, source, EvalOptions(**FAST))
    off = evaluate(problem, source, EvalOptions(static_check=False, **FAST))
    return on, off


NONCE_FORGE = """
# Walk every frame for anything the harness keeps (nonce, reference outputs, request),
# write a "clean" report with outputs built from whatever was found, and leave.
found = {}
try:
    raise RuntimeError
except RuntimeError as exc:
    frame = exc.__traceback__.tb_frame
    while frame is not None:
        for key, value in frame.f_locals.items():
            if key in {"nonce", "ref_outputs", "req", "request", "seeds"}:
                found[key] = value
        frame = frame.f_back
report = {"status": "ok", "guard": {"violations": [], "intact_error": None}, "found": str(found)}
torch.save({"outputs": [x.clamp(min=0)], "inputs": [x]}, "out/trial_0.pt")
Path("report.json").write_text(json.dumps(report))
os._exit(0)
"""


def test_nonce_forge_through_frames_fails():
    on, off = _both(RELU, _candidate(NONCE_FORGE))
    assert on.status == Status.REJECTED and "__traceback__" in on.messages
    # At run time: the report it wrote is refused (no trace of a guard that saw its
    # forward) and its outputs cover only one trial of several.
    assert not off.correct, off
    assert off.status in (Status.REJECTED, Status.INCORRECT, Status.RUNTIME_ERROR)


def test_importing_the_reference_fails():
    source = _candidate(
        """
        mod = sys.modules.get("kw_problem") or __import__("kw_problem")
        return launch(mod.Model()(x))
        """
    )
    on, off = _both(RELU, source)
    assert on.status == Status.REJECTED and "__import__" in on.messages
    assert not off.correct and off.status == Status.RUNTIME_ERROR
    assert "kw_problem" in off.reason


def test_seeds_and_problem_are_not_on_disk_and_the_rng_is_reseeded():
    source = _candidate(
        """
        names = sorted(glob.glob("**", recursive=True))
        leaked = [n for n in names if n.endswith((".json", "problem.py")) or "inputs" in n]
        if leaked:
            raise RuntimeError(f"leaked: {leaked}")
        # regenerate the trial's input from the global RNG, as a cheat keyed on the seed would
        torch.manual_seed(torch.initial_seed())
        guess = torch.randn(x.shape)
        return launch(guess.clamp(min=0))
        """
    )
    on, off = _both(RELU, source)
    assert on.status == Status.REJECTED and "torch.initial_seed" in on.messages
    assert off.status in (Status.INCORRECT, Status.REJECTED), (off.status, off.reason)
    assert "leaked" not in (off.reason or "")


def test_eval_of_an_op_name_fails_statically_and_at_run_time():
    source = _candidate('return launch(eval("torch.nn.functional.soft" + "plus")(x))')
    on, off = _both(SOFTPLUS, source)
    assert on.status == Status.REJECTED and "uses eval" in on.messages
    assert off.status == Status.REJECTED and "aten.softplus" in off.reason, off.reason


def test_metaclass_swapping_forward_fails():
    extra = """
    class Swap(type):
        def __new__(mcs, name, bases, ns):
            ns["forward"] = lambda self, x: launch(torch.nn.functional.softplus(x))
            return super().__new__(mcs, name, bases, ns)
    """
    source = _candidate("return launch(x)", extra).replace(
        "class ModelNew(nn.Module):", "class ModelNew(nn.Module, metaclass=Swap):"
    )
    on, off = _both(SOFTPLUS, source)
    assert on.status == Status.REJECTED and "metaclass" in on.messages
    assert off.status == Status.REJECTED and "metaclass" in off.reason


@pytest.mark.parametrize(
    ("forward", "expected"),
    [
        ("return launch(torch.exp(x).log1p())", "aten.exp"),
        ("return launch(x.mul(x).sum(1, keepdim=True).expand_as(x).contiguous())", "aten.mul"),
        ("return launch(torch.tensor([max(v, 0.0) for v in x.tolist()]).view_as(x))", "tolist"),
        ("return launch(torch.ops.aten.relu.default(x))", "aten.relu"),
        ("return launch(x.__matmul__(x.t()))[:, : x.shape[1]].contiguous()", "aten.mm"),
    ],
)
def test_compute_guard_rejects_torch_compute_in_forward(forward, expected):
    result = evaluate(RELU, _candidate(forward), EvalOptions(static_check=False, **FAST))
    assert result.status == Status.REJECTED, (result.status, result.reason)
    assert expected in result.reason


def test_compute_guard_tampering_is_rejected():
    source = _candidate(
        """
        from torch.utils._python_dispatch import _pop_mode
        _pop_mode()
        return launch(x.clamp(min=0))
        """
    )
    result = evaluate(RELU, source, EvalOptions(static_check=False, **FAST))
    assert result.status == Status.REJECTED and "tampered" in result.reason, result.reason


def test_tiny_host_bookkeeping_is_not_a_false_alarm():
    source = _candidate(
        """
        block = int(torch.tensor(x.shape[-1]).clamp(max=1024))
        y = torch.empty_like(x)
        n = x.numel()
        copy_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
        return y
        """,
        imports="",
    ).replace("tl.load(x_ptr + o, mask=o < n)", "tl.maximum(tl.load(x_ptr + o, mask=o < n), 0.0)")
    result = evaluate(RELU, source, EvalOptions(**FAST))
    assert result.status == Status.CORRECT, (result.reason, result.messages[-1500:])


def test_torch_ops_allowed_turns_the_guard_into_a_flag():
    source = _candidate("return launch(x).clamp(min=0)", imports="")
    result = evaluate(RELU, source, EvalOptions(allow_torch_ops=True, **FAST))
    assert result.status == Status.CORRECT, result.reason
    assert any("torch ops allowed" in f for f in result.flags)


def test_a_kernel_right_only_at_the_named_shapes_fails_on_the_secret_shape():
    good = solution_path(RELU).read_text()
    named = {tuple(sorted((RELU.sizes | c).items())) for c in RELU.check_sizes or [RELU.sizes]}
    # Hard-codes the element counts of the shapes the problem file names: a launch that
    # covers exactly those and nothing else.
    counts = sorted({s["batch_size"] * s["dim"] for s in map(dict, named)})
    source = good.replace(
        "n = x.numel()", f"n = x.numel() if x.numel() in {counts} else x.numel() // 2"
    )
    assert source != good
    result = evaluate(RELU, source, EvalOptions(trials=1, profile=False, extra_shapes=True))
    assert result.random_shape is not None
    assert result.status == Status.INCORRECT, (result.status, result.reason)
    assert str(result.random_shape) in result.reason or "sizes" in result.reason


POSITIVE_ONLY = """
@triton.jit
def positive_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    v = tl.load(x_ptr + o, mask=o < n, other=0.0)
    tl.store(y_ptr + o, v, mask=(o < n) & (v > 0))  # the zeros are never written
"""


@pytest.mark.parametrize(("alloc", "expected"), [("empty", False), ("zeros", True)])
def test_memory_a_kernel_never_writes_is_poisoned(alloc, expected):
    """ReLU that writes only the positive elements: into `torch.empty` memory (a large
    allocation is fresh zero pages, so right by luck) it is wrong — the unwritten half holds
    the poison; into `torch.zeros` it is an honest kernel."""
    source = _candidate(
        f"""
        # 16 MiB and more: fresh pages from the OS, all zero unless poisoned
        y = torch.{alloc}(x.numel() + (1 << 22), dtype=x.dtype)[: x.numel()].view_as(x)
        positive_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
        """,
        POSITIVE_ONLY,
        imports="",
    )
    result = evaluate(RELU, source, EvalOptions(**FAST))
    assert result.correct is expected, (result.status, result.reason)
    if not expected:
        assert result.status == Status.INCORRECT and "nan" in (result.reason or "").lower()


@pytest.mark.slow
def test_compute_guard_sees_aten_calls_from_cpp_extensions():
    """A C++ extension's host code calls ATen through the same dispatcher: the guard sees it."""
    extra = """
    from torch.utils.cpp_extension import load_inline
    os.makedirs("build", exist_ok=True)
    ext = load_inline(
        name="kw_guard_probe",
        cpp_sources="at::Tensor fused(at::Tensor x) { return at::clamp_min(x, 0); }",
        functions=["fused"],
        build_directory="build",
    )
    """
    source = _candidate("return launch(ext.fused(x))", extra)
    result = evaluate(RELU, source, EvalOptions(static_check=False, timeout_s=600, **FAST))
    assert result.status == Status.REJECTED, (result.status, result.reason, result.messages[-800:])
    assert "aten.clamp_min" in result.reason

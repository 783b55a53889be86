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


RETURN = "return y.view(-1)"
CHEATS = [
    ((RETURN, "return torch.matmul(x, x)"), "torch.matmul"),
    ((RETURN, "return x.float().softmax(1)"), "softmax"),
    ((RETURN, "return self.linear(x)"), "self.linear"),
    ((RETURN, "return self.linear.forward(x)"), "self.linear"),
    ((RETURN, "return x @ x"), "@ operator"),
    ((RETURN, "return x.__matmul__(x)"), "__matmul__"),
    ((RETURN, "return torch.exp(y)"), "torch.exp"),
    ((RETURN, "return torch.log1p(y).clamp_min(0)"), "torch.log1p"),
    ((RETURN, "return torch.ops.aten.mm.default(x, x)"), "torch.ops"),
    ((RETURN, 'return vars(torch)["matmul"](x, x)'), "vars"),
    ((RETURN, 'return getattr(torch.nn.functional, "soft" + "plus")(x)'), "computed attribute"),
    (
        (RETURN, 'return getattr(torch.nn.functional, "softplus")(x)'),
        "torch.nn.functional.softplus",
    ),
    ((RETURN, 'return eval("torch.soft" + "max")(x, 1)'), "eval"),
    ((RETURN, 'exec("y = x.exp()")\n        return y'), "exec"),
    ((RETURN, "return F2(x)"), "torch.nn.functional.softmax"),
    (("class ModelNew(nn.Module):", "class ModelNew(Model):"), "inherits from the reference"),
    (("import torch, triton", "import torch, triton, threading"), "threading"),
    (("import torch, triton", "import torch, triton, _thread"), "_thread"),
    (("import torch, triton", "import torch, triton, numpy"), "numpy"),
    (("import torch, triton", "import torch, triton, kw_problem"), "kw_problem"),
    (("import torch, triton", "import torch, triton, gc"), "gc"),
    (
        ("import torch, triton", "import torch, triton\nfrom kernelbench import loading"),
        "kernelbench",
    ),
    ((RETURN, "torch.allclose = lambda *a, **k: True\n        return y"), "monkeypatching"),
    ((RETURN, "T = torch\n        T.allclose = None\n        return y"), "monkeypatching"),
    ((RETURN, 'setattr(triton, "jit", None)\n        return y'), "monkeypatching"),
    ((RETURN, "import sys; sys._getframe(1)\n        return y"), "imports sys"),
    (
        (
            RETURN,
            "try:\n            1 / 0\n        except Exception as e:\n            e.__traceback__.tb_frame.f_back\n        return y",
        ),
        "__traceback__",
    ),
    ((RETURN, 'open("step.json", "w").write("{}")\n        return y'), "open"),
    ((RETURN, "return torch.initial_seed()"), "RNG"),
    (("@triton.jit\n", ""), "no @triton.jit kernel"),
    (("@triton.jit\n", "@jit\n"), "decorator jit"),
    (
        (
            "class ModelNew(nn.Module):",
            "class Meta(type):\n    pass\n\nclass ModelNew(nn.Module, metaclass=Meta):",
        ),
        "metaclass",
    ),
    ((RETURN, RETURN + "\n    forward2 = None\n\nModelNew = Other"), "rebinds ModelNew"),
    ((RETURN, RETURN + "\n    forward = lambda self, x: x.exp()"), "forward"),
    ((RETURN, RETURN + "\n\nModelNew.forward = lambda self, x: x"), "outside the class body"),
    (
        (RETURN, "self.register_forward_hook(lambda m, i, o: i[0].exp())\n        return y"),
        "register_forward_hook",
    ),
    (
        (
            "super().__init__()",
            "super().__init__()\n        self.f = lambda t: torch.softmax(t, 1)",
        ),
        "torch.softmax",
    ),
    (
        (
            "super().__init__()",
            "super().__init__()\n        def f(t):\n            return t.exp().sum(1)\n        self.f = f\n        self.g = torch.nn.functional.gelu",
        ),
        "torch.nn.functional.gelu",
    ),
    (
        (
            "class ModelNew(nn.Module):",
            "class T(torch.Tensor):\n    def __torch_function__(cls, *a, **k):\n        pass\n\nclass ModelNew(nn.Module):",
        ),
        "__torch_function__",
    ),
    (
        (
            "class ModelNew(nn.Module):",
            "class H:\n    def run(self, x):\n        return torch.softmax(x, 1)\n\nclass ModelNew(nn.Module):",
        ),
        "torch.softmax",
    ),
    (
        (
            "class ModelNew(nn.Module):",
            "HELP = lambda x: torch.tanh(x)\n\nclass ModelNew(nn.Module):",
        ),
        "torch.tanh",
    ),
    (
        ("class ModelNew(nn.Module):", "OPS = {'mm': torch.einsum}\n\nclass ModelNew(nn.Module):"),
        "torch.einsum",
    ),
    (
        ("    tl.store(y_ptr", "    torch.exp(x_ptr)\n    tl.store(y_ptr"),
        "inside a @triton.jit body",
    ),
    ((RETURN, "return type('X', (nn.Module,), {})"), "three arguments"),
]


@pytest.mark.parametrize(("patch", "expected"), CHEATS, ids=[c[1] for c in CHEATS])
def test_cheating_patterns_are_violations(patch, expected):
    source = TRITON_OK.replace(*patch)
    if "F2(" in source:
        source = "from torch.nn.functional import softmax as F2\n" + source.replace(
            "F2(x)", "F2(x, 1)"
        )
    assert source != TRITON_OK
    report = check_candidate(source)
    assert any(expected in v for v in report.violations), report.violations


LEGIT = [
    ("import torch, triton", "import torch, triton\nimport triton as tr", "@triton.jit", "@tr.jit"),
    (
        "import triton.language as tl",
        "import triton.language as language\nimport triton.language as tl",
        "",
        "",
    ),
    ("@triton.jit\ndef k(", "def k_(", "k[(1,)]", "k[(1,)]"),
    (
        "return y.view(-1)",
        "n = int(torch.tensor(x.numel()).clamp(max=4096))\n        return y.view(-1)",
        "",
        "",
    ),
    (
        "super().__init__()",
        "super().__init__()\n        try:\n            self.sms = torch.cuda.get_device_properties(0).multi_processor_count\n        except (RuntimeError, AssertionError):\n            self.sms = 1",
        "",
        "",
    ),
    (
        "@triton.jit",
        "@triton.autotune(configs=[triton.Config({}, num_warps=4)], key=['n'])\n@triton.jit",
        "",
        "",
    ),
    ("def forward(self, x):", "@torch.no_grad()\n    def forward(self, x):", "", ""),
]


@pytest.mark.parametrize("patch", LEGIT)
def test_unusual_but_legitimate_patterns_pass(patch):
    source = TRITON_OK.replace(patch[0], patch[1])
    if patch[2]:
        source = source.replace(patch[2], patch[3])
    if "def k_(" in source:
        source = source.replace("class ModelNew", "k = triton.jit(k_)\n\n\nclass ModelNew")
    report = check_candidate(source)
    assert report.violations == [] and report.kernels, report.violations


def test_kernels_launched_from_a_helper_class_pass():
    source = TRITON_OK.replace(
        "class ModelNew(nn.Module):",
        "class Kernels:\n    @staticmethod\n    def copy(x):\n        y = torch.empty_like(x)\n"
        "        k[(1,)](x, y, x.numel(), BLOCK=1024)\n        return y\n\n\nclass ModelNew(nn.Module):",
    ).replace(RETURN, "return Kernels.copy(x)")
    assert check_candidate(source).violations == []


def test_streams_are_flagged_not_refused():
    source = TRITON_OK.replace(RETURN, "s = torch.cuda.Stream()\n        return y")
    report = check_candidate(source)
    assert report.violations == [] and any("torch.cuda.Stream" in w for w in report.warnings)


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
        "class ModelNew:\n    def forward(self, x):\n        return x\n"
    )
    report = check_candidate(src)
    assert report.backend == "cuda" and report.kernels == ["add"] and report.violations == []


def test_fp32_dot_without_precision_warns():
    src = TRITON_OK.replace(
        "tl.store(y_ptr + o", "a = tl.dot(x_ptr, x_ptr)\n    tl.store(y_ptr + o"
    )
    assert any("input_precision" in w for w in check_candidate(src).warnings)


SUPPORT_CLASS = (
    TRITON_OK.split("class ModelNew", maxsplit=1)[0]
    + """
class Causal(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("mask", torch.tril(torch.ones(n, n)))

class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.attn = Causal(n)

class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.block = Block(n)
    def forward(self, x):
        y = torch.empty_like(x)
        k[(1,)](x, y, x.numel(), BLOCK=1024)
        return y
"""
)


def test_a_support_class_built_only_by_modelnew_init_may_build_constants_with_torch():
    """A support class named only in ModelNew.__init__ (or in the __init__ of such a class)
    runs its __init__ while ModelNew is built: a causal mask made with torch.tril there is
    a constant, as it would be in ModelNew.__init__ itself."""
    assert check_candidate(SUPPORT_CLASS).violations == []


@pytest.mark.parametrize(
    "patch",
    [
        # built again in forward: its __init__ then runs at forward time
        ("        return y\n", "        Block(4)\n        return y\n"),
        # named in a lambda in ModelNew.__init__: that can run at any time
        ("        self.block = Block(n)\n", "        self.make = lambda: Block(n)\n"),
        # an alias at module level: the alias can be called anywhere
        ("class ModelNew(nn.Module):\n", "Alias = Causal\n\nclass ModelNew(nn.Module):\n"),
    ],
)
def test_a_support_class_reachable_outside_modelnew_init_may_not_compute_in_init(patch):
    report = check_candidate(SUPPORT_CLASS.replace(*patch))
    assert any("torch.tril" in v for v in report.violations), report.violations


def test_a_function_named_init_inside_forward_is_not_modelnew_init():
    patched = TRITON_OK.replace(
        "        y = torch.empty_like(x)\n",
        "        def __init__(z):\n            return torch.matmul(z, z)\n"
        "        y = torch.empty_like(__init__(x))\n",
    )
    report = check_candidate(patched)
    assert any("torch.matmul" in v for v in report.violations), report.violations

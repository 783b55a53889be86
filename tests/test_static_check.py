"""Static checks on candidates (no execution)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from kernelbench.harness.static.allowlist import ALLOWED_MODULES
from kernelbench.harness.static.check import CandidateFileError, check_candidate

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
    ((RETURN, "return x.clone().apply_(lambda v: max(v, 0.0))"), "apply_"),
    ((RETURN, "y.map_(x, lambda a, b: max(b, 0.0))\n        return y"), "map_"),
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


# ------------------------------------------------------------ the allowlist (issue 28, point 4)

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "kernelbench" / "problems" / "solutions").rglob("*.py"))
LEGIT_FILES = sorted((REPO / "tests" / "redteam" / "legit").glob("*.py")) + sorted(
    (REPO / "tests" / "fixtures" / "candidates").glob("*.py")
)


def test_every_built_in_solution_and_legitimate_file_passes_the_static_check():
    """The allowlist refuses nothing a real kernel file needs: every built-in solution and
    every legitimate corpus file (red-team legit, fixture candidates) passes."""
    sources = {p: p.read_text(encoding="utf-8") for p in [*SOLUTIONS, *LEGIT_FILES]}
    candidates = {p: s for p, s in sources.items() if "class ModelNew" in s}
    assert len([p for p in candidates if p in SOLUTIONS]) >= 100, len(candidates)
    refused = {
        str(p.relative_to(REPO)): check_candidate(s).violations[:2]
        for p, s in candidates.items()
        if check_candidate(s).violations
    }
    assert refused == {}, refused


def _with(source: str, imports: str = "", forward: str = "") -> str:
    """TRITON_OK with extra imports and extra forward statements before the return."""
    out = TRITON_OK.replace("import torch, triton\n", f"import torch, triton\n{imports}\n")
    return out.replace(RETURN, f"{forward}\n        {RETURN}" if forward else RETURN)


# Forbidden modules through allowed ones: each path is refused however it is spelled.
REEXPORTS = [
    ("import typing", "typing.sys.modules['os']"),
    ("import enum", "enum.sys.exit(0)"),
    ("import warnings", "warnings.sys.stdout"),
    ("import dataclasses", "dataclasses.sys.modules"),
    ("import functools", "functools.RLock()"),
    ("import collections", "collections.sys"),
    ("from typing import sys", "sys.exit(0)"),
    ("from enum import sys as s", "s.modules"),
    ("import typing as t", "getattr(t, 'sys')"),
    ("", "triton.testing.sys"),
    ("import triton.testing", "triton.testing.os.system('true')"),
    ("from triton.testing import subprocess", ""),
    ("", "tl.core.builtins.exec('1')"),
    ("from triton.language import core", "core.builtins"),
    ("", "triton.runtime.interpreter.np"),
    ("", "triton.runtime.build.subprocess.run(['true'])"),
    ("from triton.runtime import build", ""),
    ("", "triton.backends.nvidia.driver.ctypes"),
    ("", "triton.knobs.cache.dir"),
    ("", "triton.compiler"),
    ("", "triton.runtime.driver.active.utils"),
    ("", "torch.nn.functional.np.maximum"),
    ("", "torch.nn.functional.importlib.import_module('os')"),
    ("", "torch.cuda.threading.Thread"),
    ("", "torch.functional.operator.attrgetter('sys')"),
    ("", "torch.utils.cpp_extension.subprocess.run(['true'])"),
    ("", "torch.utils.cpp_extension.sys.modules"),
    ("", "torch.serialization.os.system('true')"),
    ("", "torch.backends.cuda.contextlib"),
    ("import torch.utils.data", ""),
    ("from torch.utils import cpp_extension as ce", "ce.os.environ"),
    ("import math", "math.__loader__"),
    ("import os", "os.system('true')"),
    ("import os", "os.environ['TRITON_INTERPRET'] = '0'"),
    ("import os", "os.environ.update({})"),
    ("import importlib", "importlib.import_module('sys')"),
    ("", "__import__('sys')"),
    ("", "getattr(triton, name)"),
    ("", "getattr(triton, '__spec__')"),
    ("import functools", "functools.reduce(getattr, ['runtime', 'build'], triton)"),
    ("import typing", "typing.get_type_hints(self.forward)"),
    ("import typing", "self.t = typing"),
    ("import typing", "m = [typing][0]"),
    ("import typing", "m = {'t': typing}"),
    ("import typing", "(lambda m=typing: m)()"),
    ("import typing", "f = lambda: typing"),
    ("import warnings", "w = warnings.catch_warnings()._module.sys"),
    ("", "d = torch.cuda.get_device_properties.__defaults__"),
    ("", "k.fn.__globals__['triton']"),
]


@pytest.mark.parametrize(("imports", "forward"), REEXPORTS, ids=[f"{a}|{b}" for a, b in REEXPORTS])
def test_forbidden_modules_through_allowed_ones_are_refused(imports, forward):
    report = check_candidate(_with(TRITON_OK, imports, forward))
    assert report.violations, (imports, forward)


@pytest.mark.parametrize(
    "patch",
    [
        # a module kept in a class body, reached as the class's attribute
        (
            "class ModelNew(nn.Module):",
            "class H:\n    import typing as t\n\nclass ModelNew(nn.Module):",
        ),
        (
            "class ModelNew(nn.Module):",
            "import typing\nclass H:\n    t = typing\n\nclass ModelNew(nn.Module):",
        ),
        # a module as a default argument
        (
            "class ModelNew(nn.Module):",
            "import typing\ndef f(m=typing):\n    return m.sys\n\nclass ModelNew(nn.Module):",
        ),
        # an annotation runs at def time; a string one is read by get_type_hints
        ("def forward(self, x):", "def forward(self, x: __import__('sys').modules):"),
        ("def forward(self, x):", "def forward(self, x: 'triton.runtime.build.subprocess'):"),
        ("def forward(self, x):", "def forward(self, x) -> '__import__(\"os\")':"),
    ],
)
def test_modules_kept_out_of_sight_are_refused(patch):
    assert check_candidate(TRITON_OK.replace(*patch)).violations


def test_allowed_paths_still_pass():
    """What kernel files do use: libdevice, tl.math, math, typing, os.environ.get, aliases."""
    source = _with(
        TRITON_OK,
        "import math, os, typing\nfrom triton.language.extra import libdevice\n"
        "from triton.language.extra.cuda import libdevice as cuda_libdevice\n"
        "import torch.nn.functional as F\nfrom torch.utils.cpp_extension import load_inline\n"
        "T = torch\nlanguage = tl\nfrom dataclasses import dataclass\n",
        "n = math.ceil(math.log2(x.numel() + 1))\n        interp = os.environ.get('TRITON_INTERPRET')\n"
        "        z: typing.Optional[int] = None\n        d = T.float32\n"
        "        w = getattr(torch, 'float16')\n        e = libdevice.erf\n"
        "        c = cuda_libdevice.tanh\n        m = tl.math.exp2\n        q = language.constexpr\n"
        "        b = torch.backends.cuda.matmul.allow_tf32",
    )
    report = check_candidate(source)
    assert report.violations == [], report.violations


def test_feature_probes_and_a_main_benchmark_block_pass():
    """`hasattr` on an allowed module is a bool (a missing name is fine); a `__main__` block
    that benchmarks with triton.testing.do_bench never runs in the harness."""
    source = _with(TRITON_OK, "", "fast = hasattr(tl, 'not_in_this_triton')") + (
        "\n\nif __name__ == '__main__':\n    import triton.testing\n"
        "    x = torch.randn(1 << 20)\n    print(triton.testing.do_bench(lambda: ModelNew()(x)))\n"
    )
    assert check_candidate(source).violations == []
    assert check_candidate(
        _with(TRITON_OK, "import typing", "ok = hasattr(typing, 'sys')")
    ).violations


def _module_attrs(module: object) -> list[tuple[str, str]]:
    """(attribute, real module name) for every attribute of `module` that is a module."""
    found = []
    for name in dir(module):
        try:
            value = getattr(module, name)
        except Exception:
            continue
        if inspect.ismodule(value):
            found.append((name, value.__name__))
    return found


WALKED = ["typing", "enum", "warnings", "dataclasses", "functools", "collections", "math",
          "torch", "torch.nn", "torch.nn.functional", "torch.cuda", "torch.autograd",
          "torch.utils.cpp_extension", "torch.backends.cuda", "torch.functional",
          "triton", "triton.runtime", "triton.language", "triton.language.math",
          "triton.language.extra", "triton.language.extra.libdevice",
          "triton.language.extra.cuda"]  # fmt: skip


def test_every_module_reachable_from_an_allowed_one_is_refused_unless_allowlisted():
    """Walks every attribute of the allowed modules that is itself a module: a candidate
    reaching it (by attribute, by `from X import`, by getattr with a literal) is refused
    unless the module is on the allowlist, and passes when it is."""
    checked = refused = 0
    for parent in WALKED:
        module = importlib.import_module(parent)
        for name, real in _module_attrs(module):
            path = f"{parent}.{name}"
            if name.startswith("__") or (parent.split(".")[-1] == name and real == parent):
                continue
            root = parent.split(".")[0]
            imports = f"import {parent}" if root != parent else f"import {root}"
            uses = [f"x{checked} = {path}.anything", f"x{checked} = {path}"]
            if real not in ALLOWED_MODULES:
                for use in [*uses, f"z = getattr({parent}, {name!r})"]:
                    report = check_candidate(_with(TRITON_OK, imports, use))
                    assert report.violations, (path, real, use)
                report = check_candidate(_with(TRITON_OK, f"from {parent} import {name}", ""))
                assert report.violations, (path, real, "from-import")
                refused += 1
            checked += 1
    assert refused >= 100 and checked > refused, (checked, refused)


def test_a_walked_sample_of_non_module_attributes_passes_or_is_refused_for_a_reason():
    """Public functions and classes of triton.language and math pass; their re-exports from
    modules outside the allowlist (functools.RLock from _thread) do not."""
    for name in ("load", "store", "arange", "program_id", "dot", "sum", "max", "where", "exp"):
        assert check_candidate(_with(TRITON_OK, "", f"f = tl.{name}")).violations == [], name
    for name in ("sqrt", "ceil", "log2", "prod", "pi", "inf"):
        assert check_candidate(_with(TRITON_OK, "import math", f"f = math.{name}")).violations == []


# ------------------------------------------------------------ the file's own get_inputs (issue 30)

KB_INPUTS = """

batch_size = 16
dim = 16384


def get_inputs():
    x = torch.randn(batch_size, dim)
    torch.manual_seed(0)
    return [x]


def get_init_inputs():
    return []
"""


def test_unreferenced_get_inputs_copied_from_the_problem_are_ignored():
    report = check_candidate(TRITON_OK + KB_INPUTS)
    assert report.violations == [], report.violations


@pytest.mark.parametrize(
    "patch",
    [
        (RETURN, "x = get_inputs()[0]\n        return y"),
        ("super().__init__()", "super().__init__()\n        self.x = get_inputs()"),
        (RETURN, "g = get_inputs\n        return y"),
        (RETURN, "return globals_()['get_inputs']"),
    ],
)
def test_get_inputs_that_the_candidate_calls_is_host_code(patch):
    source = (TRITON_OK + KB_INPUTS).replace(*patch)
    report = check_candidate(source)
    assert any("torch.randn" in v or "RNG" in v for v in report.violations), report.violations


def test_unreferenced_get_inputs_is_still_read_for_everything_else():
    source = (TRITON_OK + KB_INPUTS).replace(
        "    return [x]\n", "    import typing\n    typing.sys.exit(0)\n    return [x]\n"
    )
    assert any("typing.sys" in v for v in check_candidate(source).violations)
    nested = TRITON_OK.replace(
        RETURN, "def get_inputs():\n            return torch.randn(4)\n        return y"
    )
    assert any("torch.randn" in v for v in check_candidate(nested).violations)

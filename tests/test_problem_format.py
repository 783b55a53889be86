"""Problem files: loading, static validation, ids, suites."""

from __future__ import annotations

import pytest

from kernelbench.problems.problem import ProblemError, load_problem
from kernelbench.problems.registry import list_problems, resolve_problem, suite_root
from tests.conftest import FIXTURES

GOOD = """
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        return x * 2

batch = 128
dim = 64 * 4
CHECK_SIZES = [{"batch": 4}]

def get_inputs():
    return [torch.randn(batch, dim)]

def get_init_inputs():
    return []
"""


def test_good_problem_reads_sizes_and_check_sizes(write):
    p = load_problem(write("level1/3_Double.py", GOOD))
    assert p.id == "level1/3_Double"
    assert (p.level, p.number, p.name) == (1, 3, "Double")
    assert p.sizes == {"batch": 128, "dim": 256}
    assert p.check_sizes == [{"batch": 4}]


KERNELBENCH_IMAGE_SIZES = """
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return x

batch_size = 128
height, width = 256, 128
depth = frames = 64
kernel_size, _hidden = 3, 99

def get_inputs():
    return [torch.randn(batch_size, depth, frames, height, width)]

def get_init_inputs():
    return []
"""


def test_tuple_and_chained_assignments_are_size_constants(write):
    # Upstream KernelBench writes image sizes as `height, width = 128, 128` (and
    # `height = width = 256`) in over half of its level-2 files; missing them left those
    # sizes unshrunk on the CPU.
    p = load_problem(write("level2/9_Conv.py", KERNELBENCH_IMAGE_SIZES))
    assert p.sizes == {
        "batch_size": 128,
        "height": 256,
        "width": 128,
        "depth": 64,
        "frames": 64,
        "kernel_size": 3,
    }


@pytest.mark.parametrize(
    ("source", "fault"),
    [
        ("class Model(:\n", "syntax error"),
        (GOOD.replace("class Model", "class Other"), "no `class Model"),
        (GOOD.replace("def get_inputs", "def make_inputs"), "no `def get_inputs()"),
        (GOOD.replace("def get_init_inputs", "def init_inputs"), "no `def get_init_inputs()"),
        (
            GOOD.replace("    def forward(self, x):\n        return x * 2\n", "    pass\n"),
            "no forward()",
        ),
        (GOOD.replace('[{"batch": 4}]', '[{"nope": 4}]'), "not a module-level int constant"),
        (GOOD.replace('[{"batch": 4}]', '{"batch": 4}'), "CHECK_SIZES must be"),
        (GOOD + "\nTOLERANCE = {'atol': -1}\n", "TOLERANCE values"),
    ],
)
def test_malformed_problem_names_file_and_fault(write, source, fault):
    path = write("bad.py", source)
    with pytest.raises(ProblemError) as info:
        load_problem(path)
    assert str(path) in str(info.value)
    assert fault in str(info.value)


def test_missing_problem_file(tmp_path):
    with pytest.raises(ProblemError, match="no such problem file"):
        load_problem(tmp_path / "nope.py")


def test_builtin_ids_resolve_by_stem_number_and_suffix():
    by_stem = resolve_problem("level1/2_ReLU")
    assert resolve_problem("level1/2").path == by_stem.path
    assert resolve_problem("level1/2_ReLU.py").path == by_stem.path
    assert resolve_problem(str(by_stem.path)).path == by_stem.path


def test_unknown_id_suggests_close_matches():
    with pytest.raises(ProblemError, match="did you mean level1/2_ReLU"):
        resolve_problem("level1/2_RELU")


def test_kernelbench_checkout_loads_by_root_or_inner_folder():
    root = FIXTURES / "kb_checkout"
    assert suite_root(root) == suite_root(root / "KernelBench")
    ids = [p.id for p in list_problems(root)]
    assert ids == [
        "level1/12_Swish",
        "level1/31_Frobenius_norm_",
        "level1/53_Min_reduction_over_a_dimension",
        "level2/33_Conv2d_Scaling_ChannelMin",
        "level2/40_Matmul_Scaling_ResidualAdd",
    ]
    assert [p.id for p in list_problems(root, level=2)] == [
        "level2/33_Conv2d_Scaling_ChannelMin",
        "level2/40_Matmul_Scaling_ResidualAdd",
    ]
    p = resolve_problem("level1/12_Swish", root)
    assert p.check_sizes is None and p.sizes == {"batch_size": 4096, "dim": 393216}


def test_not_a_suite_folder(tmp_path):
    with pytest.raises(ProblemError, match="not a KernelBench-shaped folder"):
        suite_root(tmp_path)

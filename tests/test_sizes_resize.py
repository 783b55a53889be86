"""The generic size rule on KernelBench-shaped problems written here: derived sizes follow
the sizes they come from, ints in tuples/lists and literal sizes in get_inputs() shrink,
check shapes differ per extent, and a problem whose sizes cannot change is checked at
them where that fits the CPU, else refused with the reason."""

from __future__ import annotations

import pytest

from kernelbench.problems.cpu_fit import (
    CPU_MAX_FLOPS,
    CPU_MAX_INPUT_ELEMENTS,
    INTERPRETER_HEAVY_FLOPS,
    pow2,
)
from kernelbench.problems.meta_work import measure
from kernelbench.problems.problem import load_problem
from kernelbench.problems.resize import ResizableProblem
from kernelbench.problems.sizes import TooLargeForCpu, grown, plan_shapes

HEADER = "import torch\nimport torch.nn as nn\n"

DERIVED = (
    HEADER
    + """
class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, bias_shape):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(bias_shape))

    def forward(self, x):
        return torch.relu(self.conv(x)) + self.bias

batch_size = 128
in_channels  = 64
out_channels = 128
height = width = 128
kernel_size = 3
bias_shape = (out_channels, 1, 1)

def get_inputs():
    return [torch.rand(batch_size, in_channels, height, width)]

def get_init_inputs():
    return [in_channels, out_channels, kernel_size, bias_shape]
"""
)

TUPLE_SHAPE = (
    HEADER
    + """
class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.cumsum(x, dim=self.dim)

batch_size = 32768
input_shape = (32768,)
dim = 1

def get_inputs():
    return [torch.rand(batch_size, *input_shape)]

def get_init_inputs():
    return [dim]
"""
)

LAYER_LIST = (
    HEADER
    + """
class Model(nn.Module):
    def __init__(self, input_size, layer_sizes, output_size):
        super().__init__()
        layers, current = [], input_size
        for size in layer_sizes:
            layers += [nn.Linear(current, size), nn.ReLU()]
            current = size
        self.net = nn.Sequential(*layers, nn.Linear(current, output_size))

    def forward(self, x):
        return self.net(x)

batch_size = 128
input_size = 16384
layer_sizes = [16384, 16384]
output_size = 8192

def get_inputs():
    return [torch.rand(batch_size, input_size)]

def get_init_inputs():
    return [input_size, layer_sizes, output_size]
"""
)

LITERAL_IMAGE = (
    HEADER
    + """
class Model(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=2)
        self.head = nn.Linear(96, num_classes)

    def forward(self, x):
        x = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.head(x)

batch_size = 256
num_classes = 1000

def get_inputs():
    return [torch.rand(batch_size, 3, 224, 224)]

def get_init_inputs():
    return [num_classes]
"""
)

# The classifier needs exactly 7x7 features: the image cannot shrink, only the batch can.
FIXED_IMAGE = (
    HEADER
    + """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.MaxPool2d(32))
        self.classifier = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))

batch_size = 64

def get_inputs():
    return [torch.rand(batch_size, 3, 224, 224)]

def get_init_inputs():
    return []
"""
)

# Sizes it cannot change and far too much work for a CPU: refused before anything runs.
TOO_LARGE = (
    HEADER
    + """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8192, 8192)

    def forward(self, x):
        assert x.shape == (2048, 8192), "this model takes one shape only"
        for _ in range(50):
            x = self.fc(x)
        return x

def get_inputs():
    return [torch.rand(2048, 8192)]

def get_init_inputs():
    return []
"""
)

SQUARE = (
    HEADER
    + """
class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x).sum(dim=0)

rows = cols = 4096

def get_inputs():
    return [torch.rand(rows, cols)]

def get_init_inputs():
    return []
"""
)


def _plan(source: str, extra_shapes: bool = True):
    problem = ResizableProblem(source, "<fixture>")
    return problem, plan_shapes(problem.module, problem.sites, None, "cpu", extra_shapes)


def _fits(problem: ResizableProblem, sizes: dict[str, int]) -> None:
    work = measure(problem.module(sizes))
    assert work.ran, work.error
    assert work.input_elements is not None and work.input_elements <= CPU_MAX_INPUT_ELEMENTS
    assert work.flops is not None and work.flops <= CPU_MAX_FLOPS


def test_sites_are_constants_tuple_elements_and_literal_sizes(write):
    p = load_problem(write("level1/1_Image.py", LITERAL_IMAGE))
    assert p.sizes == {"batch_size": 256, "num_classes": 1000, "get_inputs[0]": 224,
                       "get_inputs[1]": 224}  # fmt: skip
    t = load_problem(write("level1/2_Cumsum.py", TUPLE_SHAPE))
    assert t.sizes == {"batch_size": 32768, "input_shape[0]": 32768, "dim": 1}
    d = load_problem(write("level2/1_Conv.py", DERIVED))
    assert "bias_shape" not in str(d.sizes) and d.sizes["out_channels"] == 128


def test_derived_sizes_follow_the_sizes_they_come_from():
    problem = ResizableProblem(DERIVED, "<fixture>")
    module = problem.module({"out_channels": 24})
    assert module.bias_shape == (24, 1, 1)
    assert module.get_init_inputs() == [64, 24, 3, (24, 1, 1)]
    assert problem.module().bias_shape == (128, 1, 1)  # executed afresh: nothing leaks


def test_derived_problem_is_shrunk_and_its_reference_runs_at_every_check_shape():
    problem, plans = _plan(DERIVED)
    for primary, _ in plans:
        module = problem.module(primary)
        model = module.Model(*module.get_init_inputs())
        out = model(*module.get_inputs())
        assert out.shape[1] == primary["out_channels"]
    # every extent is at the floor (16) here: the first shape costs no more than 16^4 inputs
    work = measure(problem.module(plans[0][0]))
    assert work.input_elements is not None and work.input_elements <= 16**4


@pytest.mark.parametrize("source", [TUPLE_SHAPE, LAYER_LIST])
def test_ints_in_module_level_tuples_and_lists_are_shrunk(source):
    problem, plans = _plan(source)
    first, varied = plans[0][0], plans[1][0]
    tuple_keys = [k for k in problem.sites if "[" in k]
    assert tuple_keys and all(first[k] < problem.sites[k] for k in tuple_keys)
    assert all(not pow2(varied[k]) for k in tuple_keys)  # a partial block in each
    _fits(problem, first)


def test_literal_sizes_in_get_inputs_are_shrunk_and_differ_per_extent():
    problem, plans = _plan(LITERAL_IMAGE)
    first, varied = plans[0][0], plans[1][0]
    for shape in (first, varied):
        assert shape["get_inputs[0]"] != shape["get_inputs[1]"]  # height != width
        assert shape["get_inputs[0]"] < 224 and shape["batch_size"] < 256
    x = problem.module(first).get_inputs()[0]
    assert tuple(x.shape[2:]) == (first["get_inputs[0]"], first["get_inputs[1]"])
    assert all(not pow2(v) for k, v in varied.items() if problem.sites[k] >= 32)


def test_extents_equal_by_default_are_checked_unequal():
    _, plans = _plan(SQUARE)
    for primary, backoffs in plans:
        assert primary["rows"] != primary["cols"], primary
        assert backoffs  # the equal shape stays as a fallback
    assert not pow2(plans[1][0]["rows"]) and not pow2(plans[1][0]["cols"])


def test_an_extent_shrunk_onto_a_fixed_size_moves_off_it():
    source = SQUARE.replace("rows = cols = 4096", "rows = 16\ncols = 64\ndepth = 65536")
    source = source.replace("torch.rand(rows, cols)", "torch.rand(rows, cols, depth)")
    _, plans = _plan(source)  # cols would reach the floor, 16: the fixed rows' value
    first = plans[0][0]
    assert first["rows"] == 16 and first["cols"] != 16 and first["cols"] < 64, first


def test_a_size_that_cannot_change_is_kept_and_the_others_shrink():
    problem, plans = _plan(FIXED_IMAGE)
    first = plans[0][0]
    assert 224 <= first["get_inputs[0]"] < 256 and 224 <= first["get_inputs[1]"] < 256
    assert first["batch_size"] < 64  # the batch is shrunk site by site instead
    module = problem.module(first)
    assert module.Model()(*module.get_inputs()).shape == (first["batch_size"], 10)


def test_a_heavy_fixed_image_network_gets_a_batch_below_the_floor_but_never_one():
    """At the extents' floor (16) a fixed-image network can still cost minutes per trial
    under the interpreter: its extent-sized batch is then halved further, while the forward
    is over INTERPRETER_HEAVY_FLOPS, and never below 2 (the batch stride stays exercised).
    A lighter one keeps its batch at the floor."""
    heavy = FIXED_IMAGE.replace("nn.Conv2d(3, 8, 3, padding=1)", "nn.Conv2d(3, 64, 3, padding=1)")
    heavy = heavy.replace("nn.Linear(8 * 7 * 7, 10)", "nn.Linear(64 * 7 * 7, 10)")
    heavy = heavy.replace("batch_size = 64", "batch_size = 1024")
    problem, plans = _plan(heavy)
    first = plans[0][0]
    assert first["get_inputs[0]"] >= 224 and first["batch_size"] == 8, first
    work = measure(problem.module(first))
    assert work.flops is not None and work.flops <= INTERPRETER_HEAVY_FLOPS < 2 * work.flops
    huge = heavy.replace("nn.Conv2d(3, 64, 3, padding=1)", "nn.Conv2d(3, 64, 9, padding=4)")
    assert _plan(huge)[1][0][0]["batch_size"] == 2  # over the bound even at 2: stops there
    light = FIXED_IMAGE.replace("batch_size = 64", "batch_size = 1024")
    assert _plan(light)[1][0][0]["batch_size"] == 16


def test_every_shape_falls_back_last_to_its_shrunk_extents_doubled_then_quadrupled():
    """Where the reference is ill-conditioned at the shrunk sizes (batch statistics over two
    samples of 1x1 pixels), the reference step tries larger ones: each shrunk extent times 2,
    then 4, never past its default; sizes kept at their default do not grow."""
    problem, plans = _plan(LITERAL_IMAGE)
    defaults = problem.sites
    for primary, backoffs in plans:
        assert backoffs[-2:] == [grown(primary, defaults), grown(primary, defaults, 2)]
        double = backoffs[-2]
        for k, v in primary.items():
            assert double[k] == (min(2 * v, defaults[k]) if 1 <= v < defaults[k] else v), k
    # a batch shrunk to 1 grows too (level2/77: train-mode BatchNorm3d then a global mean
    # over batch 1 is its bias exactly, float32 rounding is all there is to compare)
    assert grown({"a": 100, "b": 1, "c": 7, "d": 1}, {"a": 150, "b": 9, "c": 7, "d": 1}, 2) == {
        "a": 150,
        "b": 4,
        "c": 7,
        "d": 1,
    }


def test_too_large_for_the_cpu_is_refused_with_the_reason_before_running():
    with pytest.raises(TooLargeForCpu, match=r"too large for a CPU: .* GFLOP"):
        _plan(TOO_LARGE)


def test_one_meta_forward_gives_the_roofline_facts():
    """FLOPs, the least bytes moved (inputs + outputs + parameters) and the main dtype
    come from the same meta forward (a recurrent net traces slowly: once, not twice)."""
    problem = ResizableProblem(DERIVED, "<fixture>")
    sizes = {"batch_size": 2, "in_channels": 3, "out_channels": 4, "height": 8, "width": 8}
    work = measure(problem.module(sizes))
    assert work.ran, work.error
    inputs = 2 * 3 * 8 * 8
    outputs = 2 * 4 * 6 * 6
    params = 4 * 3 * 3 * 3 + 4 + 4  # conv weight, conv bias, the (4, 1, 1) bias
    assert work.min_bytes == 4.0 * (inputs + outputs + params)
    assert work.dtype == "torch.float32"
    assert work.flops == 2 * 4 * 6 * 6 * 2 * 3 * 3 * 3  # the conv's multiply-adds, twice

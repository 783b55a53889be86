"""`kwright problems` and `kwright eval` as a user runs them: exit codes, stderr, --json."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES, kwright

KB = str(FIXTURES / "kb_checkout")
CANDIDATES = FIXTURES / "candidates"


def test_problems_json_lists_builtin_suite():
    proc = kwright("problems", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    ids = {r["id"] for r in rows}
    assert "level1/2_ReLU" in ids and {r["level"] for r in rows} >= {1, 2}
    relu = next(r for r in rows if r["id"] == "level1/2_ReLU")
    assert relu["sizes"] == {"batch_size": 4096, "dim": 16384}
    assert relu["path"].endswith("kernelbench/problems/level1/2_ReLU.py")


def test_problems_of_a_kernelbench_checkout_by_level():
    proc = kwright("problems", "--suite", KB, "--level", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in json.loads(proc.stdout)] == [
        "level1/12_Swish",
        "level1/31_Frobenius_norm_",
        "level1/53_Min_reduction_over_a_dimension",
    ]


def test_eval_correct_exits_0_with_json_verdict():
    proc = kwright("eval", "level1/2_ReLU", "@solution", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "correct" and result["correct"] is True
    assert result["speedup"] is None and result["schema_version"] == 1
    assert result["blind"] is True and result["verified_arch"] == "sm_90"
    assert result["confinement"].count("seccomp") == 2, result["confinement"]


def test_eval_unseen_suite_problem_by_id():
    good = kwright(
        "eval", "level1/12_Swish", str(FIXTURES / "candidates" / "swish.py"), "--suite", KB
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "correct" in good.stdout
    # what the verdict rests on: a blind replay of kernels compiled for sm_90 first
    assert "checks: blind" in good.stdout and "compiled for sm_90 before" in good.stdout
    bad = kwright(
        "eval",
        "level1/12_Swish",
        str(FIXTURES / "candidates" / "swish_nomask_tail.py"),
        "--suite",
        KB,
        "--json",
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["status"] == "incorrect"


def _eval_json(*args: str) -> tuple[int, dict]:
    proc = kwright("eval", *args, "--json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_kernelbench_reduction_keeps_its_axis_constant_and_shrinks_extents(tmp_path):
    # An unchanged KernelBench-style file: no CHECK_SIZES, a 2-G-element default input and a
    # `reduce_dim = 1` constant handed to Model.__init__.
    problem = "level1/53_Min_reduction_over_a_dimension"
    code, result = _eval_json(problem, str(CANDIDATES / "min_over_dim.py"), "--suite", KB)
    assert code == 0 and result["status"] == "correct", result["reason"]
    # the last trial is the secretly drawn shape; the varied one comes before it
    sizes = [t["sizes"] for t in result["trials"] if t["sizes"] != result["random_shape"]]
    assert all(s["reduce_dim"] == 1 for s in sizes)  # an axis (< 32), never shrunk
    first, varied = sizes[0], sizes[-1]
    assert first["batch_size"] * first["dim1"] * first["dim2"] <= 32768
    assert varied["dim1"] == first["dim1"] - first["dim1"] // 8 - 1
    # The same kernel padding its partial row block with 0 instead of +inf: it passes where
    # dim1 is a multiple of the block and fails on the varied shape.
    tail = tmp_path / "min_pad_zero.py"
    source = (CANDIDATES / "min_over_dim.py").read_text()
    tail.write_text(source.replace('other=float("inf"))', "other=0.0)"))
    code, result = _eval_json(problem, str(tail), "--suite", KB)
    assert code == 1 and result["status"] == "incorrect"
    oks = [t["ok"] for t in result["trials"]]
    # right on the first shape's three seeds, wrong on the varied shape (and on the secret
    # shape, whose largest extent is odd)
    assert oks[:3] == [True, True, True] and oks[3] is False, oks


@pytest.mark.slow
def test_kernelbench_conv_chain_with_tuple_image_sizes_is_shrunk():
    # `height, width = 128, 128`, as upstream writes image sizes: both are extents to shrink.
    listed = json.loads(kwright("problems", "--suite", KB, "--level", "2", "--json").stdout)
    conv = next(r for r in listed if r["id"] == "level2/33_Conv2d_Scaling_ChannelMin")
    assert conv["sizes"]["height"] == conv["sizes"]["width"] == 128
    code, result = _eval_json(
        conv["id"], str(CANDIDATES / "conv_scale_channel_min.py"), "--suite", KB
    )
    assert code == 0 and result["status"] == "correct", result["reason"]
    first = result["trials"][0]["sizes"]
    assert first["height"] <= 32 and first["in_channels"] == 8  # 8 < 32: not an extent
    varied = [t["sizes"] for t in result["trials"] if t["sizes"] != result["random_shape"]][-1]
    # The varied shape moves the extent off the first one, and off any power of two.
    assert varied["height"] != first["height"] and varied["height"] & (varied["height"] - 1)


def test_eval_problem_file_path_and_tiny_outputs():
    proc = kwright(
        "eval",
        str(FIXTURES / "unseen" / "tiny_scale.py"),
        str(FIXTURES / "candidates" / "tiny_scale_zeros.py"),
        "--json",
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["status"] == "incorrect"


def _one_error_line(proc, *needles):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("kwright: error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_files_exit_2(tmp_path):
    _one_error_line(
        kwright("eval", str(tmp_path / "nope.py"), "@solution"), "nope.py", "no such problem file"
    )
    _one_error_line(
        kwright("eval", "level1/2_ReLU", str(tmp_path / "cand.py")),
        "cand.py",
        "no such candidate file",
    )
    _one_error_line(kwright("eval", "level9/1_X", "@solution"), "level9/1_X")


def test_malformed_problem_exits_2_naming_file(write):
    path = write("broken.py", "import torch\nclass Model(:\n")
    _one_error_line(kwright("eval", str(path), "@solution"), "broken.py", "syntax error")
    no_inputs = write("noinputs.py", "class Model:\n    def forward(self, x):\n        return x\n")
    _one_error_line(
        kwright("eval", str(no_inputs), str(FIXTURES / "candidates" / "swish.py")),
        "noinputs.py",
        "get_inputs",
    )


def test_problem_failing_at_run_time_exits_2(write):
    path = write(
        "raises.py",
        (
            "import torch, torch.nn as nn\n"
            "class Model(nn.Module):\n    def forward(self, x):\n        return x\n"
            "def get_inputs():\n    raise RuntimeError('dataset missing')\n"
            "def get_init_inputs():\n    return []\n"
        ),
    )
    _one_error_line(
        kwright("eval", str(path), str(FIXTURES / "candidates" / "swish.py")),
        "raises.py",
        "dataset missing",
    )


def test_bad_usage_exits_2():
    assert kwright("eval", "level1/2_ReLU").returncode == 2
    assert kwright("eval", "level1/2_ReLU", "@solution", "--device", "tpu").returncode == 2
    assert kwright("problems", "--level", "0").returncode == 2


def test_device_cuda_without_gpu_exits_2():
    _one_error_line(
        kwright("eval", "level1/2_ReLU", "@solution", "--device", "cuda"), "needs a CUDA GPU"
    )

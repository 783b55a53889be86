"""`kwright problems` and `kwright eval` as a user runs them: exit codes, stderr, --json."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES, kwright

KB = str(FIXTURES / "kb_checkout")


def test_problems_json_lists_builtin_suite():
    proc = kwright("problems", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    ids = {r["id"] for r in rows}
    assert "level1/2_ReLU" in ids and {r["level"] for r in rows} >= {1, 2}
    relu = next(r for r in rows if r["id"] == "level1/2_ReLU")
    assert relu["sizes"] == {"batch_size": 4096, "dim": 16384}
    assert relu["path"].endswith("kernelbench/level1/2_ReLU.py")


def test_problems_of_a_kernelbench_checkout_by_level():
    proc = kwright("problems", "--suite", KB, "--level", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in json.loads(proc.stdout)] == [
        "level1/12_Swish",
        "level1/31_Frobenius_norm_",
    ]


def test_eval_correct_exits_0_with_json_verdict():
    proc = kwright("eval", "level1/2_ReLU", "@solution", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "correct" and result["correct"] is True
    assert result["speedup"] is None and result["schema_version"] == 1


def test_eval_unseen_suite_problem_by_id():
    good = kwright(
        "eval", "level1/12_Swish", str(FIXTURES / "candidates" / "swish.py"), "--suite", KB
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "correct" in good.stdout
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

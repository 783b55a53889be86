"""`kwright problems --check` on a small KernelBench-shaped suite written here: the real CLI,
the real sandboxed reference step, one problem refused as too large for a CPU."""

from __future__ import annotations

import json

import pytest

from tests.conftest import kwright, write_suite
from tests.test_sizes_resize import DERIVED, FIXED_IMAGE, LITERAL_IMAGE, TOO_LARGE, TUPLE_SHAPE


@pytest.fixture
def suite(tmp_path):
    files = {
        "level1/1_Cumsum_tuple_shape.py": TUPLE_SHAPE,
        "level1/2_Conv_literal_image.py": LITERAL_IMAGE,
        "level2/1_Conv_ReLU_BiasAdd.py": DERIVED,
        "level3/1_Fixed_image.py": FIXED_IMAGE,
        "level3/2_Too_large.py": TOO_LARGE,
    }
    return write_suite(tmp_path, files)


@pytest.mark.slow
def test_check_reports_every_problem_and_exits_1_when_one_is_not_evaluable(suite):
    proc = kwright("problems", "--check", "--suite", str(suite), "--json", timeout=600)
    assert proc.returncode == 1, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert len(rows) == 5
    big = rows["level3/2_Too_large"]
    assert not big["evaluable"] and "too large for a CPU" in big["reason"]
    assert big["reference_s"] < 60  # refused from the meta estimate, never run
    for pid in ("level1/1_Cumsum_tuple_shape", "level1/2_Conv_literal_image",
                "level2/1_Conv_ReLU_BiasAdd", "level3/1_Fixed_image"):  # fmt: skip
        row = rows[pid]
        assert row["evaluable"], row
        assert len(row["shapes"]) >= 2 and row["reference_s"] > 0
    derived = rows["level2/1_Conv_ReLU_BiasAdd"]["shapes"]
    assert all(s["out_channels"] < 128 for s in derived)  # bias_shape followed each
    image = rows["level1/2_Conv_literal_image"]["shapes"][0]
    assert image["get_inputs[0]"] < 224 and image["get_inputs[0]"] != image["get_inputs[1]"]


@pytest.mark.slow
def test_check_exits_0_when_all_are_evaluable_and_shows_a_table(suite):
    proc = kwright("problems", "--check", "--suite", str(suite), "--level", "2", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1/1 problems evaluable" in proc.stdout
    assert "level2/1_Conv_ReLU_BiasAdd" in proc.stdout and "slowest reference" in proc.stdout

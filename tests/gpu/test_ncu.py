"""Nsight Compute on one candidate, parsed into the evaluation's ProfileReport. Where ncu
is missing, or the machine does not let it read the counters (ERR_NVGPUCTRPERM; a
gVisor runtime: LibraryNotLoaded), the test is skipped with the exact reason."""

from __future__ import annotations

import pytest

from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import Status
from profiler.ncu import PERMISSION_ERROR, find_ncu
from tests.gpu.conftest import gpu_evaluate

pytestmark = pytest.mark.gpu

NOT_PERMITTED = (PERMISSION_ERROR, "LibraryNotLoaded")


def test_ncu_counters_of_one_candidate_land_in_its_profile_report():
    if find_ncu() is None:
        pytest.skip("Nsight Compute (ncu) is not installed: not on PATH, $KWRIGHT_NCU unset")
    problem = resolve_problem("level1/2_ReLU")
    result = gpu_evaluate(
        problem.id, solution_path(problem).read_text(), profile=True, ncu=True, trials=2
    )
    assert result.status == Status.CORRECT, result.reason
    report = result.profile
    assert report is not None
    refused = [e for e in report.errors if any(m in e for m in NOT_PERMITTED)]
    if refused:
        pytest.skip(refused[0])
    assert report.errors == [], report.errors
    assert report.source == "static+ncu"
    profiled = [k for k in report.kernels if k.source in {"ncu", "static+ncu"}]
    assert profiled, [k.name for k in report.kernels]
    duration = profiled[0].metrics.get("duration_ns")
    assert isinstance(duration, float) and duration > 0, profiled[0].metrics

"""The local sandbox on a GPU machine: a step asked for `cuda` sees the GPU (a Triton
kernel runs on it and the verdict is `correct` where the case computes one), and the same step is still isolated:
it writes nothing outside scratch and reaches no loopback listener. The hostile cases
are the conformance suite's own (kernelbench.harness.conformance), here evaluated on the GPU."""

from __future__ import annotations

import json
import secrets
import shutil

import pytest

from kernelbench.harness.conformance import CASES as HOSTILE
from kernelbench.harness.conformance import run_cases
from sandbox.base import get_sandbox
from tests.conftest import ROOT

pytestmark = pytest.mark.gpu

CASES = ["write_outside_scratch", "loopback_connect"]  # correct / runtime_error (no network)
EXPECT = {c.name: {s.value for s in c.expect} for c in HOSTILE if c.name in CASES}


def test_local_sandbox_passes_the_gpu_through_and_still_isolates():
    outside = ROOT / f".conformance-outside-{secrets.token_hex(4)}"  # /tmp is private there
    box = get_sandbox("local")
    try:
        results = run_cases(box, CASES, outside, timeout_s=120.0, memory_mb=16384)
        leftovers = sorted(p.name for p in outside.iterdir())
    finally:
        box.close()
        shutil.rmtree(outside, ignore_errors=True)
    assert [r.case for r in results] == CASES
    for r in results:
        verdict = json.loads(r.result_json)
        assert verdict["device"] == "cuda", r.case
        assert r.status in EXPECT[r.case], f"{r.case}: {r.status}: {r.reason}"
        assert r.written_outside == [] and r.listener_hits == 0, r
        assert r.leftover_processes == [], r
    assert leftovers == []

"""The baseline Judge's decision table, on hand-built verdicts and profiles (no GPU needed)."""

from __future__ import annotations

from pathlib import Path

from agents.baseline.judge import BaselineJudge
from agents.baseline.params import DEFAULTS, header_line, read_header
from agents.config import AgentConfig
from agents.protocols import AttemptView, JudgeContext
from kernelbench.problems.problem import Problem
from kernelbench.protocol.result import EvalResult, Status
from profiler.report import KernelProfile, ProfileReport, Roofline, SassMix

PROBLEM = Problem(id="level1/x", name="x", path=Path("x.py"))


def source(kernels: dict[str, tuple[str, dict[str, int]]]) -> str:
    record = {
        name: {"kind": kind, "params": params, "defaults": DEFAULTS[kind]}
        for name, (kind, params) in kernels.items()
    }
    return header_line(record) + "\nclass ModelNew:\n    pass\n"


def kernel(name: str, **facts) -> KernelProfile:
    return KernelProfile(name=name, arch="sm_90", **facts)


def profile(*kernels: KernelProfile, bound: str | None = None) -> ProfileReport:
    return ProfileReport(kernels=list(kernels), roofline=Roofline(gpu="H100", bound=bound))


def attempt(src: str, status: Status = Status.CORRECT, prof=None, n: int = 1, reason=None):
    result = EvalResult(
        status=status, correct=status == Status.CORRECT, profile=prof, reason=reason
    )
    return AttemptView(attempt=n, round=n, source=src, result=result)


def review(judge: BaselineJudge, view: AttemptView, best: AttemptView | None = None):
    ctx = JudgeContext(
        problem=PROBLEM,
        problem_source="",
        config=AgentConfig(),
        round=view.round,
        attempt=view,
        best=best,
    )
    return judge.review(ctx).feedback


MM = {"k0_matmul": ("matmul", dict(DEFAULTS["matmul"]))}
PW = {"k0_pointwise": ("pointwise", dict(DEFAULTS["pointwise"]))}
ROW = {"k0_row": ("row", dict(DEFAULTS["row"]))}


def test_spills_shrink_the_tile():
    fb = review(
        BaselineJudge(),
        attempt(
            source(MM), prof=profile(kernel("k0_matmul", spill_stores_bytes=96), bound="compute")
        ),
    )
    assert fb.mode == "optimize" and not fb.stop
    new = fb.params["kernels"]["k0_matmul"]
    assert new["BLOCK_M"] == 32 and new["BLOCK_N"] == 64  # the larger of M/N halves first
    assert "spill" in fb.summary


def test_register_limited_occupancy_gives_smaller_tiles_then_fewer_warps():
    prof = profile(kernel("k0_matmul", occupancy_pct=25.0, occupancy_limiter="registers"))
    fb = review(BaselineJudge(), attempt(source(MM), prof=prof))
    assert fb.params["kernels"]["k0_matmul"]["BLOCK_M"] == 32
    tiny = {"k0_matmul": ("matmul", {**DEFAULTS["matmul"], "BLOCK_M": 16, "BLOCK_N": 16,
                                     "BLOCK_K": 16, "num_stages": 1, "num_warps": 4})}  # fmt: skip
    fb = review(BaselineJudge(), attempt(source(tiny), prof=prof))
    assert fb.params["kernels"]["k0_matmul"]["num_warps"] == 2


def test_shared_memory_limited_occupancy_drops_a_stage():
    prof = profile(kernel("k0_matmul", occupancy_pct=12.5, occupancy_limiter="shared_memory"))
    fb = review(BaselineJudge(), attempt(source(MM), prof=prof))
    assert fb.params["kernels"]["k0_matmul"]["num_stages"] == DEFAULTS["matmul"]["num_stages"] - 1


def test_memory_bound_with_narrow_loads_widens_vectors():
    small = {"k0_pointwise": ("pointwise", {"BLOCK": 256, "num_warps": 4})}
    sass = SassMix(global_loads={"32": 4})
    prof = profile(kernel("k0_pointwise", sass=sass), bound="memory")
    fb = review(BaselineJudge(), attempt(source(small), prof=prof))
    assert fb.params["kernels"]["k0_pointwise"]["BLOCK"] == 4 * 32 * 4  # 4 elements per thread


def test_memory_bound_grows_blocks():
    sass = SassMix(global_loads={"128": 4})
    fb = review(
        BaselineJudge(),
        attempt(source(ROW), prof=profile(kernel("k0_row", sass=sass), bound="memory")),
    )
    assert fb.params["kernels"]["k0_row"]["BLOCK_R"] == 2 * DEFAULTS["row"]["BLOCK_R"]


def test_compute_bound_matmul_grows_the_tile_then_the_pipeline():
    judge = BaselineJudge()
    prof = profile(kernel("k0_matmul", registers_per_thread=90), bound="compute")
    fb = review(judge, attempt(source(MM), prof=prof))
    assert fb.params["kernels"]["k0_matmul"]["BLOCK_N"] == 128
    full = {"k0_matmul": ("matmul", {**DEFAULTS["matmul"], "BLOCK_M": 128, "BLOCK_N": 128})}
    fb = review(judge, attempt(source(full), prof=prof, n=2))
    assert fb.params["kernels"]["k0_matmul"]["num_stages"] == DEFAULTS["matmul"]["num_stages"] + 1


def test_no_rule_applies_stops():
    prof = profile(kernel("k0_pointwise", registers_per_thread=20, occupancy_pct=100.0), bound=None)
    fb = review(BaselineJudge(), attempt(source(PW), prof=prof))
    assert fb.stop and "no rule" in fb.summary


def test_without_a_profile_a_fixed_sweep_changes_params_every_round_then_stops():
    judge = BaselineJudge()
    first = attempt(source(PW))
    seen = [read_header(first.source)["k0_pointwise"]["params"]]
    view, n = first, 1
    while True:
        fb = review(judge, view, best=first if view is not first else None)
        if fb.stop:
            break
        new = fb.params["kernels"]["k0_pointwise"]
        assert new not in seen  # every round really changes the kernel
        seen.append(new)
        n += 1
        view = attempt(source({"k0_pointwise": ("pointwise", new)}), n=n)
        assert n < 10
    assert len(seen) >= 3


def test_failing_candidate_goes_back_to_defaults_then_safe_then_stops():
    judge = BaselineJudge()
    tuned = {"k0_matmul": ("matmul", {**DEFAULTS["matmul"], "BLOCK_M": 128, "num_warps": 8})}
    fb = review(judge, attempt(source(tuned), Status.RUNTIME_ERROR, reason="boom"))
    assert fb.mode == "repair" and fb.params["kernels"]["k0_matmul"] == DEFAULTS["matmul"]
    fb = review(judge, attempt(source(MM), Status.INCORRECT, n=2, reason="values differ"))
    assert fb.params["kernels"]["k0_matmul"]["BLOCK_M"] == 32  # the safe small configuration
    safe = {"k0_matmul": ("matmul", fb.params["kernels"]["k0_matmul"])}
    fb = review(judge, attempt(source(safe), Status.INCORRECT, n=3, reason="values differ"))
    assert fb.stop


def test_rejected_or_missing_candidates_stop():
    fb = review(BaselineJudge(), attempt(source(PW), Status.REJECTED, reason="calls torch.relu()"))
    assert fb.stop and "rejected" in fb.summary
    missing = AttemptView(attempt=1, round=1, failure="no candidate: unsupported op sort")
    fb = review(BaselineJudge(), missing)
    assert fb.stop and "unsupported op sort" in fb.summary


def test_a_worse_attempt_sends_the_judge_back_to_the_best():
    judge = BaselineJudge()
    best_prof = profile(kernel("k0_matmul", registers_per_thread=90), bound="compute")
    best = attempt(source(MM), prof=best_prof, n=1)
    worse_params = {**DEFAULTS["matmul"], "BLOCK_N": 128}
    worse = attempt(
        source({"k0_matmul": ("matmul", worse_params)}),
        prof=profile(kernel("k0_matmul", spill_stores_bytes=512), bound="compute"),
        n=2,
    )
    fb = review(judge, worse, best=best)
    # The Judge reasons from the best (no spills), and does not re-propose the worse tile.
    new = fb.params["kernels"]["k0_matmul"]
    assert new["BLOCK_N"] == 64 and new["num_stages"] == DEFAULTS["matmul"]["num_stages"] + 1


def test_every_kernel_gets_a_move():
    two = {**PW, **{"k1_row": ("row", dict(DEFAULTS["row"]))}}
    prof = profile(
        kernel("k0_pointwise", sass=SassMix(global_loads={"128": 1})),
        kernel("k1_row", spill_loads_bytes=8),
        bound="memory",
    )
    fb = review(BaselineJudge(), attempt(source(two), prof=prof))
    assert fb.params["kernels"]["k0_pointwise"]["BLOCK"] == 2048
    assert fb.params["kernels"]["k1_row"]["BLOCK_R"] == DEFAULTS["row"]["BLOCK_R"] // 2


def test_baseline_page_documents_the_tables():
    from agents.baseline.judge import OPTIMIZE_RULES, REPAIR_TABLE
    from agents.baseline.lowering.ops import SUPPORTED_TABLE
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "baseline-agent.md").read_text()
    for i, rule in enumerate(OPTIMIZE_RULES, 1):
        assert f"| {i} | {rule.when} | {rule.then} |" in page, rule.name
    for when, then in REPAIR_TABLE:
        assert f"| {when} | {then} |" in page
    for family, ops in SUPPORTED_TABLE:
        assert f"| {family} | {ops} |" in page, family

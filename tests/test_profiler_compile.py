"""Static profiles from real compiles (Triton AOT for a GPU arch, nvcc), no GPU needed."""

from __future__ import annotations

import time

import pytest

from profiler.cache import CompileCache, ProfileCache
from profiler.protocol import CudaSource
from profiler.static import static_profile
from tests.profiler_helpers import (
    ELEMENTWISE_SOURCE,
    FLOAT4_CUDA,
    MATMUL_SOURCE,
    LocalStepRunner,
    launch,
    matmul_launch,
    relu_launch,
)


@pytest.fixture
def caches(tmp_path):
    root = tmp_path / "cache"
    return {"compile_cache": CompileCache(root), "profile_cache": ProfileCache(root)}


def test_fp16_tl_dot_matmul_uses_hopper_tensor_cores(tmp_path, caches):
    runner = LocalStepRunner(tmp_path)
    started = time.perf_counter()
    result = static_profile(
        MATMUL_SOURCE, [matmul_launch(64, 64, 32)], [], "sm_90", runner, **caches
    )
    first = time.perf_counter() - started
    report = result.report
    assert report.errors == [] and len(report.kernels) == 1
    k = report.kernels[0]
    assert k.name == "matmul_kernel" and k.arch == "sm_90" and k.num_warps == 4
    assert k.sass is not None and k.sass.tensor_core_mma > 0
    assert any(kind.endswith("GMMA") for kind in k.sass.tensor_core_kinds)  # wgmma on sm_90
    assert k.shared_mem_bytes and k.shared_mem_bytes > 0 and k.occupancy_pct is not None
    assert k.grid == [64, 64]
    assert first <= 20.0, f"first static profile took {first:.1f} s"
    # Cached: the same candidate again costs a file read, no profile step.
    started = time.perf_counter()
    again = static_profile(
        MATMUL_SOURCE, [matmul_launch(64, 64, 32)], [], "sm_90", runner, **caches
    )
    cached = time.perf_counter() - started
    assert again.report.cached and len(runner.calls) == 1
    assert again.report.kernels[0].sass == k.sass
    assert cached < 0.5 and cached <= 0.05 * first


def test_fp16_tl_dot_on_sm80_uses_mma_sync(tmp_path, caches):
    result = static_profile(
        MATMUL_SOURCE, [matmul_launch(64, 64, 32)], [], "sm_80", LocalStepRunner(tmp_path), **caches
    )
    k = result.report.kernels[0]
    assert k.sass is not None and "HMMA" in k.sass.tensor_core_kinds
    assert k.sass.async_copies > 0  # cp.async pipelining on Ampere


@pytest.mark.slow
def test_256x256x64_tile_with_4_warps_spills_near_the_register_cap(tmp_path, caches):
    result = static_profile(
        MATMUL_SOURCE,
        [matmul_launch(256, 256, 64, num_warps=4)],
        [],
        "sm_90",
        LocalStepRunner(tmp_path),
        **caches,
    )
    k = result.report.kernels[0]
    assert k.registers_per_thread is not None and k.registers_per_thread >= 250
    assert (k.spill_stores_bytes or 0) > 0 or (k.stack_bytes or 0) > 0
    assert k.occupancy_limiter in ("registers", "shared_memory")
    assert "SPILLS" in result.report.summary() or "stack" in result.report.summary()


def test_elementwise_kernel_has_no_spills_and_vector_loads(tmp_path, caches):
    result = static_profile(
        ELEMENTWISE_SOURCE, [relu_launch()], [], "sm_90", LocalStepRunner(tmp_path), **caches
    )
    k = result.report.kernels[0]
    assert result.report.errors == []
    assert k.spill_stores_bytes == 0 and k.spill_loads_bytes == 0 and k.stack_bytes == 0
    assert k.sass is not None and k.sass.local_loads == 0 and k.sass.local_stores == 0
    assert k.sass.tensor_core_mma == 0 and "128" in k.sass.global_loads
    assert k.occupancy_pct == 100.0


def test_float4_cuda_kernel_shows_128_bit_loads(tmp_path, caches):
    result = static_profile(
        "",
        [],
        [CudaSource(name="scale4", source=FLOAT4_CUDA)],
        "sm_90",
        LocalStepRunner(tmp_path),
        **caches,
    )
    assert [r.ok for r in result.cuda_results] == [True]
    k = result.report.kernels[0]
    assert k.name == "scale4" and k.symbol and k.symbol.startswith("_Z")
    assert k.block_size == 256  # from __launch_bounds__
    assert k.sass is not None and k.sass.global_loads.get("128") == 1
    assert k.sass.global_stores.get("128") == 1
    assert k.registers_per_thread and k.spill_stores_bytes == 0


def test_compile_cache_is_shared_across_candidates(tmp_path, caches):
    runner = LocalStepRunner(tmp_path)
    first = static_profile(ELEMENTWISE_SOURCE, [relu_launch()], [], "sm_90", runner, **caches)
    # Another candidate: the same kernels, a different wrapper -> a profile-cache miss but a
    # compile-cache hit, so no profile step runs.
    other = ELEMENTWISE_SOURCE + "\n\nclass ModelNew:\n    pass\n"
    second = static_profile(other, [relu_launch()], [], "sm_90", runner, **caches)
    assert not second.report.cached and second.report.compile_cache_hits == 1
    assert len(runner.calls) == 1
    assert (
        second.report.kernels[0].registers_per_thread
        == first.report.kernels[0].registers_per_thread
    )
    # A different arch is a different entry.
    static_profile(other, [relu_launch()], [], "sm_80", runner, **caches)
    assert len(runner.calls) == 2


def test_sandboxed_step_never_learns_where_the_cache_is(tmp_path, caches):
    runner = LocalStepRunner(tmp_path / "steps")
    static_profile(ELEMENTWISE_SOURCE, [relu_launch()], [], "sm_90", runner, **caches)
    assert runner.requests and all(str(tmp_path / "cache") not in r for r in runner.requests)


def test_a_kernel_that_does_not_compile_for_the_gpu_is_an_error_not_a_crash(tmp_path, caches):
    # 8x8 tl.dot tiles run in the interpreter but are rejected for a real GPU.
    result = static_profile(
        MATMUL_SOURCE, [matmul_launch(8, 8, 8)], [], "sm_90", LocalStepRunner(tmp_path), **caches
    )
    assert result.report.kernels == []
    assert result.report.errors and "compile for sm_90 failed" in result.report.errors[0]


def test_launches_outside_the_candidate_file_are_noted(tmp_path, caches):
    foreign = relu_launch().model_copy(update={"module_file": "/usr/lib/python3/x.py"})
    result = static_profile(
        ELEMENTWISE_SOURCE, [foreign], [], "sm_90", LocalStepRunner(tmp_path), **caches
    )
    assert result.report.kernels == [] and "outside the candidate file" in result.report.notes[0]


def test_unknown_arch_is_reported(tmp_path, caches):
    result = static_profile(
        ELEMENTWISE_SOURCE, [relu_launch()], [], "sm_75", LocalStepRunner(tmp_path), **caches
    )
    assert "unsupported arch" in result.report.errors[0]


def test_same_kernel_two_specializations(tmp_path, caches):
    a = relu_launch()
    b = launch("relu_kernel", a.signature, {"BLOCK": 256}, int_args={"n": 1000}, grid=[4])
    result = static_profile(
        ELEMENTWISE_SOURCE, [a, b], [], "sm_90", LocalStepRunner(tmp_path), **caches
    )
    assert len(result.report.kernels) == 2
    assert "specialization: BLOCK=256" in result.report.kernels[1].notes


def test_a_hostile_step_cannot_write_foreign_keys_or_smuggle_files(tmp_path, caches):
    # What a compromised profile step could return: an answer for a key it was not given
    # (another candidate's CUDA source) and an artifact that is a symlink to a host file.
    from profiler.cache import content_key, toolchain_fingerprint
    from profiler.protocol import JobResult, ProfileStepOutput
    from profiler.static import StepRun

    victim_key = content_key("nvcc", "0" * 64, "sm_90", toolchain_fingerprint())
    step_dir = tmp_path / "step"
    (step_dir / "artifacts").mkdir(parents=True)
    secret = tmp_path / "host_secret.txt"
    secret.write_text("host secret")
    (step_dir / "artifacts" / "k.cubin").symlink_to(secret)

    def hostile(inp, files):
        own = inp.triton_jobs[0].key
        return StepRun(
            ProfileStepOutput(
                results=[
                    JobResult(key=victim_key, kind="cuda", name="x", ok=True),
                    JobResult(
                        key=own,
                        kind="triton",
                        name="relu_kernel",
                        ok=True,
                        cubin="artifacts/k.cubin",
                    ),
                ]
            ),
            step_dir,
        )

    static_profile(ELEMENTWISE_SOURCE, [relu_launch()], [], "sm_90", hostile, **caches)
    cache = caches["compile_cache"]
    assert cache.get(victim_key) is None
    stored = [p for p in cache.root.rglob("*") if p.is_file()]
    assert stored and all("host secret" not in p.read_text(errors="ignore") for p in stored)
    assert not any(p.name == "kernel.cubin" for p in stored)


def test_only_the_heaviest_launches_within_the_budget_are_compiled(tmp_path, caches):
    """A network of 150 kernels would spend minutes compiling: past `max_launches`, the
    launches with the most programs are compiled and the rest are named in a note."""
    light = relu_launch().model_copy(update={"constexprs": {"BLOCK": 256}, "grid": [4]})
    heavy = relu_launch()  # 16384 programs
    runner = LocalStepRunner(tmp_path)
    result = static_profile(
        ELEMENTWISE_SOURCE, [light, heavy], [], "sm_90", runner, max_launches=1, **caches
    )
    report = result.report
    assert report.errors == [] and len(report.kernels) == 1
    assert report.kernels[0].grid == heavy.grid
    assert report.compile_cache_misses == 1
    assert any("1 of 2 launches not compiled" in n and "relu_kernel" in n for n in report.notes)
    both = static_profile(ELEMENTWISE_SOURCE, [light, heavy], [], "sm_90", runner, **caches)
    assert len(both.report.kernels) == 2  # within the default budget

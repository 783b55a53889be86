"""Benchmark: the cost of a static profile on first compile vs a cache hit.

    python tests/benchmarks/profile_cache.py [--arch sm_90]

For a Triton candidate (an fp16 tl.dot matmul, two launch specializations) and a CUDA C
candidate (a float4 kernel), with a fresh cache directory: the first profile (compiles in
a real profile step), the same candidate again (profile-cache hit), and another candidate
with the same kernels (compile-cache hit, no profile step). Prints seconds and the hit /
first ratio; the target is a ratio <= 5%.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from profiler.cache import CompileCache, ProfileCache
from profiler.launches import LaunchRecord
from profiler.protocol import CudaSource
from profiler.static import StaticProfile, static_profile
from tests.profiler_helpers import (
    FLOAT4_CUDA,
    MATMUL_SOURCE,
    LocalStepRunner,
    matmul_launch,
)


def _timed(fn: Callable[[], StaticProfile]) -> tuple[StaticProfile, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def bench(
    name: str,
    source: str,
    other_source: str,
    launches: list[LaunchRecord],
    cuda: list[CudaSource],
    arch: str,
    root: Path,
) -> tuple[float, float]:
    caches = {"compile_cache": CompileCache(root), "profile_cache": ProfileCache(root)}
    runner = LocalStepRunner(root / "steps")
    first, t_first = _timed(lambda: static_profile(source, launches, cuda, arch, runner, **caches))
    assert not first.report.errors, first.report.errors
    again, t_again = _timed(lambda: static_profile(source, launches, cuda, arch, runner, **caches))
    shared, t_shared = _timed(
        lambda: static_profile(other_source, launches, cuda, arch, runner, **caches)
    )
    assert again.report.cached and not shared.report.cached, "profile cache misbehaved"
    assert len(runner.calls) == 1, "the compile cache did not serve the second candidate"
    print(
        f"{name:<28} first {t_first:7.3f} s | profile-cache hit {t_again:6.3f} s "
        f"({100 * t_again / t_first:4.1f}%) | compile-cache hit {t_shared:6.3f} s "
        f"({100 * t_shared / t_first:4.1f}%) | {len(first.report.kernels)} kernel(s)"
    )
    return t_first, max(t_again, t_shared)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sm_90")
    args = parser.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="kw-bench-") as tmp:
        root = Path(tmp)
        t_first, t_hit = bench(
            "triton fp16 matmul x2",
            MATMUL_SOURCE,
            MATMUL_SOURCE.replace("# WRAPPER", "# another wrapper"),
            [matmul_launch(64, 64, 32), matmul_launch(128, 128, 32, num_warps=8)],
            [],
            args.arch,
            root / "triton",
        )
        worst = max(worst, t_hit / t_first)
        cuda = [CudaSource(name="scale4", source=FLOAT4_CUDA)]
        t_first, t_hit = bench(
            "cuda float4 kernel",
            "# candidate A",
            "# candidate B",
            [],
            cuda,
            args.arch,
            root / "cuda",
        )
        worst = max(worst, t_hit / t_first)
    print(f"worst hit/first ratio: {100 * worst:.1f}% (target <= 5%)")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())

"""GPU timing with CUDA events. Needs a CUDA GPU; nothing here runs on the CPU.

Method (the same for candidate and reference): `warmup` untimed calls, then up to
`trials` timed calls, each preceded by an L2 flush (writing a buffer twice the L2 size).
Each timed call is bracketed by CUDA events on the current stream with a whole-device
`synchronize()` before the end event is recorded, so work the call left on other streams
is inside the measured span (NVIDIA: an event only orders work on its own stream; a
device synchronize waits for all streams). The loop stops early once `budget_s` of wall
time is spent (after at least 10 trials). Times are in milliseconds.

`rotate(i)` (optional) gives the arguments of call i, prepared outside the timed span;
`after(i, args, out)` (optional) sees each timed call's result, also outside the span.
The candidate runner uses them to time fresh inputs and re-check sampled outputs
(`kernelbench.runner.timed`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from kernelbench.protocol.result import TimingStats

CPU_TIMING_NOTE = (
    "not measured: timing needs a CUDA GPU (Triton interpreter timings on the CPU "
    "say nothing about GPU speed)"
)
MIN_TRIALS_BEFORE_BUDGET = 10


def _l2_flush_buffer(device: torch.device) -> torch.Tensor:
    props = torch.cuda.get_device_properties(device)
    l2 = int(getattr(props, "L2_cache_size", 0) or 64 * 2**20)
    return torch.empty(2 * l2 // 4, dtype=torch.int32, device=device)


def time_gpu(
    fn: Callable[..., Any],
    args: list[Any],
    *,
    trials: int,
    warmup: int,
    budget_s: float,
    flush_l2: bool = True,
    rotate: Callable[[int], list[Any]] | None = None,
    after: Callable[[int, list[Any], Any], None] | None = None,
) -> TimingStats:
    if not torch.cuda.is_available():
        raise RuntimeError("GPU timing needs a CUDA GPU; none is visible")
    device = torch.device("cuda", torch.cuda.current_device())
    flush = _l2_flush_buffer(device) if flush_l2 else None
    with torch.no_grad():
        for i in range(warmup):
            fn(*(rotate(-1 - i) if rotate else args))
        torch.cuda.synchronize(device)
        times: list[float] = []
        started = time.perf_counter()
        for i in range(trials):
            call_args = rotate(i) if rotate else args
            if flush is not None:
                flush.zero_()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(device)
            start.record()
            out = fn(*call_args)
            torch.cuda.synchronize(device)  # every stream, not just the current one
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
            if after is not None:
                after(i, call_args, out)
            if len(times) >= MIN_TRIALS_BEFORE_BUDGET and time.perf_counter() - started > budget_s:
                break
    return TimingStats(
        mean_ms=statistics.fmean(times),
        median_ms=statistics.median(times),
        stdev_ms=statistics.stdev(times) if len(times) > 1 else 0.0,
        min_ms=min(times),
        max_ms=max(times),
        trials=len(times),
    )

"""Roofline lower bound of a problem on a GPU: max(FLOPs / peak FLOP/s, bytes / DRAM B/s).

FLOPs and the minimum bytes (every input, output and parameter moved once) come from the
reference at its default sizes (`kernelbench.runner.reference_step`: torch.utils.flop_counter on the
meta device, which counts matmul/conv/attention FLOPs only, so elementwise and reduction
problems read as 0 FLOPs: memory-bound, which they are). The peak is chosen by the
problem's dtype: fp16/bf16 use the tensor-core peak, fp32 the CUDA-core FP32 peak (TF32
tensor cores would change the numerics; the TF32 figure is reported beside it).
"""

from __future__ import annotations

from profiler.gpus import GpuSpec
from profiler.report import Precision, Roofline, RooflineBound

TENSOR_DTYPES = {"float16", "bfloat16", "fp16", "bf16", "half"}


def precision_for(dtype: str | None) -> Precision:
    name = (dtype or "float32").removeprefix("torch.")
    return Precision.FP16 if name in TENSOR_DTYPES else Precision.FP32


def peak_flops(gpu: GpuSpec, precision: Precision) -> float:
    return {
        Precision.FP32: gpu.fp32_flops,
        Precision.FP16: gpu.fp16_tensor_flops,
        Precision.TF32: gpu.tf32_tensor_flops,
    }[precision]


def roofline(
    flops: float | None,
    min_bytes: float | None,
    gpu: GpuSpec,
    *,
    dtype: str | None = None,
    measured_ms: float | None = None,
) -> Roofline:
    """The lower bound; with a measured time also the fraction of it reached (1.0 = at it)."""
    precision = precision_for(dtype)
    peak = peak_flops(gpu, precision)
    result = Roofline(
        gpu=gpu.name,
        flops=flops,
        min_bytes=min_bytes,
        precision=precision,
        peak_flops=peak,
        peak_bytes_per_s=gpu.dram_bytes_per_s,
        ridge_intensity=peak / gpu.dram_bytes_per_s,
        measured_ms=measured_ms,
    )
    if min_bytes is None or min_bytes <= 0:
        return result
    work = flops or 0.0
    compute_s = work / peak
    memory_s = min_bytes / gpu.dram_bytes_per_s
    result.arithmetic_intensity = work / min_bytes
    result.compute_ms = compute_s * 1e3
    result.memory_ms = memory_s * 1e3
    result.bound = RooflineBound.COMPUTE if compute_s > memory_s else RooflineBound.MEMORY
    result.lower_bound_ms = max(compute_s, memory_s) * 1e3
    if measured_ms is not None and measured_ms > 0:
        result.fraction_of_roofline = result.lower_bound_ms / measured_ms
    return result

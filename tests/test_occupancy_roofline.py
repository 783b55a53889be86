"""Theoretical occupancy against hand computations from NVIDIA's documented limits, and the
roofline against the datasheet table."""

from __future__ import annotations

import pytest

from profiler.gpus import GPUS, UnknownArch, UnknownGpu, default_gpu, gpu_spec, normalize_arch
from profiler.occupancy import theoretical_occupancy
from profiler.report import Precision, Roofline, RooflineBound
from profiler.roofline import peak_flops, roofline

# Documented limits used below (CUDA Programming Guide, compute capability table, and the
# occupancy calculator's allocation rules):
#   sm_80 (8.0): 64 warps/SM, 32 blocks/SM, 65536 regs/SM in 4 sub-partitions of 16384,
#                registers allocated per warp in units of 256, 164 KB = 167936 B shared
#                memory per SM, 163 KB per block opt-in, 1 KB reserved per block, shared
#                memory allocated in 128-B units.
#   sm_90 (9.0): 64 warps/SM, 32 blocks/SM, same register file, 228 KB = 233472 B per SM,
#                227 KB = 232448 B per block, 1 KB reserved per block.


def test_sm80_register_limited():
    # 256 threads = 8 warps, 64 regs: a warp takes 64*32 = 2048 regs (a multiple of 256).
    # A sub-partition holds 16384 / 2048 = 8 warps -> 32 warps per SM -> 32 / 8 = 4 blocks.
    # Warps allow 64 / 8 = 8 blocks, smem (0 + 1024 reserved) 167936 / 1024 = 164, blocks 32.
    # Active: 4 blocks * 8 warps = 32 of 64 warps = 50%, limited by registers.
    occ = theoretical_occupancy("sm_80", 256, 64, 0)
    assert occ.blocks_limited_by == {"registers": 4, "shared_memory": 164, "warps": 8, "blocks": 32}
    assert occ.active_warps_per_sm == 32 and occ.occupancy_pct == 50.0
    assert occ.limiter == "registers"


def test_sm80_register_rounding_to_256():
    # 128 threads = 4 warps, 37 regs: 37*32 = 1184 regs rounds up to 1280 per warp.
    # 16384 / 1280 = 12.8 -> 12 warps per sub-partition -> 48 warps per SM -> 48 / 4 = 12
    # blocks. Warps: 64 / 4 = 16. Active 12 blocks * 4 warps = 48 / 64 = 75%.
    occ = theoretical_occupancy("sm_80", 128, 37, 0)
    assert occ.blocks_limited_by["registers"] == 12
    assert occ.occupancy_pct == 75.0 and occ.limiter == "registers"


def test_sm80_shared_memory_limited():
    # 128 threads, 32 regs (registers allow 16384/1024 = 16 warps per partition -> 64 -> 16
    # blocks), 40000 B smem: 40000 + 1024 = 41024, rounded to 128 B = 41088 B per block;
    # 167936 / 41088 = 4.09 -> 4 blocks * 4 warps = 16 / 64 = 25%, limited by shared memory.
    occ = theoretical_occupancy("sm_80", 128, 32, 40000)
    assert occ.blocks_limited_by["shared_memory"] == 4
    assert occ.occupancy_pct == 25.0 and occ.limiter == "shared_memory"


def test_sm80_full_occupancy_has_no_limiter():
    # 256 threads, 32 regs: 1024 regs per warp, 16 warps per partition -> 64 per SM -> 8
    # blocks; warps also allow 8 blocks -> 64 / 64 warps = 100%.
    occ = theoretical_occupancy("sm_80", 256, 32, 0)
    assert occ.occupancy_pct == 100.0 and occ.limiter == "none"


def test_sm90_triton_tile_with_255_registers():
    # A Triton kernel with 4 warps (128 threads) at the 255-register cap: 255*32 = 8160 ->
    # 8192 regs per warp; 16384 / 8192 = 2 warps per partition -> 8 warps per SM -> 2
    # blocks -> 8 / 64 warps = 12.5%, limited by registers.
    occ = theoretical_occupancy("sm_90", 128, 255, 0)
    assert occ.active_blocks_per_sm == 2 and occ.occupancy_pct == 12.5
    assert occ.limiter == "registers"


def test_sm90_shared_memory_of_a_pipelined_matmul():
    # 4 warps, 96 regs, 65536 B dynamic smem: registers: 96*32 = 3072 per warp, 16384 / 3072
    # = 5 warps per partition -> 20 per SM -> 5 blocks. Smem: 65536 + 1024 = 66560 (a
    # multiple of 128); 233472 / 66560 = 3.5 -> 3 blocks. Warps 16, blocks 32.
    # Active 3 blocks * 4 warps = 12 / 64 = 18.75%, limited by shared memory.
    occ = theoretical_occupancy("sm_90", 128, 96, 65536)
    assert occ.blocks_limited_by == {"registers": 5, "shared_memory": 3, "warps": 16, "blocks": 32}
    assert occ.occupancy_pct == 18.75 and occ.limiter == "shared_memory"


def test_sm90_small_blocks_hit_the_block_limit():
    # 32 threads = 1 warp, 16 regs: registers allow 64 warps -> 64 blocks, warps 64 blocks,
    # but at most 32 blocks per SM -> 32 warps / 64 = 50%, limited by blocks.
    occ = theoretical_occupancy("sm_90", 32, 16, 0)
    assert occ.active_blocks_per_sm == 32 and occ.occupancy_pct == 50.0
    assert occ.limiter == "blocks"


def test_sm90_cannot_launch():
    # 1024 threads x 128 regs = 131072 regs > 65536 per block; 240 KB smem > 227 KB per block.
    assert theoretical_occupancy("sm_90", 1024, 128, 0).limiter == "cannot_launch"
    too_much_smem = theoretical_occupancy("sm_90", 128, 32, 240 * 1024)
    assert too_much_smem.limiter == "cannot_launch" and too_much_smem.occupancy_pct == 0.0
    assert "shared memory" in (too_much_smem.reason or "")


def test_matches_nsight_compute_on_the_real_sm100_sample():
    # The ncu sample in ../shared/data/ncu (an sm_100 GEMM): 384 threads, 168 registers,
    # 205696 B dynamic smem; ncu reports block limits registers 1, shared mem 1, warps 5,
    # SM 32, 12 theoretical active warps, 18.75% theoretical occupancy.
    occ = theoretical_occupancy("sm_100", 384, 168, 205696)
    limits = occ.blocks_limited_by
    assert (limits["registers"], limits["shared_memory"], limits["warps"], limits["blocks"]) == (
        1,
        1,
        5,
        32,
    )
    assert occ.active_warps_per_sm == 12 and occ.occupancy_pct == 18.75


def test_sm89_has_48_warps():
    # L40S / RTX 4090: 48 warps and 24 blocks per SM. 256 threads, 32 regs: registers allow
    # 8 blocks, warps 48 / 8 = 6 -> 48 / 48 = 100%.
    occ = theoretical_occupancy("sm_89", 256, 32, 0)
    assert occ.max_warps_per_sm == 48 and occ.occupancy_pct == 100.0


def test_arch_names():
    assert normalize_arch("sm_90a") == "sm_90"
    assert normalize_arch("90") == "sm_90"
    assert normalize_arch("compute_100") == "sm_100"
    with pytest.raises(UnknownArch, match="supported"):
        normalize_arch("sm_75")


def test_gpu_lookup():
    assert gpu_spec("NVIDIA H100 80GB HBM3").name == "H100"
    assert gpu_spec("NVIDIA GeForce RTX 4090").name == "RTX 4090"
    assert gpu_spec("h200").name == "H200"
    assert default_gpu("sm_90").name == "H100" and default_gpu("sm_100").name == "B200"
    with pytest.raises(UnknownGpu):
        gpu_spec("Voodoo 2")
    assert set(GPUS) == {"A100", "H100", "H200", "L40S", "RTX 4090", "B200"}


def test_roofline_memory_bound_elementwise():
    # ReLU on 4096 x 16384 fp32: 268 MB read + 268 MB written, no FLOPs counted.
    # H100: 536870912 B / 3.35e12 B/s = 0.16026 ms.
    r = roofline(0.0, 536870912.0, GPUS["H100"], dtype="torch.float32")
    assert r.bound is RooflineBound.MEMORY and r.precision is Precision.FP32
    assert r.lower_bound_ms == pytest.approx(0.16026, rel=1e-3)
    assert r.fraction_of_roofline is None  # nothing measured


def test_roofline_compute_bound_fp16_matmul_and_measured_fraction():
    # 4096^3 fp16 matmul: 2*4096^3 = 1.374e11 FLOP, 3 * 4096^2 * 2 B = 100.7 MB.
    # A100 fp16 tensor peak 312e12: 0.4405 ms compute vs 0.0494 ms memory -> compute-bound.
    flops, nbytes = 2 * 4096**3, 3 * 4096**2 * 2
    r = roofline(flops, nbytes, GPUS["A100"], dtype="torch.float16", measured_ms=0.8811)
    assert r.bound is RooflineBound.COMPUTE and r.precision is Precision.FP16
    assert r.lower_bound_ms == pytest.approx(0.44051, rel=1e-3)
    assert r.arithmetic_intensity == pytest.approx(flops / nbytes)
    assert r.fraction_of_roofline == pytest.approx(0.5, rel=1e-3)


def test_roofline_without_bytes_has_no_bound():
    r = roofline(None, None, GPUS["B200"])
    assert r.bound is None and r.lower_bound_ms is None and r.gpu == "B200"


def test_every_precision_has_a_peak_and_an_unknown_one_is_refused():
    for gpu in GPUS.values():
        assert all(peak_flops(gpu, p) > 0 for p in Precision)
    assert Roofline.model_validate_json('{"gpu": "H100", "precision": "tf32"}').precision is (
        Precision.TF32
    )
    with pytest.raises(ValueError, match="precision"):
        Roofline.model_validate_json('{"gpu": "H100", "precision": "fp8"}')

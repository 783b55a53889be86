"""Parsers of compiler and profiler output, on real outputs and NVIDIA's documented formats."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.facts import cuda_block_sizes
from profiler.ncu import (
    CURATED_METRICS,
    PERMISSION_ERROR,
    build_command,
    headline,
    merge_into_report,
    parse_ncu_csv,
    run_ncu,
)
from profiler.ptxas import demangle, parse_ptxas_log
from profiler.report import KernelProfile, ProfileReport, Roofline, SassMix
from profiler.sass import classify, split_functions
from profiler.triton_aot import extract_kernels
from tests.conftest import FIXTURES

NCU_SAMPLE = Path("/work/shared/data/ncu/ncu_sections_sm100_gemm.log")
NCU_RAW = FIXTURES / "profiler" / "ncu_raw_page.csv"

NVCC_LOG = """\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function '_Z11relu_kernelPKfPfi' for 'sm_90'
ptxas info    : Function properties for _Z11relu_kernelPKfPfi
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers, 372 bytes cmem[0]
ptxas info    : Compiling entry function '_ZN2ns4tileEPf' for 'sm_90'
ptxas info    : Function properties for _ZN2ns4tileEPf
    48 bytes stack frame, 44 bytes spill stores, 40 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 8192 bytes smem, 360 bytes cmem[0]
ptxas info    : Function properties for _Z6helperf
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
"""


def test_ptxas_log_per_entry_function():
    facts = parse_ptxas_log(NVCC_LOG)
    assert list(facts) == ["_Z11relu_kernelPKfPfi", "_ZN2ns4tileEPf"]  # helper is no entry
    relu, tile = facts.values()
    assert (relu.registers, relu.barriers, relu.static_smem_bytes, relu.arch) == (10, 0, 0, "sm_90")
    assert (tile.registers, tile.stack_bytes, tile.spill_stores_bytes, tile.spill_loads_bytes) == (
        255,
        48,
        44,
        40,
    )
    assert tile.static_smem_bytes == 8192 and tile.barriers == 1


def test_ptxas_blackwell_prefix_is_read_too():
    log = (
        "ptxas-blackwell info    : Compiling entry function 'add_kernel' for 'sm_90a'\n"
        "ptxas-blackwell info    : Function properties for add_kernel\n"
        "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
        "ptxas-blackwell info    : Used 26 registers, used 0 barriers\n"
    )
    assert parse_ptxas_log(log)["add_kernel"].registers == 26


def test_demangle():
    assert demangle("_Z11relu_kernelPKfPfi") == "relu_kernel"
    assert demangle("_ZN2ns4tileEPf") == "ns::tile"
    assert demangle("add_kernel") == "add_kernel"


SASS = """
\tcode for sm_90a
\t\tFunction : mm_kernel
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/              @!P0 LDG.E.128 R16, desc[UR4][R20.64] ;
        /*0020*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0030*/                   LDG.E.U16 R5, desc[UR4][R2.64] ;
        /*0040*/                   LDGSTS.E.BYPASS.LTC128B.128 [R3], desc[UR4][R4.64] ;
        /*0050*/                   HGMMA.64x64x16.F32 R24, gdesc[UR4], RZ ;
        /*0060*/                   HGMMA.64x64x16.F32 R24, gdesc[UR8], R24 ;
        /*0070*/                   FFMA R0, R1, R2, R3 ;
        /*0080*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;
        /*0090*/                   SYNCS.ARRIVE.TRANS64.RED.A1T0 RZ, [UR4], RZ ;
        /*00a0*/                   UTMALDG.2D [UR8], [UR10] ;
        /*00b0*/                   LDS.128 R8, [R3] ;
        /*00c0*/                   STS.64 [R3], R8 ;
        /*00d0*/                   STL [R1+0x10], R4 ;
        /*00e0*/                   LDL R4, [R1+0x10] ;
        /*00f0*/              @P1 STG.E.64 desc[UR4][R6.64], R8 ;
        /*0100*/                   NOP ;
\t\tFunction : other
        /*0000*/                   EXIT ;
"""


def test_sass_mix():
    functions = split_functions(SASS)
    assert set(functions) == {"mm_kernel", "other"}
    mix = classify(functions["mm_kernel"])
    assert mix.total == 16  # NOP not counted
    assert mix.tensor_core_mma == 2 and mix.tensor_core_kinds == ["HGMMA"]
    assert mix.global_loads == {"16": 1, "32": 1, "128": 1}
    assert mix.global_stores == {"64": 1}
    assert (mix.async_copies, mix.tma_ops, mix.barriers, mix.mbarrier_ops) == (1, 1, 1, 1)
    assert (mix.shared_loads, mix.shared_stores, mix.local_loads, mix.local_stores) == (1, 1, 1, 1)
    assert mix.ffma == 1 and mix.top_opcodes["LDG"] == 3


def test_cuda_block_sizes_from_launch_bounds_and_launches():
    src = """
    #define THREADS 128
    constexpr int BS = 256;
    __global__ void __launch_bounds__(512) k1(float* x) {}
    __global__ void k2(const float* __restrict__ x, float* y, int n) {}
    template <int N> __global__ void k3(float* x) {}
    __global__ void k4(float* x) {}
    void run(int n, int m) {
        k2<<<(n + BS - 1) / BS, BS>>>(x, y, n);
        k3<4><<<dim3(8, 1), dim3(THREADS, 2)>>>(x);
        k4<<<n, m>>>(x);
    }
    """
    assert cuda_block_sizes(src) == {"k1": 512, "k2": 256, "k3": 256}


CANDIDATE = """
import os
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice
import numpy as np

BLOCK_DEFAULT = 1024
SCALE = tl.constexpr(2.0)
SIDE_EFFECT = os.system("echo pwned")
os.environ["X"] = "1"

def helper():
    return os.getcwd()

@triton.autotune(configs=[triton.Config({"BLOCK": 128})], key=["n"])
@triton.jit(do_not_specialize=["n"], debug=helper())
def scale_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr = BLOCK_DEFAULT, EVIL: tl.constexpr = os.getpid()):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=o < n) * SCALE, mask=o < n)

class ModelNew(torch.nn.Module):
    def forward(self, x):
        return x
"""


def test_kernel_extraction_keeps_definitions_only():
    extracted = extract_kernels(CANDIDATE)
    text = extracted.text
    assert extracted.kernels == ["scale_kernel"]
    assert "os.system" not in text and "environ" not in text and "getcwd" not in text
    assert "autotune" not in text and "helper()" not in text and "getpid" not in text
    assert "ModelNew" not in text and "import numpy" not in text and "import torch" not in text
    assert "SCALE = tl.constexpr(2.0)" in text and "BLOCK_DEFAULT = 1024" in text
    assert "@triton.jit(do_not_specialize=['n'])" in text
    assert "from triton.language.extra import libdevice" in text
    compile(text, "kernels.py", "exec")  # a valid module


def test_kernel_extraction_module_runs_nothing_of_the_candidate(tmp_path):
    # Importing the extracted module in a fresh interpreter must not run os.system etc.
    (tmp_path / "kernels.py").write_text(extract_kernels(CANDIDATE).text)
    proc = subprocess.run(
        [sys.executable, "-c", "import kernels; print(type(kernels.scale_kernel).__name__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pwned" not in proc.stdout and proc.stdout.strip() == "JITFunction"


# ---------------------------------------------------------------- Nsight Compute


@pytest.mark.skipif(not NCU_SAMPLE.is_file(), reason="shared ncu sample not present")
def test_ncu_sections_format_real_sample():
    launches = parse_ncu_csv(NCU_SAMPLE.read_text())
    assert len(launches) == 1
    gemm = launches[0]
    assert gemm.base_name.startswith("cutlass3x_sm100_tensorop")
    assert gemm.block_size == "(384, 1, 1)" and gemm.cc == "10.0"
    assert gemm.metrics["Registers Per Thread"] == 168.0
    assert gemm.metrics["Duration"] == 406240.0 and gemm.units["Duration"] == "ns"
    assert gemm.metrics["Theoretical Occupancy"] == 18.75
    assert gemm.metrics["Function Cache Configuration"] == "CachePreferNone"
    assert any(r.startswith("TheoreticalOccupancy") for r in gemm.rules)
    top = headline(gemm)
    assert top["achieved_occupancy_pct"] == 15.53 and top["dram_throughput_pct"] == 0.74
    assert top["sm_throughput_pct"] == 23.59 and top["duration_ns"] == 406240.0


def test_ncu_raw_page_format():
    launches = parse_ncu_csv(NCU_RAW.read_text())
    assert [launch.id for launch in launches] == ["0", "1", "2"]
    relu, add_small, add_big = launches
    assert relu.kernel == "relu_kernel" and add_big.base_name == "add_kernel"
    assert relu.grid_size == "(8,192, 1, 1)"  # an id column: kept as text
    assert relu.metrics["dram__bytes_read.sum"] == 33554432.0  # thousands separators
    assert relu.units["gpu__time_duration.sum"] == "ns"
    assert add_small.metrics["launch__func_cache_config"] == "CachePreferNone"
    assert headline(add_big)["duration_ns"] == 14112.0


def test_ncu_merge_keeps_static_facts_and_longest_launch():
    report = ProfileReport(
        arch="sm_90",
        kernels=[KernelProfile(name="relu_kernel", arch="sm_90", registers_per_thread=18)],
        roofline=Roofline(gpu="H100", bound="memory"),
    )
    merge_into_report(report, parse_ncu_csv(NCU_RAW.read_text()))
    relu, add = report.kernels
    assert relu.source == "static+ncu" and relu.registers_per_thread == 18
    assert relu.metrics["achieved_occupancy_pct"] == 88.1
    assert relu.metrics["smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct"] == 71.35
    assert add.source == "ncu" and add.metrics["duration_ns"] == 14112.0  # the longer launch
    assert report.source == "static+ncu"
    assert "ncu: duration 12.5 us, achieved occupancy 88%" in report.summary(2000)


def test_ncu_rejects_non_csv():
    with pytest.raises(ValueError, match="no CSV"):
        parse_ncu_csv("==PROF== nothing profiled\n")


def test_ncu_command_line():
    cmd = build_command(Path("/opt/ncu"), ["python", "-m", "x"], kernel_names=["b_k", "ns::a.k"])
    assert cmd[:5] == ["/opt/ncu", "--csv", "--page", "raw", "--metrics"]
    assert cmd[5].split(",") == list(CURATED_METRICS)
    assert len(CURATED_METRICS) >= 24
    i = cmd.index("--kernel-name")
    assert cmd[i + 1] == r"regex:(^|::)(a\.k|b_k)$"
    assert cmd[-3:] == ["python", "-m", "x"]


def _fake_ncu(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "ncu"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_run_ncu_reports_counter_permission_as_such(tmp_path):
    # What ncu prints without access to the performance counters (no GPU here to get it).
    ncu = _fake_ncu(
        tmp_path,
        'echo "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access '
        'NVIDIA GPU Performance Counters on the target device 0." >&2\nexit 1\n',
    )
    out, err = run_ncu([str(ncu)], timeout_s=30)
    assert out is None and err == PERMISSION_ERROR


def test_run_ncu_timeout_and_csv(tmp_path):
    slow = _fake_ncu(tmp_path, "sleep 30\n")
    out, err = run_ncu([str(slow)], timeout_s=1)
    assert out is None and "timed out" in (err or "")
    csv_file = NCU_RAW
    ok = _fake_ncu(tmp_path, f"cat {csv_file}\n")
    out, err = run_ncu([str(ok)], timeout_s=30)
    assert err is None and len(parse_ncu_csv(out or "")) == 3


def test_summary_leads_with_bound_and_worst_kernel():
    report = ProfileReport(
        arch="sm_90",
        roofline=Roofline(
            gpu="H100",
            bound="compute",
            precision="fp16",
            arithmetic_intensity=600.0,
            ridge_intensity=295.4,
            lower_bound_ms=0.15,
            min_bytes=3e7,
            flops=1.4e11,
        ),
        kernels=[
            KernelProfile(
                name="ok_kernel", arch="sm_90", occupancy_pct=100.0, occupancy_limiter="none"
            ),
            KernelProfile(
                name="big_tile",
                arch="sm_90",
                registers_per_thread=255,
                spill_stores_bytes=6644,
                spill_loads_bytes=5108,
                stack_bytes=2544,
                occupancy_pct=12.5,
                occupancy_limiter="registers",
                sass=SassMix(total=100, ffma=50, global_loads={"32": 4}),
            ),
        ],
        errors=["kernel x: compile for sm_90 failed"],
    )
    text = report.summary(2000)
    lines = text.splitlines()
    assert lines[0].startswith("roofline H100 (fp16): COMPUTE-BOUND")
    assert lines[1].startswith("kernel big_tile") and "SPILLS 6644 B" in lines[1]
    assert "occupancy 12% (limited by registers)" in lines[1] and "no tensor cores" in lines[1]
    assert any("uses no tensor cores" in ln for ln in lines)
    assert lines[-1].startswith("profile error:")
    short = report.summary(200)
    assert len(short) <= 200 and short.startswith("roofline")


def test_private_cache_dir_for_tests():
    assert "KWRIGHT_CACHE_DIR" in os.environ


def test_ncu_kernel_names_match_static_names():
    from profiler.ncu import NcuLaunch

    assert NcuLaunch(id="0", kernel="ns::k3<4>(float *)").base_name == "ns::k3"
    assert demangle("_ZN2ns2k3ILi4EEEvPf") == "ns::k3"
    assert NcuLaunch(id="1", kernel="relu_kernel").base_name == "relu_kernel"

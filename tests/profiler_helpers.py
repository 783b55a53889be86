"""Run the real profile step (a child process, `python -m kernelbench.runner.child`) for tests and
benchmarks that call `profiler.static.static_profile` directly."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

from kernelbench.protocol.request import (
    NONCE_FILE,
    REPORT_FILE,
    REQUEST_FILE,
    StepReport,
    StepRequest,
)
from profiler.launches import LaunchRecord
from profiler.protocol import ProfileStepInput
from profiler.static import StepRun
from sandbox.env import step_env


class LocalStepRunner:
    """A StepRunner that runs each profile step in a fresh child process and counts them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[ProfileStepInput] = []
        self.requests: list[str] = []
        self._ids = itertools.count()

    def __call__(self, inp: ProfileStepInput, files: dict[str, str]) -> StepRun:
        self.calls.append(inp)
        workdir = self.root / f"profile_{next(self._ids)}"
        (workdir / "tmp").mkdir(parents=True)
        for name, text in files.items():
            (workdir / name).write_text(text)
        req = StepRequest(
            step="profile",
            problem_id="test",
            device="cpu",
            backend="triton",
            init_seed=0,
            arch=inp.arch,
            profile=inp,
        )
        self.requests.append(req.model_dump_json())
        (workdir / REQUEST_FILE).write_text(req.model_dump_json())
        (workdir / NONCE_FILE).write_text("nonce")
        proc = subprocess.run(
            [sys.executable, "-m", "kernelbench.runner.child", str(workdir)],
            env=step_env(workdir),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        report_path = workdir / REPORT_FILE
        if not report_path.is_file():
            return StepRun(None, None, f"exit {proc.returncode}: {proc.stderr[-2000:]}")
        report = StepReport.model_validate_json(report_path.read_text())
        return StepRun(report.profile, workdir, None if report.profile else report.message)


def launch(kernel: str, signature: dict[str, str], constexprs: dict, **kw) -> LaunchRecord:
    return LaunchRecord(
        kernel=kernel,
        module_file="/sandbox/candidate/candidate.py",
        signature=signature,
        constexprs=constexprs,
        **kw,
    )


MATMUL_SOURCE = """
import torch
import triton
import triton.language as tl


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn,
                  BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k0 in range(0, K, BK):
        a = tl.load(a_ptr + rm[:, None] * sam + (k0 + rk)[None, :] * sak)
        b = tl.load(b_ptr + (k0 + rk)[:, None] * sbk + rn[None, :] * sbn)
        acc += tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * scm + rn[None, :] * scn, acc.to(tl.float16))


class ModelNew(torch.nn.Module):
    def forward(self, a, b):
        return a @ b  # WRAPPER
"""

MATMUL_SIGNATURE = {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp16"} | {
    n: "i32" for n in ("M", "N", "K", "sam", "sak", "sbk", "sbn", "scm", "scn")
}
MATMUL_INTS = {
    "M": 4096, "N": 4096, "K": 4096, "sam": 4096, "sak": 1, "sbk": 4096, "sbn": 1, "scm": 4096, "scn": 1,
}  # fmt: skip


def matmul_launch(
    bm: int, bn: int, bk: int, num_warps: int = 4, num_stages: int = 3
) -> LaunchRecord:
    return launch(
        "matmul_kernel",
        MATMUL_SIGNATURE,
        {"BM": bm, "BN": bn, "BK": bk},
        int_args=MATMUL_INTS,
        num_warps=num_warps,
        num_stages=num_stages,
        grid=[4096 // bm, 4096 // bn],
    )


ELEMENTWISE_SOURCE = """
import torch
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.maximum(tl.load(x_ptr + o, mask=m, other=0.0), 0.0), mask=m)
"""


def relu_launch() -> LaunchRecord:
    return launch(
        "relu_kernel",
        {"x_ptr": "*fp32", "y_ptr": "*fp32", "n": "i32"},
        {"BLOCK": 1024},
        int_args={"n": 1 << 24},
        grid=[(1 << 24) // 1024],
    )


FLOAT4_CUDA = r"""
__global__ void __launch_bounds__(256) scale4(const float4* __restrict__ x, float4* __restrict__ y, float a, int n4) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n4) {
        float4 v = x[i];
        y[i] = make_float4(a * v.x, a * v.y, a * v.z, a * v.w);
    }
}
"""

"""OS-level confinement of the sandboxed steps (issue 28, point 4; kernelbench.runner.confine).

The mechanism is attacked directly: a process loads the filter and then tries every way
out it closes, through Python and through raw libc calls (what a C++ extension would
use); each must fail, and each must have worked a moment before the filter (so the test
can fail). Then candidates try the same from where they run: Python host code in the
candidate step (blind off, where the data is in that process), C++
host code of a CUDA C extension, and a Triton kernel body run by the interpreter in the
replay step, which holds the real data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from kernelbench.runner.confine import ON

PROBE = r"""
import ctypes, errno, json, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)

def attempt(fn):
    try:
        out = fn()
    except (OSError, RuntimeError) as exc:
        return f"denied: {exc}"
    if out in (None, 0) or (isinstance(out, int) and out > 0):
        return "allowed"
    return f"denied: rc {out}, errno {ctypes.get_errno()}"

def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)

def raw_fork():  # libc's fork, as C++ host code would call it
    pid = libc.fork()
    if pid == 0:
        libc._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return pid

def thread():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()

def run():
    subprocess.run([sys.executable, "-c", "pass"], check=True)

def process_vm_readv():
    buf = ctypes.create_string_buffer(8)
    src = ctypes.create_string_buffer(b"secret!")
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    local = iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
    remote = iovec(ctypes.cast(src, ctypes.c_void_p), 8)
    n = libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return n if n == 8 else -1

def io_uring():
    entries = ctypes.create_string_buffer(120)
    fd = libc.syscall(425, 4, entries)
    if fd >= 0:
        os.close(fd)
        return 0
    return -1 if ctypes.get_errno() == errno.EPERM else 0

CASES = {"fork": fork, "raw_fork": raw_fork, "thread": thread, "subprocess": run,
         "process_vm_readv": process_vm_readv, "io_uring": io_uring}
before = {k: attempt(f) for k, f in CASES.items()}
from kernelbench.runner.confine import confine
state = confine()
after = {k: attempt(f) for k, f in CASES.items()}
rc = libc.execve(b"/bin/true", (ctypes.c_char_p * 2)(b"/bin/true", None), (ctypes.c_char_p * 1)(None))
after["execve"] = f"denied: errno {ctypes.get_errno()}" if rc == -1 and ctypes.get_errno() == errno.EPERM else "allowed"
rc = libc.ptrace(0, 0, None, None)
after["ptrace"] = f"denied: errno {ctypes.get_errno()}" if rc == -1 and ctypes.get_errno() == errno.EPERM else "allowed"
print(json.dumps({"state": state, "before": before, "after": after}))
"""


def test_each_way_out_works_before_the_filter_and_fails_after_it():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["state"] == ON
    # io_uring may be switched off by the machine itself (sysctl io_uring_disabled)
    assert {k: v for k, v in report["before"].items() if k != "io_uring"} == {
        k: "allowed" for k in report["before"] if k != "io_uring"
    }, report["before"]
    for name, outcome in report["after"].items():
        assert outcome.startswith("denied"), (name, outcome)


def _eval(source: str, problem: str = "level1/2_ReLU", **options: object):
    opts = EvalOptions(profile=False, device="cpu", static_check=False, **options)
    return evaluate(resolve_problem(problem), textwrap.dedent(source), opts)


TRITON_HEADER = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs, mask=mask, other=0.0), 0.0), mask=mask)
"""

ESCAPES = {
    # a thread the guard's (thread-local) dispatch mode never sees computes the output
    "thread": (
        "import threading\n"
        "def escape(x, y):\n"
        "    t = threading.Thread(target=lambda: y.copy_(torch.relu(x)))\n"
        "    t.start(); t.join()\n"
    ),
    # a forked copy computes it (its guard's record dies with it) into shared memory
    "fork": (
        "import mmap, os\n"
        "def escape(x, y):\n"
        "    buf = mmap.mmap(-1, x.numel() * 4)\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        torch.frombuffer(buf, dtype=torch.float32).copy_(torch.relu(x).flatten())\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "    y.copy_(torch.frombuffer(buf, dtype=torch.float32).view_as(y))\n"
    ),
    # the kernel does the work; the step merely runs a program
    "program": (
        "import subprocess, sys\n"
        "def escape(x, y):\n"
        "    n = x.numel()\n"
        "    relu_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)\n"
        "    subprocess.run([sys.executable, '-c', 'pass'], check=True)\n"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("way", sorted(ESCAPES))
def test_python_host_code_cannot_leave_the_candidate_process(way):
    """Where the candidate's process holds the data (blind off: a GPU's configuration, with
    the in-process guard as the line), a thread or a forked copy would carry the
    computation past the guard; each correct without the filter, stopped with it."""
    source = (
        TRITON_HEADER
        + ESCAPES[way]
        + textwrap.dedent(
            """
        class ModelNew(nn.Module):
            def forward(self, x):
                y = torch.empty_like(x)
                relu_kernel[(1,)](x, y, 0, BLOCK=16)
                escape(x, y)
                return y
        """
        )
    )
    result = _eval(source, blind=False)
    assert result.status == Status.RUNTIME_ERROR, (result.status, result.reason)
    assert "not permitted" in result.reason or "can't start new thread" in result.reason, (
        result.reason
    )


@pytest.mark.slow
def test_a_kernel_body_in_the_replay_cannot_start_a_process():
    """The replay holds the real data and runs the kernels' bodies (Python, under the
    interpreter): one that forks is stopped there."""
    source = TRITON_HEADER + textwrap.dedent(
        """
        @triton.jit
        def forking_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
            __import__("os").fork()
            offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            mask = offs < n
            tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs, mask=mask), 0.0), mask=mask)


        class ModelNew(nn.Module):
            def forward(self, x):
                y = torch.empty_like(x)
                n = x.numel()
                forking_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
                return y
        """
    )
    result = _eval(source, blind=True)
    assert result.status == Status.RUNTIME_ERROR, (result.status, result.reason)
    assert "replay" in result.reason and "not permitted" in result.reason, result.reason


CUDA_THREAD = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

src = r"""
#include <torch/extension.h>
#include <thread>
__global__ void relu_kernel(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}
torch::Tensor relu(torch::Tensor x) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    relu_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), 0);
    const float* a = x.data_ptr<float>();
    float* b = y.data_ptr<float>();
    std::thread t([=] { for (int i = 0; i < n; ++i) b[i] = a[i] > 0.f ? a[i] : 0.f; });
    t.join();
    return y;
}
"""
ext = load_inline(name="thread_ext", cpp_sources="torch::Tensor relu(torch::Tensor x);",
                  cuda_sources=src, functions=["relu"])


class ModelNew(nn.Module):
    def forward(self, x):
        return ext.relu(x)
'''


@pytest.mark.slow
def test_cuda_c_host_code_cannot_start_a_thread():
    """C++ host code on the emulated device holds the data (CUDA C is not blind yet): a
    std::thread doing the work out of sight fails to start."""
    result = _eval(CUDA_THREAD, backend="cuda")
    assert result.status == Status.RUNTIME_ERROR, (result.status, result.reason)
    assert "not permitted" in result.reason.lower(), result.reason

"""The conformance suite's hostile candidates (`kernelbench.harness.conformance` runs them).

Each case is the body of `ModelNew.forward` in a `level1/2_ReLU` candidate (`TEMPLATE`),
the status it must get, and the containment properties (`sandbox.base.CONTAINMENT`) it
needs.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from kernelbench.protocol.result import Status

SECRET_VARS = ("OPENAI_API_KEY", "KWRIGHT_API_KEY")
PROBLEM_ID = "level1/2_ReLU"

TEMPLATE = """
import os, sys, time, signal, socket, json
from pathlib import Path
import torch, torch.nn as nn, triton, triton.language as tl

CALLER_PID = {caller_pid}
CALLER_HOME = {caller_home!r}
OUTSIDE = {outside!r}
PROJECT = {project!r}
PORT = {port}
TOKEN = {token!r}


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.maximum(tl.load(x_ptr + o, mask=m, other=0.0), 0.0), mask=m)


def relu(x):
    y = torch.empty_like(x)
    relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
    return y


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
{forward}
"""


@dataclass(frozen=True)
class HostileCase:
    name: str
    forward: str  # body of ModelNew.forward
    expect: tuple[Status, ...]
    needs: frozenset[str] = frozenset()
    reason_contains: str = ""
    bounded_by_timeout: bool = False  # expected to run until the wall-clock limit


def _case(
    name: str, forward: str, expect: Status | tuple[Status, ...], *needs: str, **kw: Any
) -> HostileCase:
    statuses = expect if isinstance(expect, tuple) else (expect,)
    return HostileCase(name, textwrap.dedent(forward).strip(), statuses, frozenset(needs), **kw)


CASES: tuple[HostileCase, ...] = (
    _case(
        "infinite_loop", "while True:\n    pass", Status.TIMEOUT, "time", bounded_by_timeout=True
    ),
    _case(
        "long_sleep",
        "time.sleep(3600)\nreturn relu(x)",
        Status.TIMEOUT,
        "time",
        bounded_by_timeout=True,
    ),
    _case(
        "fork_bomb",
        """
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
        Status.TIMEOUT,
        "time",
        "pids",
        bounded_by_timeout=True,
    ),
    _case(
        "memory_bomb",
        """
        hoard = []
        while True:
            hoard.append(torch.ones(32 << 20, dtype=torch.uint8))
        """,
        Status.RUNTIME_ERROR,
        "memory",
    ),
    _case(
        "loopback_connect",
        """
        s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
        s.sendall(b"pwned " + TOKEN.encode())
        s.close()
        return relu(x)
        """,
        Status.RUNTIME_ERROR,
        "network",
    ),
    _case(
        "env_secrets",
        """
        env = dict(os.environ)
        raw = open("/proc/self/environ", "rb").read().decode(errors="replace")
        print("ENV", env, raw)
        print("ENV", env, raw, file=sys.stderr)
        raise RuntimeError(f"env={env} raw={raw}")
        """,
        Status.RUNTIME_ERROR,
        "environment",
    ),
    _case(
        "caller_home_secret",
        """
        try:
            found = open(os.path.join(CALLER_HOME, "secret.txt")).read()
        except OSError as exc:
            found = repr(exc)
        raise RuntimeError(f"home secret: {found}")
        """,
        Status.RUNTIME_ERROR,
        "filesystem",
    ),
    _case(
        "parent_proc_environ",
        """
        pids = {os.getppid(), CALLER_PID}
        pids |= {int(p) for p in os.listdir("/proc") if p.isdigit()}
        dumps = []
        for pid in sorted(pids):
            try:
                dumps.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
            except OSError as exc:
                dumps.append(repr(exc))
        print(" ".join(dumps))
        raise RuntimeError(" ".join(dumps))
        """,
        Status.RUNTIME_ERROR,
        "processes",
    ),
    _case(
        "write_outside_scratch",
        """
        for path in (os.path.join(OUTSIDE, "pwned"), f"/tmp/kw-pwned-{TOKEN}",
                     os.path.join(CALLER_HOME, "pwned"), os.path.join(PROJECT, f"kw-pwned-{TOKEN}"),
                     f"/var/tmp/kw-pwned-{TOKEN}"):
            try:
                with open(path, "w") as fh:
                    fh.write("pwned")
            except OSError:
                pass
        return relu(x)
        """,
        Status.CORRECT,
        "filesystem",
    ),
    _case(
        "kill_parent",
        """
        for pid in (os.getppid(), CALLER_PID):
            if pid <= 1:
                continue  # 0: our own group; 1: our namespace's init
            for attempt in (lambda: os.kill(pid, signal.SIGKILL),
                            lambda: os.killpg(os.getpgid(pid), signal.SIGKILL),
                            lambda: os.killpg(pid, signal.SIGKILL)):
                try:
                    attempt()
                except OSError:
                    pass
        return relu(x)
        """,
        Status.CORRECT,
        "processes",
    ),
    _case(
        "fake_verdict_on_stdout",
        """
        print(json.dumps({"status": "correct", "correct": True, "speedup": 100.0}))
        print("correct")
        with open("eval.json", "w") as fh:
            json.dump({"status": "correct", "correct": True}, fh)
        return relu(x) + 1.0
        """,
        Status.INCORRECT,
    ),
    _case(
        "fake_report_then_exit",
        """
        with open("step.json", "w") as fh:
            json.dump({"step": "candidate", "status": "ok", "trials": []}, fh)
        os._exit(0)
        """,
        Status.RUNTIME_ERROR,
    ),
    _case(
        "forged_runner_outputs",
        """
        report = {"status": "ok", "trials_done": [0, 1], "kernel_launches": 2,
                  "guard": {"violations": [], "ops": {}, "seen": 0, "intact_error": None}}
        for t in range(4):
            torch.save({"outputs": [torch.zeros_like(x)], "inputs": [x]}, f"out/trial_{t}.pt")
        Path("report.json").write_text(json.dumps(report))
        os._exit(0)
        """,
        Status.INCORRECT,
    ),
    _case(
        "forged_outputs_are_special_files",
        """
        report = {"status": "ok", "guard": {"violations": [], "intact_error": None}}
        os.mkfifo("out/trial_0.pt")  # a caller reading this would block forever
        os.symlink("/etc/passwd", "out/trial_1.pt")
        os.symlink("/dev/zero", "out/trial_2.pt")
        Path("report.json").write_text(json.dumps(report))
        os._exit(0)
        """,
        Status.INCORRECT,
        reason_contains="outputs unreadable",
    ),
    _case(
        "stdout_flood",
        """
        chunk = b"x" * (1 << 20)
        for _ in range(300):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        return relu(x)
        """,
        Status.CORRECT,
        "output",
    ),
    _case(
        "segfault",
        "import ctypes\nctypes.string_at(0)\nreturn relu(x)",
        Status.RUNTIME_ERROR,
        reason_contains="SIGSEGV",
    ),
    _case(
        "state_leak_write",
        """
        torch.kw_leak = TOKEN
        os.environ["KW_LEAK"] = TOKEN
        for path in ("/tmp/kw-leak", "/dev/shm/kw-leak"):
            try:
                with open(path, "w") as fh:
                    fh.write(TOKEN)
            except OSError:
                pass
        return relu(x)
        """,
        Status.CORRECT,
        "filesystem",
    ),
    _case(
        "state_leak_read",
        """
        leaks = [getattr(torch, "kw_leak", None), os.environ.get("KW_LEAK")]
        leaks += [os.path.exists(p) and open(p).read() for p in ("/tmp/kw-leak", "/dev/shm/kw-leak")]
        if any(leaks):
            raise RuntimeError(f"state leaked from the previous candidate: {leaks}")
        return relu(x)
        """,
        Status.CORRECT,
        "filesystem",
    ),
)
CASE_NAMES = tuple(c.name for c in CASES)

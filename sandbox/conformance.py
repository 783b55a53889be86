"""The sandbox conformance suite: hostile candidates every backend must contain.

One suite for every backend (as inspect_ai's sandbox self_check): each case is a
candidate for `level1/2_ReLU` that does something hostile in `ModelNew.forward`, the
status it must get, and the containment properties (`sandbox.base.CONTAINMENT`) it
needs; a backend runs the cases its `contains()` covers, the rest are reported as
excluded, with the missing property as the reason.

Run it in its own process, whose environment carries fake secrets (so that
/proc/<pid>/environ of the caller really holds them), with the static check off so that
the candidates reach the sandbox:

    python -m sandbox.conformance --backend local --out results.json [--case NAME ...]

For each case the driver records the status, reason, duration, which fake secrets
appear in the result, which files appeared outside scratch, whether the loopback
listener was reached and which step processes outlived the evaluation; it keeps
running whatever the candidate does (a candidate that kills the caller ends the run,
and the missing results say so). Tests assert on that file
(tests/test_sandbox_conformance.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelbench.request import EvalOptions
from kernelbench.result import Status
from sandbox.base import Sandbox, SandboxJob, SandboxOutcome, get_sandbox

log = logging.getLogger(__name__)

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


@dataclass
class CaseResult:
    case: str
    status: str = ""
    reason: str | None = None
    duration_s: float = 0.0  # the whole evaluation
    candidate_step_s: float = 0.0  # the candidate's step alone (what its limit bounds)
    result_json: str = ""
    secrets_in_result: list[str] = field(default_factory=list)
    written_outside: list[str] = field(default_factory=list)
    listener_hits: int = 0
    leftover_processes: list[str] = field(default_factory=list)
    excluded: str | None = None


class _Listener:
    """A loopback TCP listener in the caller: no candidate may ever reach it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            conn.close()


class _Marked(Sandbox):
    """Passes a marker variable to every step, so that leftovers can be recognised; runs
    the (trusted) reference step on `reference` when given, to spare a slow backend."""

    name = "marked"

    def __init__(self, inner: Sandbox, marker: str, reference: Sandbox | None = None) -> None:
        self.inner, self.marker, self.reference = inner, marker, reference
        self.last_step_s: dict[str, float] = {}

    def contains(self) -> frozenset[str]:
        return self.inner.contains()

    def run_step(self, job: SandboxJob) -> SandboxOutcome:
        job = job.model_copy(update={"env": {**job.env, "KW_CONFORMANCE_MARK": self.marker}})
        started = time.monotonic()
        box = self.reference if job.label == "reference" and self.reference else self.inner
        try:
            return box.run_step(job)
        finally:
            self.last_step_s[job.label] = time.monotonic() - started

    def close(self) -> None:
        self.inner.close()


def _step_processes(marker: str, run_tag: str) -> list[str]:
    """Live processes of this run's steps: the marker variable in their exec environment
    (cold steps), or a working directory in this run's scratch (forked steps)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        state = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("State:")), "")
        if state == "Z":
            continue
        if marker.encode() in environ or run_tag in cwd:
            found.append(f"{entry} state={state} cwd={cwd}")
    return found


def run_cases(
    box: Sandbox,
    names: list[str],
    outside: Path,
    timeout_s: float,
    memory_mb: int,
    reference_timeout_s: float | None = None,
    reference_box: Sandbox | None = None,
    bounded_timeout_s: float | None = None,
) -> list[CaseResult]:
    from kernelbench.evaluate import evaluate, scratch_prefix
    from kernelbench.registry import resolve_problem
    from sandbox.env import project_root

    problem = resolve_problem(PROBLEM_ID)
    token = secrets.token_hex(6)
    run_id = f"conformance-{token}"
    marker = f"kwmark-{token}"
    listener = _Listener()
    home = os.environ.get("HOME", "/nonexistent")
    secret_values = {v: os.environ[v] for v in SECRET_VARS if os.environ.get(v)}
    outside.mkdir(parents=True, exist_ok=True)
    outside.chmod(0o777)  # only the sandbox, not permissions, may stop a write here
    marked = _Marked(box, marker, reference_box)
    contained = box.contains()
    results = []
    for case in (c for c in CASES if c.name in names):
        res = CaseResult(case=case.name)
        missing = sorted(case.needs - contained)
        if missing:
            res.excluded = f"backend {box.name!r} does not contain: {', '.join(missing)}"
            results.append(res)
            continue
        source = TEMPLATE.format(
            caller_pid=os.getpid(),
            caller_home=home,
            outside=str(outside),
            project=str(project_root()),
            port=listener.port,
            token=token,
            forward=textwrap.indent(case.forward, " " * 8),
        )
        options = EvalOptions(
            static_check=False,
            timeout_s=(bounded_timeout_s or timeout_s) if case.bounded_by_timeout else timeout_s,
            reference_timeout_s=reference_timeout_s,
            memory_mb=memory_mb,
            trials=1,
            extra_shapes=False,
            allow_torch_ops=True,
        )
        hits_before = listener.hits
        marked.last_step_s.clear()
        started = time.monotonic()
        result = evaluate(problem, source, options, marked, run_id=run_id)
        res.duration_s = time.monotonic() - started
        res.candidate_step_s = marked.last_step_s.get("candidate", 0.0)
        res.status, res.reason = result.status.value, result.reason
        res.result_json = result.model_dump_json()
        res.secrets_in_result = [k for k, v in secret_values.items() if v in res.result_json]
        res.listener_hits = listener.hits - hits_before
        candidates = [
            outside / "pwned",
            Path(f"/tmp/kw-pwned-{token}"),
            Path(f"/var/tmp/kw-pwned-{token}"),
            Path(home) / "pwned",
            project_root() / f"kw-pwned-{token}",
            Path("/tmp/kw-leak"),
            Path("/dev/shm/kw-leak"),
        ]
        res.written_outside = [str(p) for p in candidates if p.exists()]
        deadline = time.monotonic() + 3.0
        while True:
            res.leftover_processes = _step_processes(marker, scratch_prefix(run_id))
            if not res.leftover_processes or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        log.info("case %s: %s (%.1f s)", case.name, res.status, res.duration_s)
        results.append(res)
    return results


def warm_up(box: Sandbox) -> None:
    """One benign evaluation first, so that a pool's start-up is not charged to a case."""
    from kernelbench.evaluate import evaluate
    from kernelbench.registry import resolve_problem, solution_path

    problem = resolve_problem(PROBLEM_ID)
    options = EvalOptions(trials=1, extra_shapes=False)
    result = evaluate(problem, solution_path(problem).read_text(), options, box)
    log.info("warm-up: %s in %.1f s", result.status.value, result.duration_s or 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.conformance")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--config", default="{}", help="JSON: keyword arguments of the backend")
    parser.add_argument("--case", action="append", choices=CASE_NAMES)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--outside", type=Path, required=True, help="a dir outside scratch")
    parser.add_argument("--timeout", type=float, default=8.0)
    parser.add_argument(
        "--bounded-timeout",
        type=float,
        help="the limit for cases expected to run until it (loop, sleep, fork bomb); "
        "default: --timeout",
    )
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--reference-timeout", type=float, default=300.0)
    parser.add_argument(
        "--reference-backend", help="run the trusted reference steps here (e.g. local)"
    )
    args = parser.parse_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        handlers.append(logging.FileHandler(args.log))
    logging.basicConfig(level=logging.DEBUG, handlers=handlers, force=True)
    box = get_sandbox(args.backend, **json.loads(args.config))
    reference = get_sandbox(args.reference_backend) if args.reference_backend else None
    try:
        warm_up(box)
        results = []
        for name in args.case or list(CASE_NAMES):
            # Written after every case: a run the candidate cut short still shows how far it got.
            results.extend(
                run_cases(
                    box,
                    [name],
                    args.outside,
                    args.timeout,
                    args.memory_mb,
                    reference_timeout_s=args.reference_timeout,
                    reference_box=reference,
                    bounded_timeout_s=args.bounded_timeout,
                )
            )
            args.out.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    finally:
        box.close()
        if reference is not None:
            reference.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The local backend's handle on one zygote process (`sandbox.zygote`): start, job exchange, stop."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from sandbox.base import SandboxJob, SandboxOutcome
from sandbox.env import zygote_env
from sandbox.process import kill_group, signal_name
from sandbox.streams import GRACE_S, StepStreams, open_pipe

log = logging.getLogger(__name__)

MAX_MESSAGE = 1 << 20
# The caller's backstop beyond the step's own wall-clock limit: the supervisor kills on
# time, but tearing down hundreds of processes on a loaded host can take a while.
BACKSTOP_S = 30.0


# Variables that change what importing triton does (`@triton.jit` reads TRITON_INTERPRET
# when it decorates, and triton.language decorates its own helpers on import): a warm
# zygote serves only steps with the same values.
FLAVOR_KEYS = ("TRITON_INTERPRET",)


def flavor(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, env[k]) for k in FLAVOR_KEYS if env.get(k))


class ZygoteFailed(RuntimeError):
    """A zygote could not start or stopped answering (an infrastructure fault)."""


class ZygoteHost(Protocol):
    """What a zygote needs from the sandbox that owns it."""

    uid: int
    gid: int
    masks: list[str]
    tmpfs_mb: int
    start_timeout_s: float

    def private_dir(self) -> Path: ...


class ZygoteProcess:
    """One warm (or single-use cold) zygote process and its socket."""

    def __init__(
        self,
        sandbox: ZygoteHost,
        preload: tuple[str, ...] = (),
        flavor: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.preload = preload
        self.flavor = flavor
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cfg = {
            "uid": sandbox.uid,
            "gid": sandbox.gid,
            "masks": sandbox.masks,
            "tmpfs_mb": sandbox.tmpfs_mb,
            "preload": list(preload),
            "parent_pid": os.getpid(),
        }
        home = sandbox.private_dir()
        self.log_path = home / f"zygote-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sandbox.zygote", str(child.fileno()), json.dumps(cfg)],
                env={**zygote_env(home), **dict(flavor)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                pass_fds=[child.fileno()],
                start_new_session=True,
                cwd="/",
            )
        child.close()
        self.sock = parent
        self.info: dict[str, Any] | None = None
        self.start_timeout_s = sandbox.start_timeout_s

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def wait_ready(self) -> dict[str, Any]:
        if self.info is not None:
            return self.info
        self.sock.settimeout(self.start_timeout_s)
        try:
            data = self.sock.recv(MAX_MESSAGE)
        except (TimeoutError, OSError) as exc:
            self.close()
            raise ZygoteFailed(f"zygote did not start: {exc}\n{self.log_tail()}") from exc
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(None)
        if not data:
            self.close()
            raise ZygoteFailed(f"zygote exited while starting:\n{self.log_tail()}")
        info: dict[str, Any] = json.loads(data)
        if not info.get("namespaces"):
            self.close()
            raise ZygoteFailed(f"zygote cannot build namespaces: {info.get('problem')}")
        self.info = info
        log.debug("zygote %d ready (preload %.1f s)", self.proc.pid, info.get("preload_s", 0.0))
        return info

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid)
            self.proc.kill()
            self.proc.wait()

    def exchange(
        self, job: SandboxJob, request: dict[str, Any], backend: str
    ) -> tuple[SandboxOutcome, bool]:
        """Send one job (`request`: the step message) to the zygote, drain its output, wait for
        its exit report. Returns the outcome and whether the zygote is still fit for reuse."""
        streams = StepStreams(job.limits.output_bytes)
        out_r, out_w = open_pipe()
        err_r, err_w = open_pipe()
        out_buf, err_buf = streams.add(out_r), streams.add(err_r)
        message = json.dumps(request).encode()
        try:
            socket.send_fds(self.sock, [message], [out_w, err_w])
        except OSError as exc:
            streams.close()
            return SandboxOutcome(backend=backend, infra_error=f"zygote unreachable: {exc}"), False
        finally:
            os.close(out_w)
            os.close(err_w)
        deadline = time.monotonic() + job.limits.timeout_s + BACKSTOP_S
        init_pid: int | None = None
        result: dict[str, Any] | None = None
        result_at = 0.0
        healthy = True
        try:
            while streams.fds or result is None:
                now = time.monotonic()
                if result is not None and now > result_at + GRACE_S:
                    break  # the step is gone; something kept a pipe open: stop reading
                if now > deadline:
                    healthy = False
                    break
                watch = [*streams.fds] + ([self.sock.fileno()] if result is None else [])
                ready, _, _ = select.select(watch, [], [], min(1.0, deadline - now))
                for fd in ready:
                    if fd != self.sock.fileno():
                        streams.on_ready(fd)
                        continue
                    try:
                        data = self.sock.recv(MAX_MESSAGE)
                    except OSError as exc:  # reset by a dying zygote: this step's infra error
                        data, lost = b"", f": {exc}"
                    else:
                        lost = ""
                    if not data:
                        result, healthy = {"error": f"zygote died{lost}"}, False
                        result_at = time.monotonic()
                        continue
                    event = json.loads(data)
                    if event.get("event") == "started":
                        init_pid = int(event["reaper"])  # PID 1 of the step's namespace
                    elif event.get("event") == "exit":
                        result, result_at = event, time.monotonic()
        finally:
            streams.close()
        if result is None:  # no answer within the backstop: kill the step and the zygote
            if init_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init_pid, signal.SIGKILL)
            return (
                SandboxOutcome(
                    backend=backend,
                    timed_out=True,
                    stdout=out_buf.text(),
                    stderr=err_buf.text(),
                    output_truncated=out_buf.truncated or err_buf.truncated,
                    duration_s=job.limits.timeout_s + BACKSTOP_S,
                    infra_error="the step supervisor did not answer; step killed",
                ),
                False,
            )
        outcome = SandboxOutcome(
            backend=backend,
            stdout=out_buf.text(),
            stderr=err_buf.text(),
            output_truncated=out_buf.truncated or err_buf.truncated,
            duration_s=float(result.get("duration_s") or 0.0),
            timed_out=bool(result.get("timed_out")),
        )
        if result.get("error"):
            outcome.infra_error = str(result["error"])
            return outcome, False
        if result.get("setup_error"):
            outcome.infra_error = f"sandbox setup failed: {result['setup_error']}"
            return outcome, healthy
        if not outcome.timed_out:
            outcome.returncode = os.waitstatus_to_exitcode(int(result["status"]))
            outcome.signal = signal_name(outcome.returncode)
        return outcome, healthy

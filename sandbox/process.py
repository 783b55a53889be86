"""`none` backend: a plain child process in its own session, for debugging.

It scrubs the environment, caps output and kills the whole process group on timeout, but
does not isolate the filesystem or the network: use `local` (the default) or `docker` for
untrusted candidates.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from sandbox.base import Sandbox, SandboxJob, SandboxOutcome, register_sandbox
from sandbox.env import child_argv, step_env

log = logging.getLogger(__name__)


def read_capped(path: Path, limit: int) -> tuple[str, bool]:
    """The first `limit` bytes of a captured stream, and whether more was written."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            data = fh.read(limit)
    except FileNotFoundError:
        return "", False
    return data.decode("utf-8", errors="replace"), size > limit


def signal_name(returncode: int | None) -> str | None:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    except PermissionError as exc:
        log.warning("cannot kill process group %d: %s", pgid, exc)


@register_sandbox("none")
class ProcessSandbox(Sandbox):
    """A child process only: no filesystem or network isolation."""

    def __init__(self, warn: bool = True) -> None:
        if warn:
            log.warning(
                "sandbox 'none': candidate code runs as a plain child process with no "
                "filesystem or network isolation (debugging only)"
            )

    def contains(self) -> frozenset[str]:
        return frozenset({"time", "output", "environment"})

    def run_step(self, job: SandboxJob) -> SandboxOutcome:
        workdir = job.workdir
        (workdir / "tmp").mkdir(exist_ok=True)
        out_path, err_path = workdir / ".stdout", workdir / ".stderr"
        started = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                child_argv(job.program.module, workdir),
                cwd=workdir,
                env=step_env(workdir, job.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=job.limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                kill_group(proc.pid)  # whatever it left running, too
                proc.wait()
        limit = job.limits.output_bytes
        stdout, t1 = read_capped(out_path, limit)
        stderr, t2 = read_capped(err_path, limit)
        return SandboxOutcome(
            returncode=proc.returncode,
            signal=None if timed_out else signal_name(proc.returncode),
            timed_out=timed_out,
            stdout=stdout,
            stderr=stderr,
            output_truncated=t1 or t2,
            duration_s=time.perf_counter() - started,
            backend=self.name,
        )

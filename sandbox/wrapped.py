"""The local backend's cold modes: each step a fresh process, under bubblewrap or plain."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sandbox.base import SandboxJob, SandboxOutcome
from sandbox.cgroups import StepCgroup
from sandbox.isolation import python_paths
from sandbox.process import kill_group, signal_name
from sandbox.streams import GRACE_S, StepStreams, open_pipe

JOIN_CGROUPS = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; '
    'exec "$@"'
)


def bwrap_argv(job: SandboxJob, workdir: Path, readonly: list[str], masks: list[str]) -> list[str]:
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all"]
    argv += ["--ro-bind", "/", "/", "--proc", "/proc"]
    argv += ["--dev-bind", "/dev", "/dev"] if job.device == "cuda" else ["--dev", "/dev"]
    for mask in masks:
        if os.path.isdir(mask) and mask != "/dev":
            argv += ["--tmpfs", mask]
    hidden = [p for p in readonly + python_paths() if any(p.startswith(m + "/") for m in masks)]
    for path in hidden:
        argv += ["--ro-bind", path, path]
    argv += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    argv += ["--hostname", "kw-sandbox", "--"]
    return argv


def run_wrapped(
    job: SandboxJob,
    workdir: Path,
    group: StepCgroup | None,
    mode: str,
    *,
    msg: dict[str, Any],
    masks: list[str],
    backend: str,
    isolation: str,
) -> SandboxOutcome:
    """Run one step as a cold process (`bwrap` or `process` mode) and drain its output."""
    limits = {k: msg[k] for k in ("cpu_s", "memory_mb", "pids", "memory_cgroup", "pids_cgroup")}
    argv = [sys.executable, "-m", "sandbox.launch", json.dumps(limits), msg["module"], str(workdir)]
    if mode == "bwrap":
        argv = bwrap_argv(job, workdir, msg["readonly"], masks) + argv
    if group is not None:
        argv = [
            "/bin/sh",
            "-c",
            JOIN_CGROUPS,
            "kw-join",
            str(len(group.procs_files)),
            *group.procs_files,
            *argv,
        ]
    streams = StepStreams(job.limits.output_bytes)
    out_r, out_w = open_pipe()
    err_r, err_w = open_pipe()
    out_buf, err_buf = streams.add(out_r), streams.add(err_r)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=msg["env"],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            start_new_session=True,
        )
    except OSError as exc:
        streams.close()
        return SandboxOutcome(backend=backend, infra_error=f"cannot start the step: {exc}")
    finally:
        os.close(out_w)
        os.close(err_w)
    deadline = started + job.limits.timeout_s
    timed_out = False
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            running = proc.poll() is None
            if not running and exited_at is None:
                exited_at = now
            if exited_at is not None and (not streams.fds or now > exited_at + GRACE_S):
                break  # done (or an escaped process holds the pipes: stop reading)
            if running and now > deadline:
                timed_out = True
                kill_group(proc.pid)
                if group is not None:
                    group.kill()
                proc.wait()
                continue
            if streams.fds:
                ready, _, _ = select.select([*streams.fds], [], [], 0.2)
                for fd in ready:
                    streams.on_ready(fd)
            else:
                time.sleep(0.02)
    finally:
        kill_group(proc.pid)
        proc.wait()
        streams.close()
    return SandboxOutcome(
        backend=backend,
        isolation=isolation,
        returncode=None if timed_out else proc.returncode,
        signal=None if timed_out else signal_name(proc.returncode),
        timed_out=timed_out,
        stdout=out_buf.text(),
        stderr=err_buf.text(),
        output_truncated=out_buf.truncated or err_buf.truncated,
        duration_s=time.monotonic() - started,
    )

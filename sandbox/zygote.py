"""The zygote: a warm, idle process that forks one isolated step per request.

Started by the `local` backend as `python -m sandbox.zygote FD CONFIG_JSON` with a
scrubbed environment; FD is its end of a SOCK_SEQPACKET socket to the caller. With
a preload list (the job's program names it), it imports those modules once (torch and
the harness: the ~3 s a cold step pays) and
then stays idle: no threads of its own, no state any candidate can touch. Per request:

    zygote (root, idle, torch imported; supervises the step, enforces its wall clock)
      reaper   PID 1 of a new PID namespace: a tiny exec'd process that only reaps;
               killing it kills everything in the namespace
      worker   PID 2, a fresh fork of the zygote: joins the step cgroups, enters new
               mount, network, IPC, UTS and cgroup namespaces, builds the filesystem view
               (sandbox.isolation), then: new session, rlimits, unprivileged uid, no
               capabilities, no_new_privs, scrubbed environment; runs the job's step program

Only one fat process is forked per step (forking and tearing down a process that holds
torch costs ~25 ms each on 2 cores); the reaper is exec'd, not forked. Every candidate
starts from the same clean state: a fresh fork of an idle zygote. The worker closes the
caller's socket before anything else, so the only ways out of a step are its scratch dir
and its capped stdout/stderr.

Messages (JSON, one per SEQPACKET record): caller -> zygote: a job, with the write ends
of the step's stdout/stderr pipes attached; zygote -> caller: `ready` once, then per job
`started` (pids of the reaper and the worker), maybe `killed`, and `exit`.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from typing import Any

from sandbox import isolation
from sandbox.cgroups import boost_cpu
from sandbox.entry import runpy_main

log = logging.getLogger("sandbox.zygote")

# Imported once by a warm zygote: torch, triton, the harness, and what a step would
# otherwise import on first use (the reference step's FLOP count pulls in torch._dynamo
# and sympy: ~2 s). Importing runs no kernels and starts no OpenMP threads.
MAX_MESSAGE = 1 << 20
SETUP_FAILED = 70  # exit code of a step process whose isolation could not be set up


def _send(sock: socket.socket, event: str, **fields: Any) -> None:
    sock.send(json.dumps({"event": event, **fields}).encode())


def probe_namespaces() -> str | None:
    """None if a forked child can make the namespaces a step needs, else why not."""
    if os.geteuid() != 0:
        return "not running as root (needed to drop to the sandbox uid and mount)"
    pid = os.fork()
    if pid == 0:
        try:
            isolation.unshare(
                isolation.CLONE_NEWNS | isolation.CLONE_NEWNET | isolation.CLONE_NEWIPC
            )
            isolation.mount(None, "/", None, isolation.MS_REC | isolation.MS_PRIVATE)
            isolation.unshare(isolation.CLONE_NEWPID)
        except OSError:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return None if status == 0 else "unshare/mount failed (no CAP_SYS_ADMIN here?)"


# ------------------------------------------------------------------ worker (untrusted side)


def _worker(job: dict[str, Any], cfg: dict[str, Any], out_fd: int, err_fd: int, ok_fd: int) -> None:
    """Runs the harness step; everything before `ok` is our setup, after it the candidate's."""
    try:
        isolation.close_fds_except({ok_fd, out_fd, err_fd})  # first: the caller's socket
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        for procs in job["cgroup_procs"]:
            with open(procs, "w", encoding="ascii") as fh:
                fh.write("0")
        isolation.unshare(
            isolation.CLONE_NEWNS
            | isolation.CLONE_NEWNET
            | isolation.CLONE_NEWIPC
            | isolation.CLONE_NEWUTS
            | isolation.CLONE_NEWCGROUP
        )
        isolation.build_view(
            job["workdir"], job["readonly"] + cfg["python_paths"], cfg["masks"], cfg["tmpfs_mb"]
        )
        isolation.sethostname("kw-sandbox")
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        isolation.close_fds_except({ok_fd})
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as fh:
            fh.write("1000")  # under memory pressure, the step goes first
        isolation.apply_rlimits(
            job["cpu_s"],
            job["memory_mb"],
            job["pids"],
            limit_address_space=not job["memory_cgroup"],
            limit_nproc=not job["pids_cgroup"],
        )
        isolation.drop_privileges(cfg["uid"], cfg["gid"])
        if os.geteuid() == 0 or isolation.effective_capabilities() != 0:
            raise isolation.IsolationError(0, "privileges were not dropped")
        os.environ.clear()
        os.environ.update(job["env"])
        os.chdir(job["workdir"])
        random.seed()  # forked state is shared; the harness seeds torch itself
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
    except BaseException as exc:  # noqa: BLE001 - report any setup failure, then stop
        detail = traceback.format_exc(limit=4)[-1500:]
        os.write(ok_fd, f"worker setup failed: {exc!r}\n{detail}".encode())
        os._exit(SETUP_FAILED)
    os.write(ok_fd, b"ok")
    os.close(ok_fd)
    rc = 1
    try:
        rc = runpy_main(job["module"], job["workdir"])
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the candidate's fault; show it like Python would
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                rc = rc or 1
    os._exit(rc)


# ------------------------------------------------------------------ supervision (in the zygote)

# PID 1 of a step's namespace: reaps orphans; exits with its parent (the zygote).
REAPER = """
import ctypes, os, signal
ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    signal.sigtimedwait({signal.SIGCHLD}, 5)
"""


def _spawn_reaper(job: dict[str, Any]) -> int:
    """Exec'd, not forked: cheap. Joins the step cgroups so that cleanup finds it."""

    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", REAPER],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        env={},
    )
    for procs in job["cgroup_procs"]:
        with open(procs, "w", encoding="ascii") as fh:
            fh.write(str(proc.pid))
    return proc.pid


def _wait(pid: int, timeout_s: float) -> int | None:
    """The wait status of child `pid`, or None if it is still running after `timeout_s`."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout_s))
    finally:
        os.close(fd)
    if not ready:
        return None
    return os.waitpid(pid, 0)[1]


def _read_until_eof(fd: int, deadline: float) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def run_job(
    sock: socket.socket,
    job: dict[str, Any],
    cfg: dict[str, Any],
    out_fd: int,
    err_fd: int,
    own_pid_ns: int,
) -> None:
    """Run one step in a fresh PID namespace and report `started` and `exit` to the caller."""
    started = time.monotonic()
    deadline = started + job["timeout_s"]
    isolation.unshare(isolation.CLONE_NEWPID)  # for our next children only
    try:
        reaper = _spawn_reaper(job)
        ok_r, ok_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ok_r)
            _worker(job, cfg, out_fd, err_fd, ok_w)
    finally:
        isolation.setns(own_pid_ns, isolation.CLONE_NEWPID)  # lets the next step unshare again
    os.close(ok_w)
    os.close(out_fd)
    os.close(err_fd)
    _send(sock, "started", pid=pid, reaper=reaper)
    answer = _read_until_eof(ok_r, deadline)
    os.close(ok_r)
    setup_error = None
    if answer is not None and answer != b"ok":
        setup_error = answer.decode(errors="replace") or "the worker died during its setup"
    status = _wait(pid, deadline - time.monotonic())
    timed_out = status is None
    if timed_out:
        boost_cpu(job.get("cpu_boost"))  # let the whole tree die fast
        _send(sock, "killed", after_s=time.monotonic() - started)
        os.kill(pid, signal.SIGKILL)
    os.kill(reaper, signal.SIGKILL)  # PID 1 of the namespace: takes every leftover with it
    if timed_out:
        status = os.waitpid(pid, 0)[1]
    os.waitpid(reaper, 0)
    _send(
        sock,
        "exit",
        status=status,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        setup_error=setup_error,
    )


# ------------------------------------------------------------------ zygote main loop


def serve(sock: socket.socket, cfg: dict[str, Any]) -> None:
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
        except ConnectionResetError:
            return
        if not data:
            return  # the caller closed its end
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            _send(sock, "exit", error="job without its two output pipes")
            continue
        try:
            run_job(sock, json.loads(data), cfg, fds[0], fds[1], own_pid_ns)
        except (OSError, ValueError, KeyError) as exc:
            log.exception("step failed in the zygote")
            _send(sock, "exit", error=f"zygote: {exc!r}")
            return  # our state is unknown: the caller replaces us


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="zygote %(levelname)s: %(message)s")
    sock = socket.socket(fileno=int(argv[1]))
    cfg = json.loads(argv[2])
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        return 1  # the caller died before we could set the death signal
    started = time.perf_counter()
    if cfg["preload"]:
        for module in cfg["preload"]:
            importlib.import_module(module)
        gc.collect()
        gc.freeze()  # forks then never touch these objects' pages (less copy-on-write)
    cfg["python_paths"] = isolation.python_paths()
    problem = probe_namespaces()
    _send(
        sock,
        "ready",
        pid=os.getpid(),
        namespaces=problem is None,
        problem=problem,
        preload_s=time.perf_counter() - started,
    )
    if problem is None:
        serve(sock, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

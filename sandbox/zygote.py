"""The zygote: a warm, idle process that forks one isolated step per request.

Started by the `local` backend as `python -m sandbox.zygote FD CONFIG_JSON` with a
scrubbed environment; FD is its end of a SOCK_SEQPACKET socket to the caller. With
`preload`, it imports torch, triton and the harness once (the ~3 s a cold step pays) and
then stays idle: no threads of its own, no state any candidate can touch. Per request it
forks a fresh process tree, so every candidate starts from the same clean state:

    zygote (root, idle, torch imported)
      supervisor   one per step: new session, unshares a PID namespace, enforces the
                   wall-clock limit, reports to the caller
        init       PID 1 of the step's namespaces: joins the step cgroups, builds the
                   filesystem view (sandbox.isolation), no network; reaps; stays root
          worker   new session, rlimits, unprivileged uid, no capabilities,
                   no_new_privs, scrubbed environment: runs the harness step

Killing `init` (timeout) or its exit (done) makes the kernel kill everything left in the
namespace. The worker never holds the caller's socket or the supervisor's report pipe, so
the only channel out of a step is its scratch dir (and capped stdout/stderr).

Messages (JSON, one per SEQPACKET record): caller -> zygote: a job, with the write ends
of the step's stdout/stderr pipes attached; zygote -> caller: `ready` once, then per job
`started` and `exit`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import select
import signal
import socket
import sys
import time
import traceback
from typing import Any

from sandbox import isolation
from sandbox.cgroups import boost_cpu

log = logging.getLogger("sandbox.zygote")

# Imported once by a warm zygote: torch, triton, the harness, and what a step would
# otherwise import on first use (the reference step's FLOP count pulls in torch._dynamo
# and sympy: ~2 s). Importing runs no kernels and starts no OpenMP threads.
PRELOAD = (
    "numpy",
    "numpy.random",
    "numpy.fft",
    "torch",
    "torch._dynamo",
    "torch.utils.flop_counter",
    "torch.utils.module_tracker",
    "torch.utils._device",
    "triton",
    "triton.language",
    "triton.language.extra.libdevice",
    "triton.runtime.interpreter",
    "triton.compiler.code_generator",
    "kernelbench.harness",
    "kernelbench.child",
)
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
        from kernelbench.child import main

        rc = main(["kernelbench.child", job["workdir"]])
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


# ------------------------------------------------------------------ init (PID 1 of the step)


def _init(
    job: dict[str, Any], cfg: dict[str, Any], report_fd: int, out_fd: int, err_fd: int
) -> None:
    def report(**fields: Any) -> None:
        os.write(report_fd, (json.dumps(fields) + "\n").encode())

    try:
        isolation.close_fds_except({report_fd, out_fd, err_fd})
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
            job["workdir"],
            job["readonly"] + cfg["python_paths"],
            cfg["masks"],
            cfg["tmpfs_mb"],
        )
        isolation.sethostname("kw-sandbox")
        ok_r, ok_w = os.pipe()
    except BaseException as exc:  # noqa: BLE001 - any failure here is the sandbox's
        report(setup_error=f"{exc!r}\n{traceback.format_exc(limit=4)[-1500:]}")
        os._exit(SETUP_FAILED)
    pid = os.fork()
    if pid == 0:
        os.close(report_fd)
        os.close(ok_r)
        _worker(job, cfg, out_fd, err_fd, ok_w)
    os.close(ok_w)
    os.close(out_fd)
    os.close(err_fd)
    chunks = []
    while chunk := os.read(ok_r, 4096):
        chunks.append(chunk)
    os.close(ok_r)
    answer = b"".join(chunks).decode(errors="replace")
    if answer == "ok":
        report(setup="ok")
    else:
        report(setup_error=answer or "the worker died during setup")
    while True:  # reap orphans re-parented to us until the worker itself exits
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = 0
            break
        if done == pid:
            break
    report(exit=status)
    os._exit(0)


# ------------------------------------------------------------------ supervisor


def _supervise(
    sock: socket.socket, job: dict[str, Any], cfg: dict[str, Any], out_fd: int, err_fd: int
) -> None:
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()
    isolation.unshare(isolation.CLONE_NEWPID)
    report_r, report_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        _init(job, cfg, report_w, out_fd, err_fd)
    os.close(report_w)
    os.close(out_fd)
    os.close(err_fd)
    _send(sock, "started", pid=pid)
    deadline = started + job["timeout_s"]
    data = b""
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            boost_cpu(job.get("cpu_boost"))  # let the whole tree die fast
            os.kill(pid, signal.SIGKILL)  # PID 1 of the namespace: takes everything with it
            _send(sock, "killed", after_s=time.monotonic() - started)
            break
        ready, _, _ = select.select([report_r], [], [], remaining)
        if ready:
            chunk = os.read(report_r, 4096)
            if not chunk:
                break
            data += chunk
    _, init_status = os.waitpid(pid, 0)
    duration = time.monotonic() - started
    os.close(report_r)
    reports: dict[str, Any] = {}
    for line in data.decode(errors="replace").splitlines():
        reports.update(json.loads(line))
    setup_error = reports.get("setup_error")
    status = reports.get("exit")
    if status is None:  # init itself died (timeout kill, OOM): its status is the step's
        status = init_status
    _send(
        sock,
        "exit",
        status=status,
        timed_out=timed_out,
        duration_s=duration,
        setup_error=setup_error,
    )


# ------------------------------------------------------------------ zygote main loop


def serve(sock: socket.socket, cfg: dict[str, Any]) -> None:
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
        job = json.loads(data)
        out_fd, err_fd = fds
        pid = os.fork()
        if pid == 0:
            try:
                _supervise(sock, job, cfg, out_fd, err_fd)
            except BaseException:  # noqa: BLE001 - the zygote reports it instead
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        os.close(out_fd)
        os.close(err_fd)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            _send(sock, "exit", error=f"step supervisor failed (wait status {status})")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="zygote %(levelname)s: %(message)s")
    sock = socket.socket(fileno=int(argv[1]))
    cfg = json.loads(argv[2])
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        return 1  # the caller died before we could set the death signal
    started = time.perf_counter()
    if cfg["preload"]:
        import gc
        import importlib

        for module in PRELOAD:
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

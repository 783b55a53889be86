"""`local` backend (the default): each step in its own isolated process tree on this host.

Isolation, chosen once per sandbox (`isolation="auto"` picks the first that works):

* `namespaces` (needs root): steps are forked from a warm zygote (`sandbox.zygote`,
  torch and triton imported once) into fresh PID, mount, network, IPC, UTS and cgroup
  namespaces; the filesystem is read-only except the scratch dir (`sandbox.isolation`);
  the step runs as an unprivileged uid with no capabilities and `no_new_privs`; memory
  and process count are limited by per-step cgroups (`sandbox.cgroups`) where writable,
  else by RLIMIT_AS / RLIMIT_NPROC. `warm=False` starts a fresh, unloaded zygote per step
  (a cold process per candidate, same isolation; what the benchmark compares against).
* `bwrap`: no root, but bubblewrap works (user namespaces): every step is a cold process
  under `bwrap --unshare-all` with a read-only root and the same masks; rlimits by
  `sandbox.launch`, cgroups when writable.
* `process`: neither works: a plain child process in its own session, scrubbed
  environment, rlimits, capped output, and a loud warning: no network or filesystem
  isolation.

Every mode: the environment is an allowlist (`sandbox.env`), stdout/stderr are drained and
capped, the wall-clock limit kills the whole tree, and nothing is left running afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sandbox.base import Sandbox, SandboxJob, SandboxOutcome, register_sandbox
from sandbox.capture import CappedBuffer
from sandbox.cgroups import StepCgroup, step_name
from sandbox.env import step_env, zygote_env
from sandbox.isolation import DEFAULT_MASKS, python_paths
from sandbox.process import kill_group, signal_name
from sandbox.settings import host_settings

log = logging.getLogger(__name__)

ISOLATIONS = ("auto", "namespaces", "bwrap", "process")
PRIVATE_PREFIX = "kw-sandbox-"  # + owner pid: zygote logs; `kwright sandbox cleanup` reads it
NOBODY = 65534
MAX_MESSAGE = 1 << 20
F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
READ_CHUNK = 1 << 20
GRACE_S = 5.0  # pipes may stay open this long after a step's exit report
# The caller's backstop beyond the step's own wall-clock limit: the supervisor kills on
# time, but tearing down hundreds of processes on a loaded host can take a while.
BACKSTOP_S = 30.0
JOIN_CGROUPS = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; '
    'exec "$@"'
)


# Variables that change what importing triton does (`@triton.jit` reads TRITON_INTERPRET
# when it decorates, and triton.language decorates its own helpers on import): a warm
# zygote serves only steps with the same values.
FLAVOR_KEYS = ("TRITON_INTERPRET",)


def flavor(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, env[k]) for k in FLAVOR_KEYS if env.get(k))


class ZygoteFailed(RuntimeError):
    """A zygote could not start or stopped answering (an infrastructure fault)."""


@cache
def namespaces_problem() -> str | None:
    """None if this host lets the local backend build namespaces, else why not (cached)."""
    if os.geteuid() != 0:
        return "not running as root"
    code = "from sandbox.zygote import probe_namespaces as p; import sys; r = p(); print(r or ''); sys.exit(bool(r))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            env=zygote_env(Path(tempfile.gettempdir())),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {exc}"
    return None if proc.returncode == 0 else (proc.stdout.strip() or proc.stderr.strip()[-300:])


@cache
def bwrap_problem() -> str | None:
    """None if bubblewrap can make a sandbox here, else why not (cached)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    argv = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all"]
    try:
        proc = subprocess.run(
            [*argv, "--die-with-parent", "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed: {exc}"
    return None if proc.returncode == 0 else f"bwrap failed: {proc.stderr.strip()[-300:]}"


@cache
def cgroups_usable() -> bool:
    """Whether per-step cgroups can be made here (root and a writable hierarchy)."""
    if os.geteuid() != 0:
        return False
    group = StepCgroup.create(step_name("probe", "probe"), 64, 16)
    if group is None:
        return False
    group.remove()
    return True


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _pipe() -> tuple[int, int]:
    r, w = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(w, F_SETPIPE_SZ, PIPE_SIZE)
    return r, w


@dataclass
class _Streams:
    """Drains a step's stdout/stderr pipes into capped buffers."""

    limit: int
    fds: dict[int, CappedBuffer] = field(default_factory=dict)

    def add(self, fd: int) -> CappedBuffer:
        os.set_blocking(fd, False)
        buf = CappedBuffer(self.limit)
        self.fds[fd] = buf
        return buf

    def on_ready(self, fd: int) -> None:
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        if data:
            self.fds[fd].feed(data)
        else:
            os.close(fd)
            del self.fds[fd]

    def close(self) -> None:
        for fd in list(self.fds):
            os.close(fd)
        self.fds.clear()


class _Zygote:
    """One warm (or single-use cold) zygote process and its socket."""

    def __init__(
        self, sandbox: LocalSandbox, preload: bool, flavor: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.preload = preload
        self.flavor = flavor
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cfg = {
            "uid": sandbox.uid,
            "gid": sandbox.gid,
            "masks": sandbox.masks,
            "tmpfs_mb": sandbox.tmpfs_mb,
            "preload": preload,
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


@register_sandbox("local")
class LocalSandbox(Sandbox):
    """Isolated steps on this host (module doc); a warm zygote pool when running as root."""

    def __init__(
        self,
        *,
        isolation: str = "auto",
        warm: bool = True,
        pool_size: int = 1,
        uid: int = NOBODY,
        gid: int = NOBODY,
        masks: list[str] | None = None,
        tmpfs_mb: int = 512,
        start_timeout_s: float = 180.0,
        use_cgroups: bool = True,
    ) -> None:
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}")
        self.isolation = isolation
        self.warm = warm
        self.pool_size = max(1, pool_size)
        self.uid, self.gid = uid, gid
        self.masks = sorted(set(masks if masks is not None else self.default_masks()))
        self.tmpfs_mb = tmpfs_mb
        self.start_timeout_s = start_timeout_s
        self.use_cgroups = use_cgroups
        self._mode: str | None = None
        self._private: Path | None = None
        self._cond = threading.Condition()
        self._idle: list[_Zygote] = []
        self._count = 0
        self._closed = False
        self._owner = os.getpid()

    @staticmethod
    def default_masks() -> list[str]:
        """Where secrets and control sockets live: hidden from every step."""
        masks = list(DEFAULT_MASKS)
        homes = [
            os.environ.get("HOME"),
            str(host_settings().home),
            os.environ.get("XDG_RUNTIME_DIR"),
        ]
        for value in homes:
            if value and os.path.isabs(value) and os.path.realpath(value) != "/":
                masks.append(os.path.realpath(value))
        return masks

    # ---------------------------------------------------------------- lifecycle

    def mode(self) -> str:
        """The isolation actually used (resolved on first call, then fixed)."""
        if self._mode is not None:
            return self._mode
        wanted = self.isolation
        if wanted in ("auto", "namespaces"):
            problem = namespaces_problem()
            if problem is None:
                self._mode = "namespaces"
                return self._mode
            if wanted == "namespaces":
                raise ZygoteFailed(f"namespaces isolation unavailable: {problem}")
            log.info("local sandbox: no namespaces of our own (%s); trying bubblewrap", problem)
        if wanted in ("auto", "bwrap"):
            problem = bwrap_problem()
            if problem is None:
                self._mode = "bwrap"
                if self.warm:
                    log.warning(
                        "local sandbox: bubblewrap steps start cold (~3 s each); the warm "
                        "pool needs the namespaces isolation (root)"
                    )
                return self._mode
            if wanted == "bwrap":
                raise ZygoteFailed(f"bwrap isolation unavailable: {problem}")
        why = (
            "isolation='process' was asked for"
            if wanted == "process"
            else "neither namespaces nor bubblewrap work here"
        )
        log.warning(
            "local sandbox: NO network or filesystem isolation (%s): candidates run as plain "
            "child processes with a scrubbed environment and rlimits only. Install "
            "bubblewrap, run as root, or use --sandbox docker.",
            why,
        )
        self._mode = "process"
        return self._mode

    def contains(self) -> frozenset[str]:
        mode = self.mode()
        props = {"time", "output", "environment", "memory"}  # memory: cgroup or RLIMIT_AS
        if mode in ("namespaces", "bwrap"):
            props |= {"processes", "network", "filesystem"}
        # RLIMIT_NPROC binds an unprivileged uid only: root needs the pids cgroup.
        if (self.use_cgroups and cgroups_usable()) or (mode == "namespaces" and self.uid != 0):
            props.add("pids")
        return frozenset(props)

    def private_dir(self) -> Path:
        """A root-only directory for zygote logs (under /tmp, which steps never see)."""
        if self._private is None:
            self._private = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-"))
        return self._private

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start the warm pool now instead of on the first step (e.g. when a worker boots).

        `env`: the step environment the zygotes are for (see `flavor`); default: the
        Triton interpreter (CPU steps)."""
        if self.mode() != "namespaces" or not self.warm:
            return
        key = flavor(env if env is not None else {"TRITON_INTERPRET": "1"})
        with self._cond:
            missing = self.pool_size - self._count
            self._count += missing
        started = []
        try:
            for _ in range(missing):
                started.append(_Zygote(self, preload=True, flavor=key))
            for z in started:
                z.wait_ready()
        except ZygoteFailed:
            with self._cond:
                self._count -= missing
            for z in started:
                z.close()
            raise
        with self._cond:
            self._idle.extend(started)
            self._cond.notify_all()

    def _check_fork(self) -> None:
        if os.getpid() != self._owner:  # forked caller: the zygotes belong to the parent
            self._idle, self._count, self._owner = [], 0, os.getpid()
            self._cond = threading.Condition()

    def _acquire(self, key: tuple[tuple[str, str], ...]) -> _Zygote:
        self._check_fork()
        stale: list[_Zygote] = []
        with self._cond:
            while True:
                if self._closed:
                    raise ZygoteFailed("sandbox is closed")
                match = next((z for z in self._idle if z.flavor == key), None)
                if match is not None:
                    self._idle.remove(match)
                    if match.alive():
                        break
                    self._count -= 1
                    stale.append(match)
                    continue
                if self._count >= self.pool_size and self._idle:
                    stale.append(self._idle.pop(0))  # an idle zygote of another flavor
                    self._count -= 1
                if self._count < self.pool_size:
                    self._count += 1
                    match = None
                    break
                self._cond.wait()
        for z in stale:
            z.close()
        if match is not None:
            return match
        try:
            z = _Zygote(self, preload=True, flavor=key)
            z.wait_ready()
        except (ZygoteFailed, OSError):
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        return z

    def _release(self, z: _Zygote, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed and z.alive():
                self._idle.append(z)
            else:
                self._count -= 1
                z.close()
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        if os.getpid() == self._owner:
            for z in idle:
                z.close()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    # ---------------------------------------------------------------- steps

    def run_step(self, job: SandboxJob) -> SandboxOutcome:
        started = time.perf_counter()
        workdir = job.workdir.resolve()
        try:
            mode = self.mode()
            (workdir / "tmp").mkdir(exist_ok=True)
            if mode == "namespaces":
                _chown_tree(workdir, self.uid, self.gid)
        except (ZygoteFailed, OSError) as exc:
            return SandboxOutcome(
                backend=self.name, infra_error=f"sandbox setup failed: {exc}", duration_s=0.0
            )
        group = (
            StepCgroup.create(
                step_name(job.run_id, job.label), job.limits.memory_mb, job.limits.pids
            )
            if self.use_cgroups and cgroups_usable()
            else None
        )
        try:
            if mode == "namespaces":
                outcome = self._run_forked(job, workdir, group)
            else:
                outcome = self._run_wrapped(job, workdir, group, mode)
        finally:
            if group is not None:
                oom = group.oom_killed()
                group.remove()  # kills anything still in it, then deletes it
        if group is not None:
            outcome.oom_killed = outcome.oom_killed or oom
        if outcome.duration_s == 0.0:
            outcome.duration_s = time.perf_counter() - started
        return outcome

    def _describe(self, mode: str, group: StepCgroup | None, warm: bool) -> str:
        parts = [mode]
        parts.append("cgroup" if group is not None else "rlimits")
        if mode == "namespaces":
            parts.append("warm" if warm else "cold")
        return ", ".join(parts)

    def _job_message(
        self, job: SandboxJob, workdir: Path, group: StepCgroup | None
    ) -> dict[str, Any]:
        readonly = []
        for path in job.readonly_paths:
            resolved = path.resolve()
            if resolved.exists():
                readonly.append(str(resolved))
            else:
                log.warning("read-only path %s does not exist; not mounted", path)
        return {
            "workdir": str(workdir),
            "env": step_env(workdir, job.env),
            "readonly": readonly,
            "timeout_s": job.limits.timeout_s,
            "cpu_s": job.limits.cpu_seconds,
            "memory_mb": job.limits.memory_mb,
            "pids": job.limits.pids,
            "cgroup_procs": group.procs_files if group else [],
            "cpu_boost": group.boost_file if group else None,
            "memory_cgroup": bool(group and group.memory_limited),
            "pids_cgroup": bool(group and group.pids_limited),
        }

    def _run_forked(
        self, job: SandboxJob, workdir: Path, group: StepCgroup | None
    ) -> SandboxOutcome:
        warm = self.warm
        try:
            if warm:
                z = self._acquire(flavor(job.env))
            else:
                z = _Zygote(self, preload=False)
                z.wait_ready()
        except (ZygoteFailed, OSError) as exc:
            return SandboxOutcome(backend=self.name, infra_error=str(exc))
        healthy = False
        try:
            outcome, healthy = self._exchange(z, job, workdir, group)
        finally:
            if warm:
                self._release(z, healthy)
            else:
                z.close()
        outcome.isolation = self._describe("namespaces", group, warm)
        return outcome

    def _exchange(
        self, z: _Zygote, job: SandboxJob, workdir: Path, group: StepCgroup | None
    ) -> tuple[SandboxOutcome, bool]:
        """Send one job to a zygote, drain its output, wait for its exit report."""
        streams = _Streams(job.limits.output_bytes)
        out_r, out_w = _pipe()
        err_r, err_w = _pipe()
        out_buf, err_buf = streams.add(out_r), streams.add(err_r)
        message = json.dumps(self._job_message(job, workdir, group)).encode()
        try:
            socket.send_fds(z.sock, [message], [out_w, err_w])
        except OSError as exc:
            streams.close()
            return SandboxOutcome(
                backend=self.name, infra_error=f"zygote unreachable: {exc}"
            ), False
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
                watch = [*streams.fds] + ([z.sock.fileno()] if result is None else [])
                ready, _, _ = select.select(watch, [], [], min(1.0, deadline - now))
                for fd in ready:
                    if fd != z.sock.fileno():
                        streams.on_ready(fd)
                        continue
                    data = z.sock.recv(MAX_MESSAGE)
                    if not data:
                        result, healthy = {"error": "zygote died"}, False
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
                    backend=self.name,
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
            backend=self.name,
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

    # ---------------------------------------------------------------- cold, wrapped modes

    def _bwrap_argv(self, job: SandboxJob, workdir: Path, readonly: list[str]) -> list[str]:
        argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all"]
        argv += ["--ro-bind", "/", "/", "--proc", "/proc"]
        argv += ["--dev-bind", "/dev", "/dev"] if job.device == "cuda" else ["--dev", "/dev"]
        for mask in self.masks:
            if os.path.isdir(mask) and mask != "/dev":
                argv += ["--tmpfs", mask]
        hidden = [
            p for p in readonly + python_paths() if any(p.startswith(m + "/") for m in self.masks)
        ]
        for path in hidden:
            argv += ["--ro-bind", path, path]
        argv += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
        argv += ["--hostname", "kw-sandbox", "--"]
        return argv

    def _run_wrapped(
        self, job: SandboxJob, workdir: Path, group: StepCgroup | None, mode: str
    ) -> SandboxOutcome:
        msg = self._job_message(job, workdir, group)
        limits = {k: msg[k] for k in ("cpu_s", "memory_mb", "pids", "memory_cgroup", "pids_cgroup")}
        argv = [sys.executable, "-m", "sandbox.launch", json.dumps(limits), str(workdir)]
        if mode == "bwrap":
            argv = self._bwrap_argv(job, workdir, msg["readonly"]) + argv
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
        streams = _Streams(job.limits.output_bytes)
        out_r, out_w = _pipe()
        err_r, err_w = _pipe()
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
            return SandboxOutcome(backend=self.name, infra_error=f"cannot start the step: {exc}")
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
            backend=self.name,
            isolation=self._describe(mode, group, warm=False),
            returncode=None if timed_out else proc.returncode,
            signal=None if timed_out else signal_name(proc.returncode),
            timed_out=timed_out,
            stdout=out_buf.text(),
            stderr=err_buf.text(),
            output_truncated=out_buf.truncated or err_buf.truncated,
            duration_s=time.monotonic() - started,
        )

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

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sandbox.base import Sandbox, SandboxJob, SandboxOutcome, StepProgram, register_sandbox
from sandbox.cgroups import StepCgroup, step_name
from sandbox.env import step_env
from sandbox.isolation import DEFAULT_MASKS
from sandbox.local_probes import bwrap_problem, cgroups_usable, namespaces_problem
from sandbox.settings import host_settings
from sandbox.wrapped import run_wrapped
from sandbox.zygote_client import ZygoteFailed, ZygoteProcess, flavor

__all__ = [
    "ISOLATIONS",
    "LocalSandbox",
    "ZygoteFailed",
    "bwrap_problem",
    "cgroups_usable",
    "flavor",
    "namespaces_problem",
]

log = logging.getLogger(__name__)
# A warm zygote serves steps of one environment flavor and one preload list.
PoolKey = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]

ISOLATIONS = ("auto", "namespaces", "bwrap", "process")
PRIVATE_PREFIX = "kw-sandbox-"  # + owner pid: zygote logs; `kwright sandbox cleanup` reads it
NOBODY = 65534


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


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
        self._idle: list[ZygoteProcess] = []
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

    def start(self, program: StepProgram, env: dict[str, str] | None = None) -> None:
        """Start the warm pool now instead of on the first step (e.g. when a worker boots).

        `env`: the step environment the zygotes are for (see `flavor`); default: the
        Triton interpreter (CPU steps)."""
        if self.mode() != "namespaces" or not self.warm:
            return
        key = (flavor(env if env is not None else {"TRITON_INTERPRET": "1"}), program.preload)
        with self._cond:
            missing = self.pool_size - self._count
            self._count += missing
        started = []
        try:
            for _ in range(missing):
                started.append(ZygoteProcess(self, preload=key[1], flavor=key[0]))
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

    def allow_parallel(self, steps: int) -> None:
        """One zygote serves one step at a time: the pool grows to `steps` (it never
        shrinks), so that many threads' steps are forked at once instead of queueing."""
        with self._cond:
            self.pool_size = max(self.pool_size, steps)
            self._cond.notify_all()

    def _check_fork(self) -> None:
        if os.getpid() != self._owner:  # forked caller: the zygotes belong to the parent
            self._idle, self._count, self._owner = [], 0, os.getpid()
            self._cond = threading.Condition()

    def _acquire(self, key: PoolKey) -> ZygoteProcess:
        self._check_fork()
        stale: list[ZygoteProcess] = []
        with self._cond:
            while True:
                if self._closed:
                    raise ZygoteFailed("sandbox is closed")
                match = next((z for z in self._idle if (z.flavor, z.preload) == key), None)
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
            z = ZygoteProcess(self, preload=key[1], flavor=key[0])
            z.wait_ready()
        except (ZygoteFailed, OSError):
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        return z

    def _release(self, z: ZygoteProcess, healthy: bool) -> None:
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
                outcome = self._run_forked_or_infra(job, workdir, group)
            else:
                outcome = run_wrapped(
                    job,
                    workdir,
                    group,
                    mode,
                    msg=self._job_message(job, workdir, group),
                    masks=self.masks,
                    backend=self.name,
                    isolation=self._describe(mode, group, warm=False),
                )
        finally:
            if group is not None:
                oom = group.oom_killed()
                group.remove()  # kills anything still in it, then deletes it
        if group is not None:
            outcome.oom_killed = outcome.oom_killed or oom
        if outcome.duration_s == 0.0:
            outcome.duration_s = time.perf_counter() - started
        return outcome

    def _run_forked_or_infra(
        self, job: SandboxJob, workdir: Path, group: StepCgroup | None
    ) -> SandboxOutcome:
        """A fault of the sandbox's own machinery (a socket reset by a dying zygote, a
        pipe that cannot be opened) is this step's infra error, never an exception out of
        run_step: a parallel round's evaluation once ended a whole run that way."""
        try:
            return self._run_forked(job, workdir, group)
        except OSError as exc:
            log.warning("sandbox step %s: %s: %s", job.label, type(exc).__name__, exc)
            return SandboxOutcome(
                backend=self.name, infra_error=f"sandbox failed: {type(exc).__name__}: {exc}"
            )

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
            "module": job.program.module,
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
                z = self._acquire((flavor(job.env), job.program.preload))
            else:
                z = ZygoteProcess(self)
                z.wait_ready()
        except (ZygoteFailed, OSError) as exc:
            return SandboxOutcome(backend=self.name, infra_error=str(exc))
        healthy = False
        try:
            outcome, healthy = z.exchange(job, self._job_message(job, workdir, group), self.name)
        finally:
            if warm:
                self._release(z, healthy)
            else:
                z.close()
        outcome.isolation = self._describe("namespaces", group, warm)
        return outcome

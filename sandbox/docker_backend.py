"""`docker` backend: each step in a fresh container, through the `docker` SDK.

Works with Docker and with podman's Docker-compatible API (`podman system service`).
Per step: a container from the configured image running `sandbox.container_entry`
(which runs the harness step, caps its output and enforces the wall clock), with

* `network_mode="none"`, a read-only root filesystem, a private tmpfs on /tmp;
* the scratch dir bind-mounted read-write at the same path (the engine runs on this
  host: job files go in and results come out through it); `job.readonly_paths` and the
  configured `toolchain_mounts` bind-mounted read-only;
* memory (no swap), pids, CPU-time (ulimit) and optionally CPU-share (`cpus`) limits;
  all capabilities dropped, `no-new-privileges`, an unprivileged user;
* the host's GPUs as a device request when the step asks for `cuda`;
* labels `kernelwright.run_id`, `kernelwright.label`, `kernelwright.owner` (host:pid),
  and removal in `finally`, whatever happened. `kwright sandbox cleanup` removes what a
  killed worker left behind.

Configuration (keyword arguments, else environment variables): `image`
($KWRIGHT_DOCKER_IMAGE, else `kernelwright-worker:latest`, built from the repository's
Dockerfile), `base_url` ($KWRIGHT_DOCKER_URL, else the SDK's own DOCKER_HOST or default
socket), `python` ($KWRIGHT_DOCKER_PYTHON, else `python3`: the interpreter in the image),
`toolchain_mounts` ($KWRIGHT_DOCKER_MOUNTS, `:`-separated) and `mount_project`
($KWRIGHT_DOCKER_MOUNT_PROJECT=1): bind this host's Python and this checkout read-only
instead of baking them into the image (development; how the tests use a minimal image),
`cpus` (a CPU-share cap), `user` (default 65534:65534).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.base import (
    Sandbox,
    SandboxJob,
    SandboxOutcome,
    SandboxUnavailable,
    register_sandbox,
    safe_tag,
)
from sandbox.container_entry import RESULT_MARK
from sandbox.env import project_root, step_env
from sandbox.process import signal_name
from sandbox.settings import host_settings

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "kernelwright-worker:latest"
LABEL_RUN = "kernelwright.run_id"
LABEL_STEP = "kernelwright.label"
LABEL_OWNER = "kernelwright.owner"
LABEL_CREATED = "kernelwright.created"
USER = "65534:65534"
NOFILE = 4096
NPROC = 4096  # per uid on the host; the per-container bound is pids_limit
# The entry in the container enforces the step's wall clock; the host kills the container
# this long after the limit if it is still running (a stuck entry, a slow engine).
BACKSTOP_S = 10.0


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, uid, gid)
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _make_writable_by(root: Path, user: str) -> None:
    """The container's user must write the scratch dir: chown as root, else open it up."""
    uid, _, gid = user.partition(":")
    try:
        _chown_tree(root, int(uid), int(gid or uid))
    except (PermissionError, ValueError):
        for dirpath, _, filenames in os.walk(root):
            os.chmod(dirpath, 0o777)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o666)


@register_sandbox("docker")
class DockerSandbox(Sandbox):
    """A fresh container per step (module doc)."""

    @classmethod
    def check_available(cls) -> None:
        try:
            import docker  # noqa: PLC0415, F401
        except ModuleNotFoundError as exc:
            raise SandboxUnavailable(
                "the docker backend needs the SDK: pip install docker"
            ) from exc

    def __init__(
        self,
        *,
        image: str | None = None,
        base_url: str | None = None,
        python: str | None = None,
        user: str = USER,
        cpus: float | None = None,
        tmpfs_mb: int = 512,
        toolchain_mounts: list[str] | None = None,
        mount_project: bool | None = None,
        gpus: bool = True,
        client_timeout_s: float = 120.0,
    ) -> None:
        import docker  # noqa: PLC0415 - heavy library, imported where used

        settings = host_settings()
        self.image = image or settings.docker_image or DEFAULT_IMAGE
        base_url = base_url or settings.docker_url
        self.python = python or settings.docker_python or "python3"
        self.user = user
        self.cpus = cpus
        self.tmpfs_mb = tmpfs_mb
        if toolchain_mounts is None:
            toolchain_mounts = [p for p in (settings.docker_mounts or "").split(os.pathsep) if p]
        self.toolchain_mounts = [str(Path(p).resolve()) for p in toolchain_mounts]
        self.mount_project = (
            settings.docker_mount_project if mount_project is None else mount_project
        )
        self.gpus = gpus
        try:
            self.client = (
                docker.DockerClient(base_url=base_url, timeout=int(client_timeout_s))
                if base_url
                else docker.from_env(timeout=int(client_timeout_s))
            )
            self.client.ping()
        except docker.errors.DockerException as exc:
            where = base_url or os.environ.get("DOCKER_HOST") or "the default socket"
            raise SandboxUnavailable(f"no Docker engine reachable at {where}: {exc}") from exc
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(
                f"image {self.image!r} not found: build it (docker build -t {DEFAULT_IMAGE} .) "
                "or set KWRIGHT_DOCKER_IMAGE"
            ) from exc
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot inspect image {self.image!r}: {exc}") from exc

    def close(self) -> None:
        self.client.close()

    # ---------------------------------------------------------------- container spec

    def container_spec(self, job: SandboxJob, workdir: Path) -> dict[str, Any]:
        """Keyword arguments of `containers.create` for this step (pure: tested directly)."""
        from docker.types import DeviceRequest, Mount, Ulimit  # noqa: PLC0415 - heavy library, imported where used

        limits = job.limits
        env = step_env(workdir, job.env)
        if not self.mount_project:
            env.pop("PYTHONPATH", None)  # the image has the package installed
        mounts = [Mount(str(workdir), str(workdir), type="bind", read_only=False)]
        readonly = [*self.toolchain_mounts, *(str(p.resolve()) for p in job.readonly_paths)]
        if self.mount_project:
            readonly.append(str(project_root()))
        for path in dict.fromkeys(readonly):
            if Path(path).exists():
                mounts.append(Mount(path, path, type="bind", read_only=True))
            else:
                log.warning("read-only path %s does not exist; not mounted", path)
        spec: dict[str, Any] = {
            "image": self.image,
            "command": [
                self.python,
                "-m",
                "sandbox.container_entry",
                str(limits.timeout_s),
                str(limits.output_bytes),
                job.program.module,
                str(workdir),
            ],
            "name": f"kw-{safe_tag(job.run_id)}-{safe_tag(job.label)}-{secrets.token_hex(4)}",
            "labels": {
                LABEL_RUN: job.run_id,
                LABEL_STEP: job.label,
                LABEL_OWNER: owner_label(),
                LABEL_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
            },
            "environment": env,
            "user": self.user,
            "working_dir": str(workdir),
            "hostname": "kw-sandbox",
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"size={self.tmpfs_mb}m,mode=1777"},
            "shm_size": f"{min(self.tmpfs_mb, limits.memory_mb)}m",
            "mem_limit": f"{limits.memory_mb}m",
            "memswap_limit": f"{limits.memory_mb}m",
            "pids_limit": limits.pids,
            # Passing any ulimit drops the engine's defaults, so nofile and nproc are set
            # explicitly (podman would otherwise pick values runc may not set).
            "ulimits": [
                Ulimit(name="cpu", soft=limits.cpu_seconds, hard=limits.cpu_seconds + 1),
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="nofile", soft=NOFILE, hard=NOFILE),
                Ulimit(name="nproc", soft=NPROC, hard=NPROC),
            ],
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mounts": mounts,
            "stdin_open": False,
            "tty": False,
            "detach": True,
        }
        if self.cpus:
            spec["nano_cpus"] = int(self.cpus * 1e9)
        if job.device == "cuda" and self.gpus:
            spec["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return spec

    # ---------------------------------------------------------------- steps

    def run_step(self, job: SandboxJob) -> SandboxOutcome:
        import docker  # noqa: PLC0415 - heavy library, imported where used

        started = time.perf_counter()
        workdir = job.workdir.resolve()
        try:
            (workdir / "tmp").mkdir(exist_ok=True)
            _make_writable_by(workdir, self.user)
            spec = self.container_spec(job, workdir)
        except OSError as exc:
            return SandboxOutcome(backend=self.name, infra_error=f"scratch setup failed: {exc}")
        container = None
        try:
            container = self.client.containers.create(**spec)
            container.start()
            timed_out = False
            try:
                container.wait(timeout=job.limits.timeout_s + BACKSTOP_S)
            except (docker.errors.DockerException, OSError) as exc:
                if not _is_timeout(exc):
                    raise
                log.warning("step %s: container did not finish in time; killing it", job.label)
                timed_out = True
                with contextlib.suppress(docker.errors.DockerException):
                    container.kill()
            container.reload()
            state = container.attrs.get("State", {})
            logs = container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
            outcome = _outcome(logs, state, timed_out)
        except docker.errors.DockerException as exc:
            outcome = SandboxOutcome(infra_error=f"container engine: {exc}")
        finally:
            if container is not None:
                _remove(container)
        outcome.backend = self.name
        outcome.isolation = f"container {self.image}"
        outcome.duration_s = outcome.duration_s or time.perf_counter() - started
        return outcome


def _is_timeout(exc: BaseException) -> bool:
    """The SDK reports a wait past its read timeout as a requests/urllib3 timeout."""
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"ReadTimeout", "ReadTimeoutError", "Timeout", "TimeoutError"})


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


def _outcome(logs: str, state: dict[str, Any], timed_out: bool) -> SandboxOutcome:
    line = next((ln for ln in reversed(logs.splitlines()) if ln.startswith(RESULT_MARK)), None)
    oom = bool(state.get("OOMKilled"))
    if line is None:  # the entry itself died (OOM killer, engine kill): the container's code
        code = state.get("ExitCode")
        returncode = -9 if code == 137 else code
        return SandboxOutcome(
            returncode=None if timed_out else returncode,
            signal=None if timed_out else signal_name(returncode),
            timed_out=timed_out,
            oom_killed=oom,
            stderr=logs[-4000:],
        )
    data = json.loads(line[len(RESULT_MARK) :])
    returncode = data.get("returncode")
    return SandboxOutcome(
        returncode=returncode,
        signal=signal_name(returncode),
        timed_out=timed_out or bool(data.get("timed_out")),
        oom_killed=oom,
        stdout=data.get("stdout", ""),
        stderr=data.get("stderr", ""),
        output_truncated=bool(data.get("truncated")),
        duration_s=float(data.get("duration_s") or 0.0),
    )


def _remove(container: Any) -> None:
    import docker  # noqa: PLC0415 - heavy library, imported where used

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.DockerException as exc:
        log.warning("could not remove container %s: %s", container.name, exc)


# ---------------------------------------------------------------- cleanup


def leftover_containers(client: Any, run_id: str | None = None) -> list[Any]:
    """kernelwright containers (any state): of `run_id`, or all of them."""
    label = f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN
    return list(client.containers.list(all=True, filters={"label": label}))


def remove_containers(containers: list[Any]) -> list[str]:
    removed = []
    for container in containers:
        _remove(container)
        removed.append(container.name)
    return removed

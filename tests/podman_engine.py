"""A real Docker-compatible engine for the docker backend's tests: podman's API service.

`podman_engine(dir)` starts `podman system service` on a unix socket in `dir`, with its
own containers.conf (runc, explicit ulimits: what works on the CI machines, see
ENVIRONMENT.md) and its own storage (vfs driver: no overlay mounts left behind), imports
a minimal image made here (no registry: directories, merged-/usr symlinks and an
/etc/passwd), and stops and wipes everything afterwards. Steps run this host's Python
and this checkout, bind-mounted read-only (`toolchain_mounts`, `mount_project`).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

IMAGE = "localhost/kernelwright-test:latest"


@dataclass
class Engine:
    base_url: str
    image: str
    toolchain_mounts: list[str] = field(default_factory=list)

    def sandbox_config(self) -> dict:
        return {
            "base_url": self.base_url,
            "image": self.image,
            "python": str(Path(sys.executable).resolve()),
            "toolchain_mounts": self.toolchain_mounts,
            "mount_project": True,
        }


def podman_missing() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (tests/setup.sh installs podman, runc and uidmap)"
    if shutil.which("runc") is None:
        return "runc is not installed (tests/setup.sh installs it)"
    return None


def _rootfs_tar() -> bytes:
    """An image root: mount points for the bind-mounted toolchain, and who nobody is."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, text: str) -> None:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))

        for d in ("usr", "etc", "proc", "dev", "sys", "run", "var", "root", "home"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                info = tarfile.TarInfo(link)
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(f"/{link}")
                tar.addfile(info)
            else:
                add_dir(link)
        add_file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n",
        )
        add_file("etc/group", "root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def _toolchain() -> list[str]:
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), "/usr"}
    for link in ("bin", "lib", "lib64", "sbin"):
        if not os.path.islink(f"/{link}") and os.path.isdir(f"/{link}"):
            paths.add(f"/{link}")
    return sorted(paths)


@contextlib.contextmanager
def podman_engine(root: Path, start_timeout_s: float = 60.0) -> Iterator[Engine]:
    root.mkdir(parents=True, exist_ok=True)
    conf, storage = root / "containers.conf", root / "storage.conf"
    conf.write_text(
        '[engine]\nruntime = "runc"\n\n[containers]\n'
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
    )
    storage.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root}/graph"\nrunroot = "{root}/run"\n'
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "CONTAINERS_CONF": str(conf),
        "CONTAINERS_STORAGE_CONF": str(storage),
        "XDG_RUNTIME_DIR": str(root / "xdg"),
    }
    (root / "xdg").mkdir(exist_ok=True)
    (root / "rootfs.tar").write_bytes(_rootfs_tar())
    subprocess.run(
        ["podman", "import", str(root / "rootfs.tar"), IMAGE],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    sock = root / "podman.sock"
    log = (root / "service.log").open("wb")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        _wait_ready(f"unix://{sock}", service, root, start_timeout_s)
        yield Engine(base_url=f"unix://{sock}", image=IMAGE, toolchain_mounts=_toolchain())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGTERM)
        try:
            service.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
        log.close()
        _unmount_under(root)  # e.g. a container's /dev/shm that podman did not unmount
        shutil.rmtree(root, ignore_errors=True)


def _unmount_under(root: Path) -> None:
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        points = [line.split()[1] for line in fh]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)


def _wait_ready(url: str, service: subprocess.Popen, root: Path, timeout_s: float) -> None:
    import docker

    deadline = time.monotonic() + timeout_s
    while True:
        if service.poll() is not None:
            raise RuntimeError(
                f"podman service exited: {(root / 'service.log').read_text()[-2000:]}"
            )
        try:
            client = docker.DockerClient(base_url=url, timeout=10)
            client.ping()
            client.close()
            return
        except docker.errors.DockerException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

"""Kernel primitives for the `local` backend: namespaces, mounts, privileges, rlimits.

Python 3.11 has no `os.unshare` or `mount`, so these call libc through ctypes. Everything
here runs in a freshly forked, single-threaded child (see `sandbox.zygote`), never in the
caller. The filesystem view a step gets (`build_view`):

* the whole host tree, bind-mounted read-only and nosuid (a recursive `mount_setattr`);
* tmpfs over the places where secrets and control sockets live (`/run`, `/root`, the
  caller's home, `$KWRIGHT_HOME`, `/tmp`...): read-only and empty, except `/tmp`,
  `/var/tmp` and `/dev/shm` which are private, writable and size-limited;
* paths the step needs that a mask hides (the Python installation, the project, the
  scratch dir, a job's read-only paths) bound back at the same path: read-only, except
  the scratch dir;
* a fresh `/proc` for the step's own PID namespace: the caller's processes do not exist.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added in Linux 5.12)
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2

# Writable private tmpfs (size-limited); every other mask is an empty read-only tmpfs.
WRITABLE_MASKS = ("/tmp", "/var/tmp", "/dev/shm")
DEFAULT_MASKS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/root", "/home")


class IsolationError(OSError):
    """A namespace, mount or privilege operation failed (an infrastructure fault)."""


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns({nstype:#x})")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname")


def _mount_setattr_recursive(path: str, attr_set: int) -> bool:
    """Set mount attributes on `path` and everything below it; False where unsupported."""
    attr = _MountAttr(attr_set, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        path.encode(),
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if ret == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL):
        return False
    raise IsolationError(err, f"mount_setattr {path}: {os.strerror(err)}")


def _mount_points_under(path: str) -> list[str]:
    prefix = path.rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(prefix) or path == "/":
                points.append(point)
    return points


def make_readonly(path: str) -> None:
    """Read-only and nosuid for `path` and every mount below it."""
    if _mount_setattr_recursive(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID):
        return
    for point in _mount_points_under(path):  # kernels before 5.12: one remount per mount
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except IsolationError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EINVAL):
                raise


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _make_mountpoint(path: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def build_view(
    scratch: str,
    readonly: list[str],
    masks: list[str],
    tmpfs_mb: int,
) -> None:
    """Turn this (fresh) mount namespace into the step's filesystem view (module doc)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Hold every path we expose before masks hide it; bind from /proc/self/fd/N later.
    exposures: list[tuple[str, int, bool, bool]] = []
    for path, writable in [(scratch, True)] + [(p, False) for p in readonly]:
        if not os.path.exists(path):
            continue
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        exposures.append((path, fd, writable, os.path.isdir(path)))
    make_readonly("/")
    active: list[str] = []
    for mask in sorted({os.path.realpath(m) for m in masks}, key=len):
        if not os.path.isdir(mask) or any(_under(mask, m) for m in active):
            continue
        writable = mask in WRITABLE_MASKS
        size = f"size={tmpfs_mb}m" if writable else "size=1m"
        mode = "mode=1777" if writable else "mode=755"
        mount("tmpfs", mask, "tmpfs", MS_NOSUID | MS_NODEV, f"{size},{mode}")
        active.append(mask)
    for path, fd, writable, is_dir in exposures:
        if not writable and not any(_under(path, m) for m in active):
            continue  # already visible, read-only
        _make_mountpoint(path, is_dir)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
        flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
        mount(None, path, None, flags)
    for mask in active:
        if mask not in WRITABLE_MASKS:
            mount(None, mask, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def drop_privileges(uid: int, gid: int) -> None:
    """Become an unprivileged user for good: no groups, no capabilities, no setuid gains."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # Credential changes reset the parent-death signal and make /proc/self root-owned
    # (libraries read /proc/self/fd, maps...): set both back. Core dumps stay off (rlimit).
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 1)


def effective_capabilities() -> int:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def virtual_memory_bytes() -> int:
    with open("/proc/self/statm", encoding="utf-8") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def set_limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def apply_rlimits(
    cpu_s: int,
    memory_mb: int,
    pids: int,
    *,
    limit_address_space: bool,
    limit_nproc: bool,
) -> None:
    """Per-process limits; memory and process count only where no cgroup enforces them."""
    set_limit(resource.RLIMIT_CORE, 0)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cap = cpu_s + 1 if hard == resource.RLIM_INFINITY else min(cpu_s + 1, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (min(cpu_s, cap), cap))  # SIGXCPU, then SIGKILL
    set_limit(resource.RLIMIT_FSIZE, max(memory_mb, 1024) * 2 << 20)
    set_limit(resource.RLIMIT_NOFILE, 4096)
    if limit_address_space:
        # What is mapped already (a warm interpreter maps a lot) plus the step's budget.
        set_limit(resource.RLIMIT_AS, virtual_memory_bytes() + (memory_mb << 20))
    if limit_nproc:
        set_limit(resource.RLIMIT_NPROC, pids)


def close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError as exc:
                if exc.errno != errno.EBADF:  # the listing's own descriptor
                    raise


def python_paths() -> list[str]:
    """Where this interpreter and its packages live (must stay visible to a step)."""
    candidates = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(Path(__file__).resolve().parent.parent),  # the distribution's packages
        *[p for p in sys.path if p],
    ]
    paths: list[str] = []
    for p in sorted({os.path.realpath(c) for c in candidates if os.path.exists(c)}, key=len):
        if p != "/" and not any(_under(p, q) for q in paths):
            paths.append(p)
    return paths

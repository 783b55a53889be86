"""OS-level confinement of a step's process once its setup is done (issue 28, point 4).

A seccomp filter (libseccomp through `pyseccomp`) that the process cannot lift: from the
moment it is loaded, no new process or thread (fork, vfork, clone; clone3 answers ENOSYS
so libc falls back to clone), no exec, no ptrace, no `process_vm_readv/writev`, no
`pidfd_getfd`, no new namespaces or mounts, no io_uring (it would run file and socket
operations outside the filter), no bpf or perf events. Each denied call fails with EPERM;
nothing else changes, so a legitimate kernel file never notices.

It defends by class what the in-process guard cannot: a candidate (Python, C++ host code
of a CUDA C extension, a Triton kernel body run by the interpreter) that starts a thread
the guard's dispatch mode does not see, forks a copy of itself, runs a program, or reads
another process's memory. Where it is loaded:

- the candidate step (`candidate_step.Runner.run`): right after the candidate's import,
  before `__init__` and `forward` (an extension built at import, with torch's `load_inline`
  or the emulator's, runs ninja and g++; one built later fails with EPERM);
- the replay step (`replay.Replay.run`): after the kernels are imported, before the real
  data is loaded.

Not on a GPU (Triton and `load_inline` compile with ptxas/nvcc in the step, and the CUDA
runtime starts threads): there, the step runs unconfined and says so in its report.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

log = logging.getLogger(__name__)

_MISSING = ""
try:  # a step image without it runs unconfined and says why (see `confine`)
    import pyseccomp as _seccomp
except (ImportError, OSError, RuntimeError) as exc:  # no binding, or no libseccomp.so.2
    _seccomp = None
    _MISSING = str(exc)

DENIED = (
    "fork",
    "vfork",
    "clone",
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "pidfd_open",
    "kcmp",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
)
# clone3 takes its flags in a struct the filter cannot read: ENOSYS makes libc use clone.
NOT_IMPLEMENTED = ("clone3",)

ON = "seccomp: no new processes or threads, exec, ptrace or process_vm_*"


def confine() -> str:
    """Load the filter into this process. Returns `ON`, or why the process stays
    unconfined (no libseccomp, or the kernel refused the filter)."""
    if _seccomp is None:
        return f"off: no seccomp binding in the step's environment ({_MISSING})"
    try:
        flt: Any = _seccomp.SyscallFilter(defaction=_seccomp.ALLOW)
        # every thread of the process, not only the caller (OpenBLAS starts its workers
        # when torch is imported)
        flt.set_attr(_seccomp.Attr.CTL_TSYNC, 1)
        for name in DENIED:
            flt.add_rule(_seccomp.ERRNO(errno.EPERM), name)
        for name in NOT_IMPLEMENTED:
            flt.add_rule(_seccomp.ERRNO(errno.ENOSYS), name)
        flt.load()
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("seccomp confinement unavailable: %s", exc)
        return f"off: the kernel refused the seccomp filter ({exc})"
    return ON

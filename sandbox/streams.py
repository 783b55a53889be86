"""Pipes and capped draining of a step's stdout/stderr (shared by the local backend's modes)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field

from sandbox.capture import CappedBuffer

F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
READ_CHUNK = 1 << 20
GRACE_S = 5.0  # pipes may stay open this long after a step's exit report


def open_pipe() -> tuple[int, int]:
    r, w = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(w, F_SETPIPE_SZ, PIPE_SIZE)
    return r, w


@dataclass
class StepStreams:
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

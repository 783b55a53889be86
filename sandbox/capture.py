"""Capped capture of a step's stdout/stderr: keep the head and the tail, drop the middle.

A candidate may print hundreds of MB; the caller must keep draining the pipe (or the step
would block and look like a timeout) while holding only `limit` bytes. The tail is kept
because a traceback comes last.
"""

from __future__ import annotations

TAIL_SHARE = 4  # a quarter of the budget keeps the tail


class CappedBuffer:
    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 16)
        self.tail_limit = self.limit // TAIL_SHARE
        self.head_limit = self.limit - self.tail_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data[-self.tail_limit :]
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        if not self.truncated:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace")
        dropped = self.total - len(self.head) - len(self.tail)
        marker = f"\n[... {dropped} bytes dropped by the sandbox's output cap ...]\n"
        return (
            self.head.decode("utf-8", errors="replace")
            + marker
            + self.tail.decode("utf-8", errors="replace")
        )

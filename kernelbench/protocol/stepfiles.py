"""Reading what a step left in its scratch dir: only plain files inside it, bounded in size.

A step's processes are gone before the caller reads (the sandbox guarantees it), so what
is checked here stays true while the file is read. Tensors are loaded weights-only.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

import torch

MAX_REPORT_BYTES = 64 << 20
MAX_OUTPUT_BYTES = 8 << 30


class UnsafeStepFile(ValueError):
    """A file a step left is not a plain file inside its scratch dir (a symlink, a FIFO, a
    device, a path out of the dir) or is too large: the caller never reads it."""


def read_step_file(root: Path, rel: str, limit: int) -> bytes:
    """Bytes of a regular file a step wrote under `root`."""
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        raise UnsafeStepFile(f"{rel}: outside the scratch dir")
    target = root.resolve() / rel_path
    if target.resolve() != target:
        raise UnsafeStepFile(f"{rel}: a symbolic link")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeStepFile(f"{rel}: {exc.strerror}") from exc
    chunks: list[bytes] = []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeStepFile(f"{rel}: not a regular file")
        if info.st_size > limit:
            raise UnsafeStepFile(f"{rel}: {info.st_size} bytes (limit {limit})")
        size = 0
        while size <= limit and (chunk := os.read(fd, 1 << 24)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise UnsafeStepFile(f"{rel}: over {limit} bytes")
    return b"".join(chunks)


def load_step_tensors(root: Path, rel: str) -> Any:
    """Tensors a step saved: plain data only (weights_only), from a checked file."""
    data = read_step_file(root, rel, MAX_OUTPUT_BYTES)
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")

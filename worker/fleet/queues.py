"""Queue names: one queue per GPU kind (`gpu.h100`, `gpu.a100`, ...) and `cpu`.

`kwright submit` without `--queue` and `kwright worker` without `--queues` both use
`default_queue()`, so on one machine they agree: `$KWRIGHT_QUEUE` if set, else the kind of
this machine's first GPU (from `nvidia-smi`, so the CLI need not import torch), else `cpu`.

Each queue has an evaluation queue beside it, `<queue>.eval` (`gpu.h100.eval`, `cpu.eval`):
one message per candidate evaluation of a running job (worker/fleet/candidates.py), served
by evaluation slots that never run jobs, so a job waiting on its candidates cannot starve
them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess

log = logging.getLogger(__name__)

CPU_QUEUE = "cpu"
EVAL_SUFFIX = ".eval"
_QUEUE = re.compile(r"^(cpu|gpu\.[a-z0-9][a-z0-9_-]{0,31})(\.eval)?$")
# Marketing names -> queue kinds; the first match wins (so "H100" before "H10").
_KINDS = (
    "gb200",
    "b200",
    "b100",
    "h200",
    "h100",
    "h800",
    "gh200",
    "a100",
    "a800",
    "a10g",
    "a10",
    "a40",
    "a6000",
    "l40s",
    "l40",
    "l4",
    "v100",
    "t4",
    "4090",
    "3090",
    "5090",
)


class QueueError(ValueError):
    """A queue name that is not `cpu` or `gpu.<kind>`."""


def check_queue(name: str) -> str:
    name = name.strip()
    if not _QUEUE.match(name):
        raise QueueError(
            f"{name!r} is not a queue name: use `cpu` or `gpu.<kind>` in lower case "
            "(gpu.h100, gpu.a100, ...), or either with `.eval` for its evaluation queue"
        )
    return name


def check_job_queue(name: str) -> str:
    """A queue jobs may be submitted to: not an evaluation queue."""
    name = check_queue(name)
    if is_eval_queue(name):
        raise QueueError(
            f"{name!r} is an evaluation queue (candidates of running jobs go there); "
            f"submit to {name.removesuffix(EVAL_SUFFIX)!r}"
        )
    return name


def eval_queue(queue: str) -> str:
    """The evaluation queue of job queue `queue` (itself if it already is one)."""
    return queue if queue.endswith(EVAL_SUFFIX) else queue + EVAL_SUFFIX


def is_eval_queue(queue: str) -> bool:
    return queue.endswith(EVAL_SUFFIX)


def gpu_queue(device_name: str) -> str:
    """`NVIDIA H100 80GB HBM3` -> `gpu.h100`; an unknown card keeps a cleaned-up name."""
    low = device_name.lower()
    for kind in _KINDS:
        if re.search(rf"(?<![a-z0-9]){re.escape(kind)}(?![0-9])", low):
            return f"gpu.{kind}"
    cleaned = re.sub(r"[^a-z0-9]+", "-", low.replace("nvidia", "")).strip("-")
    return f"gpu.{cleaned[:32] or 'unknown'}"


def local_gpu_name() -> str | None:
    """The first visible GPU's name, or None (no nvidia-smi, no GPU, or hidden by
    CUDA_VISIBLE_DEVICES)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return None
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("nvidia-smi failed (%s): assuming no GPU", exc)
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not names:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible and visible.split(",")[0].strip().isdigit():
        index = int(visible.split(",")[0])
        if index < len(names):
            return names[index]
    return names[0]


def default_queue(configured: str | None = None) -> str:
    if configured:
        return check_queue(configured)
    name = local_gpu_name()
    return gpu_queue(name) if name else CPU_QUEUE

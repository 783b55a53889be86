"""Find and remove what killed workers left behind: step cgroups (and the processes in
them), scratch and zygote directories, and labelled containers.

Every such resource carries its run id and its owner's pid in its name or labels
(`sandbox.cgroups.step_name`, `kernelbench.harness.evaluate.scratch_prefix`, the docker backend's
labels). Without a run id, only resources whose owner process is gone are touched, so
cleanup is safe while other workers run; `everything=True` takes all of them.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import cgroups
from sandbox.base import safe_tag
from sandbox.docker_backend import LABEL_OWNER, leftover_containers, remove_containers

log = logging.getLogger(__name__)

SCRATCH_PREFIXES = ("kw-eval-", "kw-sandbox-")


@dataclass
class CleanupReport:
    cgroups: list[str] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.cgroups) + len(self.scratch) + len(self.containers)


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (on this host), even one we may not signal."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _scratch_owner(name: str) -> tuple[str, int | None]:
    """(run tag, owner pid) of `kw-eval-<tag>-<pid>-<random>` / `kw-sandbox-<pid>-<random>`."""
    parts = name.split("-")
    if name.startswith("kw-eval-") and len(parts) >= 5:
        return parts[2], int(parts[3]) if parts[3].isdigit() else None
    if name.startswith("kw-sandbox-") and len(parts) >= 4:
        return "", int(parts[2]) if parts[2].isdigit() else None
    return "", None


def _selected(run_tag: str, owner: int | None, run_id: str | None, everything: bool) -> bool:
    if owner is None:
        return False  # not named by us (or by an older version): never ours to judge
    if everything:
        return owner != os.getpid()
    if run_id is not None:
        return run_tag == safe_tag(run_id) and owner != os.getpid()
    return not pid_alive(owner)


def cleanup_local(
    run_id: str | None = None, everything: bool = False, scratch_root: Path | None = None
) -> CleanupReport:
    report = CleanupReport()
    for group in cgroups.leftover_groups():
        owner = cgroups.owner_pid(group)
        if _selected(cgroups.run_id_of(group), owner, run_id, everything):
            cgroups.remove_group(group)
            report.cgroups.append(str(group))
    root = scratch_root or Path(tempfile.gettempdir())
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if not entry.is_dir() or not entry.name.startswith(SCRATCH_PREFIXES):
            continue
        tag, owner = _scratch_owner(entry.name)
        if entry.name.startswith("kw-sandbox-") and run_id is not None:
            continue  # zygote logs belong to a process, not a run
        if _selected(tag, owner, run_id, everything):
            shutil.rmtree(entry, ignore_errors=True)
            report.scratch.append(str(entry))
    return report


def cleanup_docker(client: Any, run_id: str | None = None, everything: bool = False) -> list[str]:

    host = socket.gethostname()
    chosen = []
    for container in leftover_containers(client, run_id):
        owner_host, _, pid = container.labels.get(LABEL_OWNER, "").rpartition(":")
        owner = int(pid) if pid.isdigit() else None
        if run_id is not None or everything:
            if owner_host == host and owner == os.getpid():
                continue  # our own, running now
            chosen.append(container)
        elif owner_host == host and not pid_alive(owner):
            chosen.append(container)
    return remove_containers(chosen)

"""Per-step cgroups: a memory limit the kernel enforces (OOM kill), a process-count limit
(which stops fork bombs where RLIMIT_NPROC cannot: it has no effect on root), and a CPU
group, so that a step's hundred busy processes weigh like one against the caller and the
step's supervisor (which must stay responsive enough to kill them on time).

A step's cgroups live under the caller's own cgroup, in a `kernelwright/` folder, named
`<run_id>.<label>.<owner pid>.<random>` so that `kwright sandbox cleanup` can find what a
dead worker left behind. cgroup v1 (separate memory and pids hierarchies) and v2 (one
unified hierarchy, where the caller's cgroup must be able to delegate both controllers)
are supported; where neither is writable the backend falls back to rlimits.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.base import safe_tag

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
FOLDER = "kernelwright"


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    paths: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text(encoding="utf-8")
    except OSError:
        return paths
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


def _v1_dir(controller: str) -> Path | None:
    own = _own_paths().get(controller)
    base = CGROUP_ROOT / controller
    if own is None or not (base / "cgroup.procs").exists():
        return None
    return base / own.lstrip("/") / FOLDER


def _v2_dir() -> Path | None:
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    own = _own_paths().get("")
    if own is None:
        return None
    return CGROUP_ROOT / own.lstrip("/") / FOLDER


def _write(path: Path, value: str) -> None:
    path.write_text(value, encoding="ascii")


def _read_procs(path: Path) -> set[int]:
    try:
        return {int(x) for x in (path / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def _rmdir(path: Path, wait_s: float = 3.0) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if time.monotonic() > deadline:
                log.warning("cannot remove cgroup %s: %s", path, exc)
                return False
            time.sleep(0.02)


def _kill_all(dirs: list[Path], wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        pids = set().union(*(_read_procs(d) for d in dirs)) if dirs else set()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            except PermissionError as exc:
                log.warning("cannot kill %d in a step cgroup: %s", pid, exc)
        if time.monotonic() > deadline:
            log.warning("processes survive in step cgroups %s: %s", dirs, sorted(pids))
            return
        time.sleep(0.02)


def boost_cpu(path: str | None) -> None:
    """Give a step's CPU group the largest weight: killed processes need CPU to exit."""
    if not path:
        return
    value = "262144" if path.endswith("cpu.shares") else "10000"
    try:
        Path(path).write_text(value, encoding="ascii")
    except OSError as exc:
        log.debug("cannot boost %s: %s", path, exc)


def step_name(run_id: str, label: str) -> str:
    return f"{safe_tag(run_id)}.{safe_tag(label)}.{os.getpid()}.{secrets.token_hex(3)}"


@dataclass
class StepCgroup:
    """The cgroup directories of one step; `procs_files` are what the step joins."""

    version: int
    memory_dir: Path | None = None
    pids_dir: Path | None = None
    cpu_dir: Path | None = None
    dirs: list[Path] = field(default_factory=list)

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    @property
    def boost_file(self) -> str | None:
        """Writing BOOST_SHARES here lets a dying step's hundred processes exit quickly."""
        if self.cpu_dir is None:
            return None
        return str(self.cpu_dir / ("cpu.shares" if self.version == 1 else "cpu.weight"))

    def boost(self) -> None:
        boost_cpu(self.boost_file)

    @property
    def memory_limited(self) -> bool:
        return self.memory_dir is not None

    @property
    def pids_limited(self) -> bool:
        return self.pids_dir is not None

    @classmethod
    def create(cls, name: str, memory_mb: int, pids: int) -> StepCgroup | None:
        """Make and limit the step's cgroups; None where no cgroup is writable here."""
        v2 = _v2_dir()
        if v2 is not None and not (CGROUP_ROOT / "memory").is_dir():
            return cls._create_v2(v2, name, memory_mb, pids)
        return cls._create_v1(name, memory_mb, pids)

    @classmethod
    def _create_v1(cls, name: str, memory_mb: int, pids: int) -> StepCgroup | None:
        group = cls(version=1)
        mem_parent, pids_parent, cpu_parent = _v1_dir("memory"), _v1_dir("pids"), _v1_dir("cpu")
        try:
            if mem_parent is not None:
                mem_parent.mkdir(exist_ok=True)
                d = mem_parent / name
                d.mkdir()
                group.dirs.append(d)
                _write(d / "memory.limit_in_bytes", str(memory_mb << 20))
                swap = d / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    _write(swap, str(memory_mb << 20))  # no swapping past the limit
                group.memory_dir = d
            if pids_parent is not None:
                pids_parent.mkdir(exist_ok=True)
                d = pids_parent / name
                d.mkdir()
                group.dirs.append(d)
                _write(d / "pids.max", str(pids))
                group.pids_dir = d
            if cpu_parent is not None:
                cpu_parent.mkdir(exist_ok=True)
                d = cpu_parent / name
                d.mkdir()
                group.dirs.append(d)
                group.cpu_dir = d
        except OSError as exc:
            log.debug("cgroup v1 not usable: %s", exc)
            group.remove()
            return None
        return group if group.dirs else None

    @classmethod
    def _create_v2(cls, parent: Path, name: str, memory_mb: int, pids: int) -> StepCgroup | None:
        try:
            parent.mkdir(exist_ok=True)
            _write(parent.parent / "cgroup.subtree_control", "+memory +pids +cpu")
            _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
            d = parent / name
            d.mkdir()
        except OSError as exc:
            log.debug("cgroup v2 not usable (no delegation of memory+pids): %s", exc)
            return None
        group = cls(version=2, dirs=[d])
        try:
            _write(d / "memory.max", str(memory_mb << 20))
            _write(d / "memory.swap.max", "0")
            _write(d / "pids.max", str(pids))
        except OSError as exc:
            log.debug("cgroup v2 limits not writable: %s", exc)
            group.remove()
            return None
        group.memory_dir = group.pids_dir = group.cpu_dir = d
        return group

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            text = (self.memory_dir / name).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        return False

    def pids(self) -> set[int]:
        return set().union(*(_read_procs(d) for d in self.dirs)) if self.dirs else set()

    def kill(self) -> None:
        self.boost()
        _kill_all(self.dirs)

    def remove(self) -> None:
        """Kill whatever is left, then delete the directories."""
        self.kill()
        for d in self.dirs:
            _rmdir(d)


def leftover_groups() -> list[Path]:
    """Step cgroup directories under this process's cgroups (any owner)."""
    candidates = (_v1_dir("memory"), _v1_dir("pids"), _v1_dir("cpu"), _v2_dir())
    parents = [p for p in candidates if p is not None]
    found: list[Path] = []
    for parent in parents:
        if parent.is_dir():
            found.extend(sorted(d for d in parent.iterdir() if d.is_dir()))
    return found


def owner_pid(group_dir: Path) -> int | None:
    parts = group_dir.name.split(".")
    return int(parts[-2]) if len(parts) >= 4 and parts[-2].isdigit() else None


def run_id_of(group_dir: Path) -> str:
    return group_dir.name.split(".")[0]


def remove_group(group_dir: Path) -> None:
    _kill_all([group_dir])
    _rmdir(group_dir)

"""The Sandbox interface: run one harness step on a scratch directory, contained.

Lifecycle: `get_sandbox(name, **config)` builds a backend (cheap: a warm pool is started
on first use, or by `start()` where a backend has one; the docker backend connects to
its engine and raises SandboxUnavailable if it cannot), `run_step(job)` runs one step and
always returns a SandboxOutcome (it never raises for anything the candidate does; a
failure of the sandbox itself is `infra_error`), and `close()` releases everything the
backend holds (also via `with`). A backend must leave no process or container behind,
whatever the step does. `contains()` says which hostile behaviours (CONTAINMENT) the
backend contains on this host; the conformance suite (kernelbench.harness.conformance) checks them.
`sandbox.defaults.shared_sandbox()` keeps one long-lived instance per process.

Backends register by name with `@register_sandbox("name")` and import their SDKs lazily.

What a step may touch: its scratch dir `job.workdir` (read-write, the only writable place
it shares with the caller) and `job.readonly_paths` (host paths mounted read-only at the
same path, e.g. a shared compile cache: candidates can read it but never poison it).
Everything a step prints is captured and capped; the verdict never comes from it.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


def safe_tag(text: str, limit: int = 40) -> str:
    """`text` reduced to [A-Za-z0-9_] for names of containers, cgroups and scratch dirs."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text)[:limit]


def default_pids() -> int:
    return 64 + 4 * (os.cpu_count() or 1)


class SandboxLimits(BaseModel):
    timeout_s: float = Field(default=300.0, gt=0)  # wall clock
    cpu_s: float | None = Field(default=None, gt=0)  # CPU s per process; None: 2 x timeout
    memory_mb: int = Field(default=4096, ge=64)  # the whole step (cgroup) or address space
    # Processes + threads of the whole step: torch's thread pools scale with the cores,
    # and a fork bomb's teardown time scales with this (every fork is a fat process).
    pids: int = Field(default_factory=default_pids, ge=8)
    output_bytes: int = Field(default=1_000_000, ge=1024)  # per stream; the middle is dropped

    @property
    def cpu_seconds(self) -> int:
        return max(1, int(self.cpu_s if self.cpu_s is not None else 2 * self.timeout_s))


class StepProgram(BaseModel, frozen=True):
    """What a step runs: `python -m MODULE WORKDIR` (in a warm zygote: MODULE's
    `main([MODULE, WORKDIR])`), and the modules a warm zygote imports before it forks.
    The caller names it; the sandbox knows nothing of what the module does."""

    module: str = Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
    preload: tuple[str, ...] = ()


class SandboxJob(BaseModel):
    program: StepProgram  # the step's entry module and its preload list
    workdir: Path  # scratch: the only writable place; holds request.json and the files
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    env: dict[str, str] = Field(default_factory=dict)  # extra variables (already vetted)
    device: str = "cpu"  # "cuda": the backend must expose the GPUs
    run_id: str = "adhoc"  # labels containers/processes for cleanup
    label: str = "step"
    # Host paths visible read-only at the same path (a shared compile cache, a toolchain).
    readonly_paths: list[Path] = Field(default_factory=list)


class SandboxOutcome(BaseModel):
    returncode: int | None = None
    signal: str | None = None  # e.g. "SIGSEGV" when the step was killed by a signal
    timed_out: bool = False
    oom_killed: bool = False
    stdout: str = ""
    stderr: str = ""
    output_truncated: bool = False
    duration_s: float = 0.0
    backend: str = ""
    isolation: str = ""  # how the step was contained, e.g. "namespaces+cgroup, warm"
    infra_error: str | None = None  # the sandbox itself failed (not the candidate)


class SandboxUnavailable(RuntimeError):
    """A backend cannot run here; the message says what is missing and how to get it."""


# What a backend can contain, by name (the conformance suite's vocabulary, see
# kernelbench.harness.conformance): a backend that lacks one must say so in `contains()`.
CONTAINMENT = frozenset(
    {
        "time",  # wall-clock (and CPU) limit; the whole tree is killed
        "output",  # stdout/stderr captured and capped
        "environment",  # allowlisted environment: no secrets
        "processes",  # cannot see, signal or read the caller's processes (/proc)
        "pids",  # process-count limit (fork bombs)
        "memory",  # memory limit
        "network",  # no network, not even the host's loopback
        "filesystem",  # read-only host view except scratch; secrets' homes hidden
    }
)


class Sandbox(ABC):
    name: ClassVar[str]

    def contains(self) -> frozenset[str]:
        """Which CONTAINMENT properties this backend guarantees here (all, by default)."""
        return CONTAINMENT

    @classmethod
    def check_available(cls) -> None:
        """Raise SandboxUnavailable if this backend cannot work on this machine."""
        return None

    @abstractmethod
    def run_step(self, job: SandboxJob) -> SandboxOutcome:
        """Run `python -m <job.program.module> WORKDIR` contained; never raises for step faults."""

    def allow_parallel(self, steps: int) -> None:
        """Let up to `steps` steps of this caller's threads run at once. A backend that
        serves steps from a pool grows it; the others run every step apart already."""
        return None

    def close(self) -> None:
        """Release pools, clients, containers (nothing by default)."""
        return None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_REGISTRY: dict[str, type[Sandbox]] = {}


def register_sandbox(name: str) -> Callable[[type[Sandbox]], type[Sandbox]]:
    def wrap(cls: type[Sandbox]) -> type[Sandbox]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def _load_builtin_backends() -> None:
    # Importing registers them; each module imports its heavy SDK lazily.
    for module in ("sandbox.process", "sandbox.local", "sandbox.docker_backend"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            log.debug("sandbox backend module %s is not present", module)


def sandbox_names() -> list[str]:
    _load_builtin_backends()
    return sorted(_REGISTRY)


def get_sandbox(name: str, **config: Any) -> Sandbox:
    _load_builtin_backends()
    cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(_REGISTRY))
        raise SandboxUnavailable(f"unknown sandbox {name!r} (known: {known})")
    cls.check_available()
    return cls(**config)

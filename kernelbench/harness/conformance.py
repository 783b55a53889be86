"""The sandbox conformance suite: hostile candidates every backend must contain.

One suite for every backend (as inspect_ai's sandbox self_check; the cases live in
`kernelbench.harness.hostile_cases`): each case is a candidate for `level1/2_ReLU` that does
something hostile in `ModelNew.forward`, the status it must get, and the containment
properties (`sandbox.base.CONTAINMENT`) it needs; a backend runs the cases its
`contains()` covers, the rest are reported as excluded, with the missing property as
the reason.

Run it in its own process, whose environment carries fake secrets (so that
/proc/<pid>/environ of the caller really holds them), with the static check off so that
the candidates reach the sandbox:

    python -m kernelbench.harness.conformance --backend local --out results.json [--case NAME ...]

For each case the driver records the status, reason, duration, which fake secrets
appear in the result, which files appeared outside scratch, whether the loopback
listener was reached and which step processes outlived the evaluation; it keeps
running whatever the candidate does (a candidate that kills the caller ends the run,
and the missing results say so). Tests assert on that file
(tests/test_sandbox_conformance.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kernelbench.harness.hostile_cases import (
    CASE_NAMES,
    CASES,
    PROBLEM_ID,
    SECRET_VARS,
    TEMPLATE,
    HostileCase,
)
from kernelbench.problems.registry import (
    resolve_problem,
    solution_path,
)
from kernelbench.protocol.request import EvalOptions
from sandbox.base import Sandbox, SandboxJob, SandboxOutcome, get_sandbox
from sandbox.env import project_root

__all__ = ["CASES", "CASE_NAMES", "CaseResult", "HostileCase", "run_cases", "warm_up"]

log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    case: str
    status: str = ""
    reason: str | None = None
    duration_s: float = 0.0  # the whole evaluation
    candidate_step_s: float = 0.0  # the candidate's step alone (what its limit bounds)
    result_json: str = ""
    secrets_in_result: list[str] = field(default_factory=list)
    written_outside: list[str] = field(default_factory=list)
    listener_hits: int = 0
    leftover_processes: list[str] = field(default_factory=list)
    excluded: str | None = None


class _Listener:
    """A loopback TCP listener in the caller: no candidate may ever reach it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            conn.close()


class _Marked(Sandbox):
    """Passes a marker variable to every step, so that leftovers can be recognised; runs
    the (trusted) reference step on `reference` when given, to spare a slow backend."""

    name = "marked"

    def __init__(self, inner: Sandbox, marker: str, reference: Sandbox | None = None) -> None:
        self.inner, self.marker, self.reference = inner, marker, reference
        self.last_step_s: dict[str, float] = {}

    def contains(self) -> frozenset[str]:
        return self.inner.contains()

    def run_step(self, job: SandboxJob) -> SandboxOutcome:
        job = job.model_copy(update={"env": {**job.env, "KW_CONFORMANCE_MARK": self.marker}})
        started = time.monotonic()
        box = self.reference if job.label == "reference" and self.reference else self.inner
        try:
            return box.run_step(job)
        finally:
            self.last_step_s[job.label] = time.monotonic() - started

    def close(self) -> None:
        self.inner.close()


def _step_processes(marker: str, run_tag: str) -> list[str]:
    """Live processes of this run's steps: the marker variable in their exec environment
    (cold steps), or a working directory in this run's scratch (forked steps)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        state = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("State:")), "")
        if state == "Z":
            continue
        if marker.encode() in environ or run_tag in cwd:
            found.append(f"{entry} state={state} cwd={cwd}")
    return found


def run_cases(
    box: Sandbox,
    names: list[str],
    outside: Path,
    timeout_s: float,
    memory_mb: int,
    reference_timeout_s: float | None = None,
    reference_box: Sandbox | None = None,
    bounded_timeout_s: float | None = None,
) -> list[CaseResult]:
    from kernelbench.harness.evaluate import evaluate, scratch_prefix  # noqa: PLC0415 - heavy library, imported where used

    problem = resolve_problem(PROBLEM_ID)
    token = secrets.token_hex(6)
    run_id = f"conformance-{token}"
    marker = f"kwmark-{token}"
    listener = _Listener()
    home = os.environ.get("HOME", "/nonexistent")
    secret_values = {v: os.environ[v] for v in SECRET_VARS if os.environ.get(v)}
    outside.mkdir(parents=True, exist_ok=True)
    outside.chmod(0o777)  # only the sandbox, not permissions, may stop a write here
    marked = _Marked(box, marker, reference_box)
    contained = box.contains()
    results = []
    for case in (c for c in CASES if c.name in names):
        res = CaseResult(case=case.name)
        missing = sorted(case.needs - contained)
        if missing:
            res.excluded = f"backend {box.name!r} does not contain: {', '.join(missing)}"
            results.append(res)
            continue
        source = TEMPLATE.format(
            caller_pid=os.getpid(),
            caller_home=home,
            outside=str(outside),
            project=str(project_root()),
            port=listener.port,
            token=token,
            forward=textwrap.indent(case.forward, " " * 8),
        )
        options = EvalOptions(
            static_check=False,
            timeout_s=(bounded_timeout_s or timeout_s) if case.bounded_by_timeout else timeout_s,
            reference_timeout_s=reference_timeout_s,
            memory_mb=memory_mb,
            trials=1,
            extra_shapes=False,
            allow_torch_ops=True,
        )
        hits_before = listener.hits
        marked.last_step_s.clear()
        started = time.monotonic()
        result = evaluate(problem, source, options, marked, run_id=run_id)
        res.duration_s = time.monotonic() - started
        res.candidate_step_s = marked.last_step_s.get("candidate", 0.0)
        res.status, res.reason = result.status.value, result.reason
        res.result_json = result.model_dump_json()
        res.secrets_in_result = [k for k, v in secret_values.items() if v in res.result_json]
        res.listener_hits = listener.hits - hits_before
        candidates = [
            outside / "pwned",
            Path(f"/tmp/kw-pwned-{token}"),
            Path(f"/var/tmp/kw-pwned-{token}"),
            Path(home) / "pwned",
            project_root() / f"kw-pwned-{token}",
            Path("/tmp/kw-leak"),
            Path("/dev/shm/kw-leak"),
        ]
        res.written_outside = [str(p) for p in candidates if p.exists()]
        deadline = time.monotonic() + 3.0
        while True:
            res.leftover_processes = _step_processes(marker, scratch_prefix(run_id))
            if not res.leftover_processes or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        log.info("case %s: %s (%.1f s)", case.name, res.status, res.duration_s)
        results.append(res)
    return results


def warm_up(box: Sandbox) -> None:
    """One benign evaluation first, so that a pool's start-up is not charged to a case."""
    from kernelbench.harness.evaluate import evaluate  # noqa: PLC0415 - heavy library, imported where used

    problem = resolve_problem(PROBLEM_ID)
    options = EvalOptions(trials=1, extra_shapes=False)
    result = evaluate(problem, solution_path(problem).read_text(), options, box)
    log.info("warm-up: %s in %.1f s", result.status.value, result.duration_s or 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernelbench.harness.conformance")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--config", default="{}", help="JSON: keyword arguments of the backend")
    parser.add_argument("--case", action="append", choices=CASE_NAMES)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--outside", type=Path, required=True, help="a dir outside scratch")
    parser.add_argument("--timeout", type=float, default=8.0)
    parser.add_argument(
        "--bounded-timeout",
        type=float,
        help="the limit for cases expected to run until it (loop, sleep, fork bomb); "
        "default: --timeout",
    )
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--reference-timeout", type=float, default=300.0)
    parser.add_argument(
        "--reference-backend", help="run the trusted reference steps here (e.g. local)"
    )
    args = parser.parse_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        handlers.append(logging.FileHandler(args.log))
    logging.basicConfig(level=logging.DEBUG, handlers=handlers, force=True)
    box = get_sandbox(args.backend, **json.loads(args.config))
    reference = get_sandbox(args.reference_backend) if args.reference_backend else None
    try:
        warm_up(box)
        results = []
        for name in args.case or list(CASE_NAMES):
            # Written after every case: a run the candidate cut short still shows how far it got.
            results.extend(
                run_cases(
                    box,
                    [name],
                    args.outside,
                    args.timeout,
                    args.memory_mb,
                    reference_timeout_s=args.reference_timeout,
                    reference_box=reference,
                    bounded_timeout_s=args.bounded_timeout,
                )
            )
            args.out.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    finally:
        box.close()
        if reference is not None:
            reference.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

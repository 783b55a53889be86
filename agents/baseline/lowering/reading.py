"""Run the reference reader (`agents.baseline.lowering.analyze`) in a contained child process
(the `none` sandbox backend).

The child imports the problem and traces `Model`, which executes user code: it gets a
scratch directory, the harness's scrubbed environment (no API keys, no broker URLs), a
CPU-time limit (it sets RLIMIT_CPU on itself before importing anything of the problem's)
and a wall-clock timeout after which its whole process group is killed.
Whatever it does, the caller gets either the analysis or a `ReadError` with one line.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from agents.baseline.lowering.analyze import REQUEST, RESULT
from kernelbench.problems.problem import Problem
from sandbox.base import SandboxJob, SandboxLimits, StepProgram
from sandbox.process import ProcessSandbox

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
# The reader runs as a plain contained process (the `none` sandbox backend: time,
# output and environment contained), like every other step: the sandbox runs its program.
READER = StepProgram(module="agents.baseline.lowering.analyze")
ANALYSIS_SEED = 1234


class ReadError(RuntimeError):
    """The reference could not be read (it crashed, hung, or cannot be traced)."""


def read_reference(problem: Problem, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """The traced graph of `problem`'s Model at its first CPU check shape."""
    workdir = Path(tempfile.mkdtemp(prefix="kw-baseline-read-"))
    try:
        (workdir / "tmp").mkdir()
        problem_copy = workdir / "problem.py"
        shutil.copyfile(problem.path, problem_copy)
        request = {
            "problem_path": str(problem_copy),
            "defaults": problem.sizes,
            "check_sizes": problem.check_sizes,
            "seed": ANALYSIS_SEED,
            "cpu_limit_s": int(timeout_s * 2) + 10,
        }
        (workdir / REQUEST).write_text(json.dumps(request))
        started = time.perf_counter()
        # The user's own reference, not a candidate: a plain child process, without the
        # "debugging only" warning meant for candidate code (the quick start printed it).
        outcome = ProcessSandbox(warn=False).run_step(
            SandboxJob(
                program=READER,
                workdir=workdir,
                limits=SandboxLimits(timeout_s=timeout_s),
                label="read-reference",
            )
        )
        log.debug("reading %s took %.1f s", problem.id, time.perf_counter() - started)
        if outcome.timed_out:
            raise ReadError(f"reading the reference timed out after {timeout_s:.0f} s")
        if outcome.infra_error:
            raise ReadError(f"the reference reader could not start: {outcome.infra_error}")
        result_path = workdir / RESULT
        if not result_path.is_file():
            stderr = outcome.stderr[-4000:]
            last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            raise ReadError(
                f"reading the reference crashed (exit code {outcome.returncode}){': ' + last if last else ''}"
            )
        try:
            data: dict[str, Any] = json.loads(result_path.read_text())
        except json.JSONDecodeError as exc:
            raise ReadError(f"the reference reader wrote unreadable output ({exc})") from exc
        if not data.get("ok"):
            raise ReadError(str(data.get("error") or "the reference could not be read"))
        return data
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

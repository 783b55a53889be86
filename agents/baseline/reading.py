"""Run the reference reader (`agents.baseline.analyze`) in a contained child process.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agents.baseline.analyze import REQUEST, RESULT
from kernelbench.problem import Problem
from sandbox.env import step_env
from sandbox.process import kill_group, read_capped

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
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
        with (workdir / ".stdout").open("wb") as out, (workdir / ".stderr").open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agents.baseline.analyze", str(workdir)],
                cwd=workdir,
                env=step_env(workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                kill_group(proc.pid)
                proc.wait()
        log.debug("reading %s took %.1f s", problem.id, time.perf_counter() - started)
        if timed_out:
            raise ReadError(f"reading the reference timed out after {timeout_s:.0f} s")
        result_path = workdir / RESULT
        if not result_path.is_file():
            stderr, _ = read_capped(workdir / ".stderr", 4000)
            last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            raise ReadError(
                f"reading the reference crashed (exit code {proc.returncode}){': ' + last if last else ''}"
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

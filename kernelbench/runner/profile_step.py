"""The harness's third step, `profile`: compile the candidate's kernels for the target arch
and read their facts (`profiler.step`). Runs in the sandbox like the other steps, started
by `kernelbench.runner.child` without importing torch."""

from __future__ import annotations

from pathlib import Path

from kernelbench.protocol.request import (
    REQUEST_FILE,
    StepReport,
    StepRequest,
    read_nonce,
    write_report,
)
from profiler.step import profile_step


def run_profile_step(workdir: Path) -> int:
    nonce = read_nonce(workdir)  # before anything derived from the candidate is loaded
    req = StepRequest.model_validate_json((workdir / REQUEST_FILE).read_text(encoding="utf-8"))
    report = StepReport(step="profile", nonce=nonce)
    if req.profile is None:
        report.status = "bad_problem"
        report.message = "profile step without a profile request"
    else:
        report.profile = profile_step(workdir, req.profile)
    write_report(workdir, report)
    return 0

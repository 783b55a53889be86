"""How a step reports a failure: a typed status, a one-line message, trimmed details."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Literal

StepStatus = Literal["ok", "bad_problem", "compile_error", "runtime_error", "not_run", "rejected"]
MAX_DETAILS = 6000


class StepFailed(Exception):
    def __init__(self, status: StepStatus, message: str, details: str = "", **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra


def trim(text: str, limit: int = MAX_DETAILS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 3] + "\n...\n" + text[-(2 * limit) // 3 :]


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:400]


def format_traceback(exc: BaseException, workdir: Path) -> str:
    tb = "".join(traceback.format_exception(exc))
    return trim(tb.replace(str(workdir) + "/", ""))


def is_compile_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith("triton.compiler") or type(exc).__name__ == "CompilationError"

"""The categories a run records: how an attempt, a problem and a run ended, and what the loop
is doing. pydantic validates them where run.json, attempt.json and the job store are read,
so an unknown value is refused by name; the values are the plain strings older files hold.

Kept apart from `agents.rundir` so that readers of run.json (the leaderboard, the fleet's
job records) share this vocabulary without importing the writer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from agents.usage import Usage
from kernelbench.protocol.result import Status


class Unevaluated(StrEnum):
    """Why an attempt has no EvalResult."""

    NO_CANDIDATE = "no_candidate"  # the Coder's reply held no code (or its call failed)


_ATTEMPT_STATUSES = {s.value: s for s in [*Status, *Unevaluated]}


def _known_attempt_status(value: object) -> object:
    """One clear error for a name neither enum holds (pydantic would report each enum's)."""
    if not isinstance(value, str):
        return value
    found = _ATTEMPT_STATUSES.get(value)
    if found is None:
        known = ", ".join(_ATTEMPT_STATUSES)
        raise ValueError(f"unknown attempt status {value!r} (known: {known})")
    return found


# An attempt's status: the EvalResult's, or why there is none.
AttemptStatus = Annotated[Status | Unevaluated, BeforeValidator(_known_attempt_status)]
# How one problem's loop ended; a run is `interrupted` while problems are left to redo.
ProblemStatus = Literal["done", "failed", "cancelled"]
RunStatus = Literal["running", "done", "failed", "interrupted"]
# The loop's phase in a progress update.
Phase = Literal["coder", "eval", "judge", "round done", "done"]


class RoundProgress(BaseModel):
    """Where a problem's loop is and how it is doing (a live view's fields; the fleet
    stores the latest of a job's as its `JobProgress`)."""

    round: int = 0
    rounds: int = 0
    phase: Phase | Literal[""] = ""  # "": no update yet
    last_status: AttemptStatus | None = None
    best_status: AttemptStatus | None = None
    best_speedup: float | None = None
    usage: Usage = Field(default_factory=Usage)
    message: str = ""

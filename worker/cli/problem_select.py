"""The problems `kwright run` and `kwright submit` act on: named, or all of a suite/level."""

from __future__ import annotations

from pathlib import Path

from kernelbench.problems.problem import Problem, ProblemError
from kernelbench.problems.registry import list_problems, resolve_problem


def select_problems(ids: list[str], suite: Path | None, level: int | None) -> list[Problem]:
    if ids and level is not None:
        raise ProblemError("name PROBLEMs or pass --level (all of a level), not both")
    if ids:
        return [resolve_problem(i, suite) for i in ids]
    if suite is None and level is None:
        raise ProblemError("name at least one PROBLEM, or pass --suite and/or --level")
    found = list_problems(suite, level)
    if not found:
        raise ProblemError(f"no problems in {suite or 'the built-in suite'} at level {level}")
    return found

"""Token usage and the job's budget: what every agent (LLM or not) reports and spends.

Kept apart from the LLM client so the protocols, the run directory and the job model
import no LLM SDK.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from pydantic import BaseModel

from agents.config import Budget


class BudgetExceeded(RuntimeError):
    """The job's budget is spent; the message says which limit."""


class Usage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = 0.0  # None once any call had an unknown price

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=cost,
        )


def total(usages: Iterable[Usage | None]) -> Usage:
    """The sum of `usages` (None: a part that used nothing, e.g. an attempt not judged)."""
    result = Usage()
    for usage in usages:
        if usage is not None:
            result = result.plus(usage)
    return result


class BudgetTracker:
    """Spending of one job (thread-safe; parallel candidates share it)."""

    def __init__(self, budget: Budget, spent: Usage | None = None, elapsed_s: float = 0.0) -> None:
        self.budget = budget
        self.spent = spent or Usage()
        self._started = time.monotonic() - elapsed_s
        self._lock = threading.Lock()

    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def remaining_wall_s(self) -> float | None:
        if self.budget.max_wall_s is None:
            return None
        return self.budget.max_wall_s - self.elapsed_s()

    def add(self, usage: Usage) -> None:
        with self._lock:
            self.spent = self.spent.plus(usage)

    def exceeded(self) -> str | None:
        """Why the budget is spent, or None."""
        b, s = self.budget, self.spent
        if b.max_usd is not None and s.cost_usd is not None and s.cost_usd >= b.max_usd:
            return f"budget spent: ${s.cost_usd:.4f} of ${b.max_usd:.4f}"
        if b.max_tokens is not None and s.total_tokens >= b.max_tokens:
            return f"budget spent: {s.total_tokens} of {b.max_tokens} tokens"
        remaining = self.remaining_wall_s()
        if remaining is not None and remaining <= 0:
            return f"budget spent: {self.elapsed_s():.0f} s of {b.max_wall_s:.0f} s wall time"
        return None

    def check(self) -> None:
        reason = self.exceeded()
        if reason:
            raise BudgetExceeded(reason)

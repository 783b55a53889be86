"""The seam between the loop and a search strategy.

The loop (`agents.loop.ProblemLoop`) owns the mechanics: it asks the Coder for each planned
candidate (in parallel), evaluates them through its evaluator, records them and has the
Judge review what the strategy names. A strategy only decides, from the finished attempts
(replayed from disk on resume, so the same plans come out again):

- `plan(state, rnd)`: the round's candidates, one `CandidatePlan` per index: which attempt
  each builds on, with which advice, along which bottleneck or angle, at which temperature;
- `to_review(state, rnd)`: which of the finished attempts the Judge reviews after round `rnd`;
- `stop_reason(state, rnd)`: why the search is over after round `rnd` (or None).

The plans of a round never share a prompt: each takes a distinct (parent, bottleneck) or a
distinct angle, and the temperatures are spread across the round.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from agents.config import AgentConfig
from agents.protocols import AttemptView, Bottleneck, Feedback
from agents.ranking import pick_of_round, static_score
from agents.rundir import FinishedAttempt

# Distinct directions for candidates the Judge's ranking does not cover (the first round,
# or more candidates than ranked bottlenecks): each names one axis of the design space.
ANGLES = (
    "the most direct correct implementation, then the cheapest obvious speed-up",
    "memory traffic: fuse passes, coalesce and vectorize global loads (128-bit), reuse data",
    "parallelism and occupancy: grid shape, work per thread, block size and warp count",
    "tiling: bigger or smaller tiles, shared-memory reuse, a deeper software pipeline",
    "arithmetic: tensor cores (tl.dot / mma) where the math allows, fewer instructions",
    "launch overhead: fewer kernels, one pass where the reference makes several",
    "register pressure: fewer live values, no spills, a smaller tile per thread",
    "a different algorithm or data layout altogether",
)
TEMPERATURE_SPAN = 0.6  # the round's temperatures run from the configured one up by this


class CandidatePlan(BaseModel):
    """What one candidate of a round is asked to do."""

    index: int
    parent: FinishedAttempt | None = None  # the attempt it builds on (None: from scratch)
    feedback: Feedback | None = None  # the Judge's advice on `parent`
    direction: Bottleneck | None = None  # the ranked bottleneck it works on
    angle: str | None = None  # its own direction where no bottleneck is assigned
    temperature: float | None = None
    reverted: bool = False  # repairs kept failing: `parent` is the best correct attempt

    def direction_label(self) -> str | None:
        if self.direction is not None:
            return self.direction.label()[:200]
        return self.angle


class SearchState:
    """The finished attempts of one problem, as a strategy reads them."""

    def __init__(self, config: AgentConfig, finished: list[FinishedAttempt]) -> None:
        self.config = config
        self.finished = finished

    def round(self, rnd: int) -> list[FinishedAttempt]:
        return [f for f in self.finished if f.record.round == rnd]

    def upto(self, rnd: int) -> list[FinishedAttempt]:
        return [f for f in self.finished if f.record.round <= rnd]

    def get(self, attempt: int | None) -> FinishedAttempt | None:
        if attempt is None:
            return None
        return next((f for f in self.finished if f.record.attempt == attempt), None)

    def pick(self, rnd: int) -> FinishedAttempt | None:
        """The round's pick: its best correct attempt, else its first with code."""
        attempts = self.round(rnd)
        if not attempts:
            return None
        view = pick_of_round([f.view for f in attempts])
        return next(f for f in attempts if f.view.attempt == view.attempt)

    def judged(self, rnd: int) -> FinishedAttempt | None:
        return next((f for f in self.round(rnd) if f.record.judged), None)

    def lineage(self, f: FinishedAttempt | None, limit: int = 8) -> list[FinishedAttempt]:
        """`f` and its ancestors (parent links), oldest first, at most `limit`."""
        chain: list[FinishedAttempt] = []
        seen: set[int] = set()
        while f is not None and f.record.attempt not in seen and len(chain) < limit:
            chain.append(f)
            seen.add(f.record.attempt)
            f = self.get(f.record.parent)
        return list(reversed(chain))


class Strategy(Protocol):
    name: str

    def plan(self, state: SearchState, rnd: int) -> list[CandidatePlan]: ...

    def to_review(self, state: SearchState, rnd: int) -> list[FinishedAttempt]: ...

    def stop_reason(self, state: SearchState, rnd: int) -> str | None: ...

    def kept(self, state: SearchState, rnd: int) -> list[FinishedAttempt]: ...


def temperatures(config: AgentConfig, n: int) -> list[float | None]:
    """One temperature per candidate, spread from the configured one upwards (a single
    candidate keeps the configured one: None)."""
    base = config.llm.temperature
    if n <= 1 or base is None:
        return [None] * n
    top = min(2.0, base + TEMPERATURE_SPAN)
    return [round(base + (top - base) * i / (n - 1), 3) for i in range(n)]


def quality(view: AttemptView) -> tuple[int, float, tuple[float, float, int, float], int]:
    """A sort key, higher is better: measured speedup first, then the static score, then
    the earlier attempt."""
    result = view.result
    if result is None:
        return (0, 0.0, static_score(None, None), -view.attempt)
    measured = result.speedup is not None
    return (
        int(measured),
        result.speedup or 0.0,
        static_score(result.profile, result.kernel_launches),
        -view.attempt,
    )


def ranked_wanted(config: AgentConfig) -> int:
    """How many ranked bottlenecks a review is asked for: enough for the next round."""
    k = config.beam_width if config.search == "beam" else 1
    return max(3, -(-config.candidates_per_round // k))


def roofline_reached(config: AgentConfig, best: AttemptView | None) -> str | None:
    """Why to stop where the best kernel's measured time is within `roofline_stop` of the
    roofline's lower bound (only a GPU measures a time: never on a CPU)."""
    limit = config.roofline_stop
    result = best.result if best is not None else None
    roof = result.profile.roofline if result is not None and result.profile else None
    if limit is None or roof is None or roof.measured_ms is None:
        return None
    fraction = roof.fraction_of_roofline
    if fraction is None or fraction < limit:
        return None
    return f"the best kernel reaches {fraction:.0%} of the roofline (stop at {limit:.0%})"


def params_key(b: Bottleneck | None) -> str | None:
    """Machine hints that make two directions the same candidate (the offline Coder)."""
    if b is None or not b.params:
        return None
    return repr(sorted((k, repr(v)) for k, v in b.params.items()))

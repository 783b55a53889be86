"""chain: today's loop. Every candidate of a round builds on the last round's pick and the
Judge's advice on it; after `max_repair_rounds` failing rounds in a row, on the best correct
kernel instead. Parallel candidates take distinct ranked bottlenecks (then distinct angles)
and spread temperatures; a single candidate gets the whole advice, as before. The Judge's
`done` ends the search."""

from __future__ import annotations

from agents.protocols import Bottleneck
from agents.ranking import is_better
from agents.rundir import FinishedAttempt
from agents.search.base import ANGLES, CandidatePlan, SearchState, temperatures


def best_upto(state: SearchState, rnd: int) -> FinishedAttempt | None:
    best: FinishedAttempt | None = None
    for f in state.upto(rnd):
        if is_better(f.view, best.view if best else None):
            best = f
    return best


def spread(
    n: int, ranked: list[Bottleneck], offset: int = 0
) -> list[tuple[Bottleneck | None, str | None]]:
    """n distinct (bottleneck, angle) assignments: the ranked bottlenecks first, then angles."""
    out: list[tuple[Bottleneck | None, str | None]] = []
    for i in range(n):
        if i < len(ranked):
            out.append((ranked[i], None))
            continue
        k = i - len(ranked) + offset
        angle = ANGLES[k % len(ANGLES)]
        if k >= len(ANGLES):
            angle += f" (variant {k // len(ANGLES) + 1})"
        out.append((None, angle))
    return out


class ChainSearch:
    name = "chain"

    def plan(self, state: SearchState, rnd: int) -> list[CandidatePlan]:
        config = state.config
        n = config.candidates_per_round
        previous = state.judged(rnd - 1) if rnd > 1 else None
        failing_streak = 0
        for r in range(rnd - 1, 0, -1):
            judged = state.judged(r)
            if judged is None or judged.view.correct:
                break
            failing_streak += 1
        best = best_upto(state, rnd - 1)
        reverted = (
            best is not None
            and previous is not None
            and not previous.view.correct
            and failing_streak >= config.max_repair_rounds
        )
        base = best if reverted and best else previous
        feedback = base.feedback if base else None
        ranked = feedback.ranked() if feedback is not None else []
        if n == 1:
            assignments: list[tuple[Bottleneck | None, str | None]] = [(None, None)]
        else:
            assignments = spread(n, ranked)
        temps = temperatures(config, n)
        return [
            CandidatePlan(
                index=i,
                parent=base,
                feedback=feedback,
                direction=direction,
                angle=angle,
                temperature=temps[i],
                reverted=reverted,
            )
            for i, (direction, angle) in enumerate(assignments)
        ]

    def to_review(self, state: SearchState, rnd: int) -> list[FinishedAttempt]:
        pick = state.pick(rnd)
        return [pick] if pick is not None else []

    def kept(self, state: SearchState, rnd: int) -> list[FinishedAttempt]:
        """What the next round builds on: this round's pick (or the best, once reverted)."""
        pick = state.judged(rnd) or state.pick(rnd)
        return [pick] if pick is not None else []

    def stop_reason(self, state: SearchState, rnd: int) -> str | None:
        judged = state.judged(rnd)
        if judged is not None and judged.feedback is not None and judged.feedback.done:
            return "the Judge has no further suggestion"
        return None

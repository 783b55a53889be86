"""beam: keep the top-k correct kernels and expand each along distinct bottlenecks.

After each round the beam is the `beam_width` best correct kernels found so far (measured
speedup first, the static score on a CPU), leaving out lineages that are over: a kernel the
Judge called `done` (retired), a kernel slower than its parent by more than
`prune_regression` (pruned), a kernel whose directions are all taken (explored). The Judge
reviews each new member. The next round's `candidates_per_round` candidates are dealt round
robin over the members, one per (parent, bottleneck): the member's ranked bottlenecks first,
then (for an LLM Judge) distinct angles; never a direction already taken from that parent,
never two candidates with the same machine hints. Temperatures are spread across the round.
Until a kernel is correct, every candidate repairs the last round's pick, each at its own
angle. The search ends when every lineage is over.
"""

from __future__ import annotations

from agents.protocols import Bottleneck
from agents.rundir import FinishedAttempt
from agents.search.base import ANGLES, CandidatePlan, SearchState, params_key, quality, temperatures
from agents.search.chain import spread

Direction = tuple[Bottleneck | None, str | None]


def _label(direction: Direction) -> str:
    b, angle = direction
    return b.label()[:200] if b is not None else angle or ""


class BeamSearch:
    name = "beam"

    # ------------------------------------------------------------ lineages
    @staticmethod
    def retired(f: FinishedAttempt) -> bool:
        return f.feedback is not None and f.feedback.done

    @staticmethod
    def pruned(state: SearchState, f: FinishedAttempt) -> bool:
        parent = state.get(f.record.parent)
        if parent is None or parent.view.result is None or f.view.result is None:
            return False
        mine, theirs = f.view.result.runtime_ms, parent.view.result.runtime_ms
        if mine is None or theirs is None:
            return False
        return mine > theirs * (1 + state.config.prune_regression)

    @staticmethod
    def directions(state: SearchState, f: FinishedAttempt) -> list[Direction]:
        """The directions still open from `f`: its ranked bottlenecks, then angles (not
        for the offline Judge, whose Coder only follows machine hints)."""
        fb = f.feedback
        ranked = fb.ranked() if fb is not None and fb.mode == "optimize" else []
        found: list[Direction] = [(b, None) for b in ranked]
        if fb is None or fb.source != "baseline":
            found += [(None, angle) for angle in ANGLES]
        children = [c for c in state.finished if c.record.parent == f.record.attempt]
        taken = {c.record.direction for c in children}
        return [d for d in found if _label(d) not in taken]

    def kept(self, state: SearchState, rnd: int) -> list[FinishedAttempt]:
        """The beam after round `rnd`."""
        pool = [
            f
            for f in state.upto(rnd)
            if f.view.correct and not self.retired(f) and not self.pruned(state, f)
        ]
        pool = [f for f in pool if f.feedback is None or self.directions(state, f)]
        pool.sort(key=lambda f: quality(f.view), reverse=True)
        return pool[: state.config.beam_width]

    # ------------------------------------------------------------ the seam
    def plan(self, state: SearchState, rnd: int) -> list[CandidatePlan]:
        n = state.config.candidates_per_round
        temps = temperatures(state.config, n)
        members = self.kept(state, rnd - 1) if rnd > 1 else []
        if not members:
            parent = state.pick(rnd - 1) if rnd > 1 else None
            # The offline Coder follows machine hints only: with none to spread, one
            # candidate (more would be the same kernel again).
            if state.config.agent == "baseline":
                n = 1
            assignments: list[Direction] = [(None, None)] if n == 1 else spread(n, [])
            return [
                CandidatePlan(
                    index=i,
                    parent=parent,
                    feedback=parent.feedback if parent else None,
                    direction=b,
                    angle=angle,
                    temperature=temps[i],
                )
                for i, (b, angle) in enumerate(assignments)
            ]
        open_ = {m.record.attempt: self.directions(state, m) for m in members}
        hints: set[str] = set()
        plans: list[CandidatePlan] = []
        while len(plans) < n:
            before = len(plans)
            for m in members:
                if len(plans) == n:
                    break
                choices = open_[m.record.attempt]
                while choices:
                    b, angle = choices.pop(0)
                    key = params_key(b)
                    if key is not None and key in hints:
                        continue
                    if key is not None:
                        hints.add(key)
                    plans.append(
                        CandidatePlan(
                            index=len(plans),
                            parent=m,
                            feedback=m.feedback,
                            direction=b,
                            angle=angle,
                            temperature=temps[len(plans)],
                        )
                    )
                    break
            if len(plans) == before:
                break  # every member's directions are taken
        return plans

    def to_review(self, state: SearchState, rnd: int) -> list[FinishedAttempt]:
        members = self.kept(state, rnd)
        if members:
            return [m for m in members if not m.record.judged]
        if any(f.view.correct for f in state.upto(rnd)):
            return []  # every lineage is over: nothing to advise on
        pick = state.pick(rnd)
        return [pick] if pick is not None and not pick.record.judged else []

    def stop_reason(self, state: SearchState, rnd: int) -> str | None:
        if any(f.view.correct for f in state.upto(rnd)) and not self.kept(state, rnd):
            return "every lineage is over (the Judge's done, pruned or fully explored)"
        return None

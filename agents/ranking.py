"""Which attempt is best so far.

Correct beats not correct. Among correct attempts: on a GPU the higher measured speedup
(an improvement must beat the best by more than 2%, below timing noise); on a CPU, where
nothing is timed, the static profile decides: fewer spilled bytes, then higher
theoretical occupancy (of the worst kernel), then tensor-core use, then fewer kernel
launches per forward. Equal scores keep the earlier attempt.
"""

from __future__ import annotations

from agents.protocols import AttemptView
from profiler.report import ProfileReport

SPEEDUP_MARGIN = 1.02


def static_score(
    profile: ProfileReport | None, launches: int | None
) -> tuple[float, float, int, float]:
    if profile is None or not profile.kernels:
        return (0.0, 0.0, 0, -float(launches or 0))
    spills = sum((k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0) for k in profile.kernels)
    occupancy = min((k.occupancy_pct or 0.0) for k in profile.kernels)
    tensor = int(any(k.sass is not None and k.sass.tensor_core_mma > 0 for k in profile.kernels))
    return (-float(spills), occupancy, tensor, -float(launches or 0))


def is_better(candidate: AttemptView, best: AttemptView | None) -> bool:
    """True if `candidate` should replace `best`."""
    if not candidate.correct or candidate.result is None:
        return False
    if best is None or best.result is None or not best.correct:
        return True
    new, old = candidate.result, best.result
    if new.speedup is not None and old.speedup is not None:
        return new.speedup > old.speedup * SPEEDUP_MARGIN
    if new.speedup is not None:
        return True
    return static_score(new.profile, new.kernel_launches) > static_score(
        old.profile, old.kernel_launches
    )


def pick_of_round(views: list[AttemptView]) -> AttemptView:
    """The attempt a round passes on: its best correct one, else its first with code."""
    best: AttemptView | None = None
    for view in views:
        if is_better(view, best):
            best = view
    if best is not None:
        return best
    with_code = [v for v in views if v.source is not None]
    return (with_code or views)[0]

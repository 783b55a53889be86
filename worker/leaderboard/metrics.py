"""KernelBench's metrics over a fixed problem set, and the ranking that uses them.

Every share is over all N problems of the set: a problem a row did not attempt, or did
not finish, counts as failed (KernelBench patches missing results the same way).

* compiled: some attempt got past compilation; correct: the best kernel is correct.
* fast_p: correct AND timed speedup > p; for p = 0 that is "correct and timed".
  Untimed rows (CPU) have no fast_p: None, never 0.
* geomean: geometric mean of the speedups of correct, timed problems, with its n and a
  95% percentile-bootstrap interval (fixed seed, so boards are reproducible) where n >= 5.
* rounds / wall to first correct: means over the solved problems.
* static profile (what a CPU row can show of performance): the mean static occupancy of
  the best correct kernels for the target GPU, and how many of them spill registers.
* tokens / cost per solved: totals over the set divided by the solved count; omitted for
  the offline agent (no LLM) and cost omitted where any price was unknown.
"""

from __future__ import annotations

import math

import numpy as np

from worker.leaderboard.records import (
    BOOTSTRAP_MIN_N,
    P_VALUES,
    Entry,
    Geomean,
    Missing,
    Rate,
    RowKey,
    RowStats,
    p_label,
)

BOOTSTRAP_RESAMPLES = 2000


def geomean(speedups: list[float], *, seed: int = 0) -> Geomean | None:
    if not speedups:
        return None
    logs = np.log(np.asarray(speedups, dtype=float))
    value = float(math.exp(logs.mean()))
    if len(logs) < BOOTSTRAP_MIN_N:
        return Geomean(value=value, n=len(logs))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(logs), size=(BOOTSTRAP_RESAMPLES, len(logs)))
    low, high = np.exp(np.percentile(logs[idx].mean(axis=1), [2.5, 97.5]))
    return Geomean(value=value, n=len(logs), low=float(low), high=float(high))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def row_stats(key: RowKey, entries: dict[str, Entry], problems: list[str]) -> RowStats:
    cells = [
        entries.get(pid) or Entry(problem_id=pid, status=Missing.NOT_ATTEMPTED) for pid in problems
    ]
    big_n = len(cells)
    solved = [e for e in cells if e.correct]
    timed = [e.speedup for e in solved if e.speedup is not None]
    fast_p: dict[str, Rate | None] = {
        p_label(p): Rate(n=sum(1 for s in timed if s > p), N=big_n) if key.timed else None
        for p in P_VALUES
    }
    tokens = [e.tokens for e in cells if e.finished]
    costs = [e.cost_usd for e in cells if e.finished]
    offline = any(t is None for t in tokens) or not tokens
    profiled = [e.spills for e in solved if e.spills is not None]
    return RowStats(
        key=key,
        N=big_n,
        compiled=Rate(n=sum(1 for e in cells if e.compiled), N=big_n),
        correct=Rate(n=len(solved), N=big_n),
        fast_p=fast_p,
        geomean=geomean(timed) if key.timed else None,
        mean_rounds_to_first_correct=_mean(
            [float(e.first_correct_round) for e in solved if e.first_correct_round is not None]
        ),
        mean_wall_s_to_first_correct=_mean(
            [e.first_correct_wall_s for e in solved if e.first_correct_wall_s is not None]
        ),
        tokens_per_solved=None
        if offline or not solved
        else sum(t or 0 for t in tokens) / len(solved),
        cost_per_solved=None
        if offline or not solved or any(c is None for c in costs)
        else sum(c or 0.0 for c in costs) / len(solved),
        mean_static_occupancy_pct=_mean(
            [e.static_occupancy_pct for e in solved if e.static_occupancy_pct is not None]
        ),
        spilling=Rate(n=sum(1 for s in profiled if s), N=len(profiled)) if profiled else None,
        not_attempted=sum(1 for e in cells if e.status == Missing.NOT_ATTEMPTED),
        unfinished=sum(1 for e in cells if e.status == Missing.UNFINISHED),
    )


def rank_key(stats: RowStats) -> tuple[float, ...]:
    """More correct first, then more fast_1, then the higher geomean, then fewer rounds.
    Untimed rows sort after timed ones with the same correct count."""
    fast_1 = stats.fast_p.get(p_label(1.0))
    return (
        -stats.correct.n,
        -(fast_1.n if fast_1 is not None else -1),
        -(stats.geomean.value if stats.geomean is not None else 0.0),
        stats.mean_rounds_to_first_correct or math.inf,
    )


def ranked(stats: list[RowStats]) -> list[RowStats]:
    """Rows in rank order with `rank` set (ties share a rank)."""
    ordered = sorted(stats, key=lambda s: (rank_key(s), s.key.label))
    previous: tuple[float, ...] | None = None
    for i, s in enumerate(ordered, start=1):
        key = rank_key(s)
        s.rank = ordered[i - 2].rank if previous == key else i
        previous = key
    return ordered

"""What a prompt remembers: the numbers of the kernel it builds on, its lineage's history,
the lessons of the round's other candidates, and the reflection written after each round.

All of it is read from the finished attempts (their verdicts and profiles), so a resumed
run writes the same prompts again.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.config import AgentConfig
from agents.protocols import AttemptView, LineageStep, Numbers
from agents.rundir import FinishedAttempt
from agents.search.base import SearchState
from kernelbench.protocol.result import EvalResult

TARGET_GAIN = 0.10  # the target: beat the best by this fraction
MAX_HISTORY = 6
MAX_LESSONS = 6


def _ms(value: float | None) -> str:
    return f"{value:.4g} ms" if value is not None else "not timed"


def kernel_facts(result: EvalResult | None) -> list[str]:
    """One line per kernel of its static profile (and ncu counters when a GPU ran it)."""
    if result is None or result.profile is None:
        return []
    lines = []
    for k in result.profile.kernels:
        parts = [f"kernel {k.name}:"]
        if k.registers_per_thread is not None:
            parts.append(f"{k.registers_per_thread} registers/thread")
        spills = (k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0)
        parts.append(f"spills {spills} B" if spills else "no spills")
        if k.occupancy_pct is not None:
            limiter = k.occupancy_limiter.value if k.occupancy_limiter else "unknown"
            parts.append(f"occupancy {k.occupancy_pct:.0f}% (limited by {limiter})")
        if k.shared_mem_bytes:
            parts.append(f"shared memory {k.shared_mem_bytes} B")
        if k.sass is not None:
            mma = k.sass.tensor_core_mma
            parts.append(f"tensor-core MMA x{mma}" if mma else "no tensor cores")
            if k.sass.global_loads:
                widths = ", ".join(f"{w}-bit x{n}" for w, n in sorted(k.sass.global_loads.items()))
                parts.append(f"global loads {widths}")
        for name, value in list(k.metrics.items())[:4]:
            parts.append(f"{name}={value}")
        lines.append(" ".join(parts[:1]) + " " + ", ".join(parts[1:]))
    return lines


def numbers(
    config: AgentConfig, parent: AttemptView | None, best: AttemptView | None
) -> Numbers | None:
    """The numbers the Coder sees: its previous kernel's, the best so far, the target."""
    if parent is None and best is None:
        return None
    out = Numbers()
    if parent is not None and parent.result is not None:
        r = parent.result
        if r.runtime_ms is not None and r.speedup is not None:
            out.previous.append(
                f"time {_ms(r.runtime_ms)} (reference {_ms(r.ref_runtime_ms)}, speedup "
                f"{r.speedup:.2f}x) on {r.device or 'the GPU'}"
            )
        else:
            out.previous.append(
                f"time: not measured ({r.timing_note or 'no GPU'}); static facts only"
            )
        out.previous.extend(kernel_facts(r))
        roof = r.profile.roofline if r.profile is not None else None
        if roof is not None and roof.lower_bound_ms is not None:
            text = f"{roof.bound.value if roof.bound else '?'}-bound, lower bound {_ms(roof.lower_bound_ms)}"
            if roof.fraction_of_roofline is not None:
                text += f", this kernel reaches {100 * roof.fraction_of_roofline:.0f}% of it"
            out.roofline = text
    if best is not None and best.result is not None:
        b = best.result
        if b.runtime_ms is not None and b.speedup is not None:
            out.best = f"attempt {best.attempt}: {_ms(b.runtime_ms)}, speedup {b.speedup:.2f}x"
            goal = b.runtime_ms * (1 - TARGET_GAIN)
            out.target = f"beat the best by {TARGET_GAIN:.0%}: {goal:.4g} ms or less"
        else:
            out.best = f"attempt {best.attempt} (correct; not timed)"
            out.target = (
                "no time to beat on this machine: no spills, higher occupancy, tensor cores "
                "where the math allows, wide (128-bit) loads, fewer launches"
            )
    return out


def _change(f: FinishedAttempt, parent: FinishedAttempt | None) -> str:
    if parent is None or f.view.result is None or parent.view.result is None:
        return ""
    mine, theirs = f.view.result.runtime_ms, parent.view.result.runtime_ms
    if mine is not None and theirs is not None and theirs > 0:
        return f"time {theirs:.4g} -> {mine:.4g} ms ({100 * (mine / theirs - 1):+.0f}%)"
    a, b = kernel_facts(parent.view.result), kernel_facts(f.view.result)
    return "static facts unchanged" if a == b else "static facts changed"


def history(state: SearchState, parent: FinishedAttempt | None) -> list[LineageStep]:
    """The lineage of `parent` (itself included), oldest first: what each step tried."""
    steps = []
    for f in state.lineage(parent, MAX_HISTORY):
        r = f.view.result
        steps.append(
            LineageStep(
                attempt=f.record.attempt,
                round=f.record.round,
                tried=f.record.direction
                or ("first version" if f.record.parent is None else "as advised"),
                status=str(f.record.status),
                runtime_ms=r.runtime_ms if r is not None else None,
                speedup=r.speedup if r is not None else None,
                change=_change(f, state.get(f.record.parent)),
            )
        )
    return steps


def lessons(state: SearchState, rnd: int) -> list[str]:
    """What failed or regressed in earlier rounds, most recent first (shared by the whole
    round, whichever lineage a candidate is on)."""
    found: list[str] = []
    for f in sorted(state.upto(rnd - 1), key=lambda f: -f.record.attempt):
        tried = f.record.direction or "the advised change"
        if not f.view.correct:
            why = (f.record.reason or str(f.record.status)).splitlines()[0][:160]
            found.append(
                f"attempt {f.record.attempt} ({tried[:120]}) failed: {f.record.status}: {why}"
            )
        else:
            change = _change(f, state.get(f.record.parent))
            if change.startswith("time") and "(+" in change:
                found.append(f"attempt {f.record.attempt} ({tried[:120]}) was slower: {change}")
        if len(found) >= MAX_LESSONS:
            break
    return found


class Reflection(BaseModel):
    """reflections/<round>.json: a short look back after each round."""

    round: int
    search: str
    tried: list[str] = Field(default_factory=list)  # one line per candidate
    best: str | None = None
    kept: list[int] = Field(default_factory=list)  # the attempts the next round builds on
    lessons: list[str] = Field(default_factory=list)
    stop: str | None = None


def reflect(
    state: SearchState,
    rnd: int,
    kept: list[FinishedAttempt],
    best: FinishedAttempt | None,
    stop: str | None,
) -> Reflection:
    tried = []
    for f in state.round(rnd):
        r = f.view.result
        timing = f", {r.speedup:.2f}x" if r is not None and r.speedup is not None else ""
        tried.append(
            f"attempt {f.record.attempt} (from {f.record.parent or 'scratch'}, "
            f"{(f.record.direction or 'as advised')[:80]}): {f.record.status}{timing}"
        )
    summary = None
    if best is not None:
        r = best.view.result
        timing = f", {r.speedup:.2f}x" if r is not None and r.speedup is not None else ""
        summary = f"attempt {best.record.attempt} (round {best.record.round}){timing}"
    return Reflection(
        round=rnd,
        search=state.config.search,
        tried=tried,
        best=summary,
        kept=[f.record.attempt for f in kept],
        lessons=lessons(state, rnd + 1)[:3],
        stop=stop,
    )

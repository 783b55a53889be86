"""The baseline Coder: a Triton candidate from the reference itself, no LLM.

Round 1 reads the reference (in a contained child process), lowers it to the IR, fuses it
into kernels and writes them with default knobs. Later rounds rewrite the same kernels
with the knobs the Judge asked for (`Feedback.params["kernels"]`); a candidate the search
assigned a ranked bottleneck takes its knobs, else a parallel candidate `i > 0` of a round
takes the Judge's `i`-th alternative. A reference the Coder cannot
handle gives `Proposal(failure="no candidate: unsupported op X")`, never an exception.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from agents.baseline.lowering.codegen import generate
from agents.baseline.lowering.ir import Unsupported, UnsupportedKind
from agents.baseline.lowering.lower import lower
from agents.baseline.lowering.reading import DEFAULT_TIMEOUT_S, ReadError, read_reference
from agents.baseline.lowering.schedule import Schedule, schedule
from agents.protocols import CoderContext, Proposal
from kernelbench.problems.problem import Problem

log = logging.getLogger(__name__)


def failure_text(exc: Unsupported) -> str:
    msg = str(exc)
    if exc.kind is UnsupportedKind.OP:
        return f"no candidate: {msg}"
    if exc.kind is UnsupportedKind.INTERNAL:
        return f"no candidate: the baseline cannot write this reference ({msg})"
    return f"no candidate: unsupported: {msg}"


class BaselineCoder:
    name = "baseline"

    def __init__(self, read_timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.read_timeout_s = read_timeout_s
        self._plans: dict[str, tuple[dict[str, Any], Schedule] | str] = {}
        self._lock = threading.Lock()  # parallel candidates of a round share one reading

    def plan(
        self, problem: Problem, timeout_s: float | None = None
    ) -> tuple[dict[str, Any], Schedule] | str:
        """(analysis, schedule) for a problem, or why there is none (cached per source).
        Reading the reference takes at most `timeout_s` (the run's --eval-timeout), and
        never more than `read_timeout_s`."""
        key = problem.source_sha256 or str(problem.path)
        limit = min(self.read_timeout_s, timeout_s or self.read_timeout_s)
        with self._lock:
            return self._plan_locked(key, problem, limit)

    def _plan_locked(
        self, key: str, problem: Problem, timeout_s: float
    ) -> tuple[dict[str, Any], Schedule] | str:
        if key not in self._plans:
            try:
                analysis = read_reference(problem, timeout_s)
                self._plans[key] = (analysis, schedule(lower(analysis)))
            except ReadError as exc:
                self._plans[key] = f"no candidate: {exc}"
            except Unsupported as exc:
                self._plans[key] = failure_text(exc)
            except Exception as exc:
                log.exception("baseline Coder failed on %s", problem.id)
                self._plans[key] = (
                    f"no candidate: baseline Coder error ({type(exc).__name__}: {exc})"
                )
        return self._plans[key]

    def propose(self, ctx: CoderContext) -> Proposal:
        planned = self.plan(ctx.problem, ctx.config.eval_timeout_s)
        if isinstance(planned, str):
            log.info("%s: %s", ctx.problem.id, planned)
            return Proposal(failure=planned)
        analysis, sched = planned
        overrides = requested_params(ctx)
        try:
            source, record = generate(
                ctx.problem.id, ctx.problem_source, analysis, sched, overrides
            )
        except Unsupported as exc:
            return Proposal(failure=failure_text(exc))
        except Exception as exc:
            log.exception("baseline Coder failed on %s", ctx.problem.id)
            return Proposal(
                failure=f"no candidate: baseline Coder error ({type(exc).__name__}: {exc})"
            )
        summary = "; ".join(
            f"{name} ({k['kind']}): "
            + ", ".join(f"{p}={v}" for p, v in sorted(k["params"].items()))
            for name, k in record.items()
        )
        return Proposal(
            source=source,
            prompt=f"baseline Coder, round {ctx.round}: {summary}",
            reply=summary,
            notes={"kernels": record},
        )


def requested_params(ctx: CoderContext) -> dict[str, Any] | None:
    """The kernel knobs the Judge asked for: those of the ranked bottleneck the search
    assigned this candidate, else (parallel candidates of a chain) an alternative."""
    assigned = ctx.direction.params.get("kernels") if ctx.direction is not None else None
    if isinstance(assigned, dict):
        return assigned
    fb = ctx.feedback
    if fb is None or not fb.params:
        return None
    if ctx.candidate_index > 0:
        alternatives = fb.params.get("alternatives") or []
        if len(alternatives) >= ctx.candidate_index:
            alt = alternatives[ctx.candidate_index - 1]
            return alt if isinstance(alt, dict) else None
    kernels = fb.params.get("kernels")
    return kernels if isinstance(kernels, dict) else None

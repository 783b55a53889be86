"""The baseline Judge: the verdict and the profile, through a fixed decision table.

It reads the kernels and knobs from the candidate's header, the verdict from the
EvalResult and the per-kernel facts from its ProfileReport, and answers with concrete
knobs for every kernel in `Feedback.params["kernels"]` (plus `alternatives` for parallel
candidates). It never proposes a configuration it has already proposed or seen, works
from the best correct attempt when the last one was worse (chain), and says `done` when no
rule applies. It also ranks each distinct next configuration as a `Bottleneck` (the plan,
then each alternative; the facts as evidence, the knobs in `params`), so a beam expands a
kernel along several. The tables below are the documentation (docs/baseline-agent.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from agents.baseline.facts import Facts, evidence, kernel_facts
from agents.baseline.params import DEFAULTS, read_header
from agents.protocols import AttemptView, Bottleneck, Feedback, JudgeContext, Review
from agents.ranking import is_better
from kernelbench.protocol.result import EvalResult, Status
from profiler.report import ProfileReport

log = logging.getLogger(__name__)

Params = dict[str, int]
Move = Callable[[str, Params], Params | None]


# ---------------------------------------------------------------- moves


def _with(p: Params, **changes: int) -> Params:
    q = dict(p)
    q.update(changes)
    return q


def smaller_tile(kind: str, p: Params) -> Params | None:
    if kind in ("matmul", "conv"):
        big = "BLOCK_M" if p["BLOCK_M"] >= p["BLOCK_N"] else "BLOCK_N"
        if p[big] > 16:
            return _with(p, **{big: p[big] // 2})
        if p["BLOCK_K"] > 16:
            return _with(p, BLOCK_K=p["BLOCK_K"] // 2)
        return fewer_stages(kind, p)
    if kind == "row":
        if p["BLOCK_R"] > 64:
            return _with(p, BLOCK_R=p["BLOCK_R"] // 2)
        if p["BLOCK_O"] > 1:
            return _with(p, BLOCK_O=p["BLOCK_O"] // 2)
        return None
    return _with(p, BLOCK=p["BLOCK"] // 2) if p["BLOCK"] > 256 else None


def fewer_stages(kind: str, p: Params) -> Params | None:
    if kind in ("matmul", "conv") and p["num_stages"] > 1:
        return _with(p, num_stages=p["num_stages"] - 1)
    return None


def fewer_warps(kind: str, p: Params) -> Params | None:
    return _with(p, num_warps=p["num_warps"] // 2) if p["num_warps"] > 2 else None


def more_warps(kind: str, p: Params) -> Params | None:
    return _with(p, num_warps=p["num_warps"] * 2) if p["num_warps"] < 8 else None


def elements_per_thread(kind: str, p: Params) -> float:
    if kind == "pointwise":
        return p["BLOCK"] / (32 * p["num_warps"])
    if kind == "row":
        return p["BLOCK_R"] * p["BLOCK_O"] / (32 * p["num_warps"])
    return p["BLOCK_M"] * p["BLOCK_N"] / (32 * p["num_warps"])


def wider_vectors(kind: str, p: Params) -> Params | None:
    """At least 16 bytes (4 fp32) per thread per access, so loads can be 128-bit."""
    if kind not in ("pointwise", "row") or elements_per_thread(kind, p) >= 4:
        return None
    if kind == "pointwise":
        return _with(p, BLOCK=min(8192, 4 * 32 * p["num_warps"]))
    return _with(p, BLOCK_R=min(4096, 4 * 32 * p["num_warps"] // p["BLOCK_O"] or 16))


def larger_blocks(kind: str, p: Params) -> Params | None:
    if kind == "pointwise" and p["BLOCK"] < 4096:
        q = _with(p, BLOCK=p["BLOCK"] * 2)
        return _with(q, num_warps=8) if elements_per_thread(kind, q) > 16 else q
    if kind == "row" and p["BLOCK_R"] < 4096:
        return _with(p, BLOCK_R=p["BLOCK_R"] * 2)
    return None


def bigger_tile(kind: str, p: Params) -> Params | None:
    if kind not in ("matmul", "conv"):
        return None
    small = "BLOCK_N" if p["BLOCK_N"] <= p["BLOCK_M"] else "BLOCK_M"
    if p[small] >= 128:
        return None
    q = _with(p, **{small: p[small] * 2})
    if q["BLOCK_M"] * q["BLOCK_N"] >= 128 * 128 and q["num_warps"] < 8:
        q["num_warps"] = 8
    return q


def more_stages(kind: str, p: Params) -> Params | None:
    if kind in ("matmul", "conv") and p["num_stages"] < 4:
        return _with(p, num_stages=p["num_stages"] + 1)
    return None


@dataclass(frozen=True)
class Rule:
    name: str
    when: str
    then: str
    applies: Callable[[str, Facts], bool]
    move: Move


OPTIMIZE_RULES: list[Rule] = [
    Rule("spills", "registers spill (spill bytes > 0 or local-memory loads/stores)",
         "smaller tile: halve the larger of BLOCK_M/BLOCK_N, then BLOCK_K, then num_stages; "
         "halve BLOCK_R (row) or BLOCK (elementwise)",
         lambda kind, f: f.spills > 0, smaller_tile),
    Rule("smem-occupancy", "occupancy < 50% limited by shared memory (or the block cannot launch)",
         "one pipeline stage fewer (num_stages - 1), else a smaller tile",
         lambda kind, f: f.limited_by("shared"),
         lambda kind, p: fewer_stages(kind, p) or smaller_tile(kind, p)),
    Rule("register-occupancy", "occupancy < 50% limited by registers",
         "smaller tile, else half the warps",
         lambda kind, f: f.limited_by("registers"),
         lambda kind, p: smaller_tile(kind, p) or fewer_warps(kind, p)),
    Rule("narrow-loads", "memory-bound and no 128-bit global loads (elementwise/row)",
         "wider vectors: at least 4 elements per thread per access",
         lambda kind, f: f.roofline_bound == "memory" and f.narrow_loads, wider_vectors),
    Rule("memory-bound", "memory-bound (elementwise/row)",
         "larger blocks: BLOCK x2 (up to 4096, 8 warps past 16 elements/thread), BLOCK_R x2",
         lambda kind, f: f.roofline_bound == "memory" and kind in ("pointwise", "row"),
         larger_blocks),
    Rule("compute-tile", "compute-bound matmul/conv with registers to spare (< 128/thread)",
         "bigger tile: double the smaller of BLOCK_M/BLOCK_N (up to 128; 8 warps at 128x128)",
         lambda kind, f: f.roofline_bound == "compute" and f.registers < 128, bigger_tile),
    Rule("compute-stages", "compute-bound matmul/conv",
         "deeper pipeline: num_stages + 1 (up to 4)",
         lambda kind, f: f.roofline_bound == "compute", more_stages),
]  # fmt: skip

# Without a profile (e.g. before the profiler ran), a fixed sweep per kernel shape; with a
# GPU the loop keeps whichever measures fastest.
NO_PROFILE_SCHEDULE: dict[str, list[tuple[str, Move]]] = {
    "pointwise": [("larger blocks", larger_blocks), ("more warps", more_warps),
                  ("larger blocks", larger_blocks)],
    "row": [("larger blocks", larger_blocks), ("more warps", more_warps),
            ("smaller chunks", smaller_tile)],
    "matmul": [("bigger tile", bigger_tile), ("deeper pipeline", more_stages),
               ("bigger tile", bigger_tile)],
    "conv": [("bigger tile", bigger_tile), ("deeper pipeline", more_stages),
             ("smaller tile", smaller_tile)],
}  # fmt: skip

SAFE: dict[str, Params] = {
    "pointwise": {"BLOCK": 256, "num_warps": 4},
    "row": {"BLOCK_O": 1, "BLOCK_R": 128, "num_warps": 4},
    "matmul": {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 1, "num_warps": 4,
               "num_stages": 2},
    "conv": {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "num_warps": 4, "num_stages": 1},
}  # fmt: skip

REPAIR_TABLE: list[tuple[str, str]] = [
    ("no candidate (unsupported op)", "stop: nothing to tune"),
    ("rejected by the static checker, or a harness/problem error", "stop: not a knob problem"),
    ("compile/runtime error, timeout or incorrect, with tuned knobs",
     "back to each kernel's default knobs"),
    ("the same failure at the defaults", "one try with the safe small configuration, then stop"),
]  # fmt: skip


def config_key(kernels: dict[str, Params]) -> str:
    return json.dumps(kernels, sort_keys=True)


class BaselineJudge:
    name = "baseline"

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def review(self, ctx: JudgeContext) -> Review:
        attempt = ctx.attempt
        if attempt.source is None:
            failure = attempt.failure or "the Coder produced no candidate"
            return self._stop("repair", f"No candidate to judge: {failure}", failure)
        record = read_header(attempt.source)
        kinds = {name: str(k.get("kind")) for name, k in record.items()}
        current = {name: dict(k.get("params") or {}) for name, k in record.items()}
        if not record or any(kind not in DEFAULTS for kind in kinds.values()):
            return self._stop("repair", "Not a baseline candidate: nothing to tune.", None)
        defaults = {
            name: dict(k.get("defaults") or DEFAULTS[kinds[name]]) for name, k in record.items()
        }
        self.seen.add(config_key(current))
        result = attempt.result
        if result is None or not result.correct:
            return self._repair(kinds, current, defaults, result)
        base_view = attempt
        best = ctx.best
        # Work from the best correct attempt unless this one beats it (a beam expands
        # each kept kernel from its own knobs).
        rebase = ctx.config.search == "chain" and best is not None
        if rebase and best and best.attempt != attempt.attempt and not is_better(attempt, best):
            best_record = read_header(best.source)
            if best_record and set(best_record) == set(record):
                base_view = best
                current = {n: dict(k.get("params") or {}) for n, k in best_record.items()}
        return self._optimize(kinds, current, base_view)

    # ------------------------------------------------------------ repair
    def _repair(
        self,
        kinds: dict[str, str],
        current: dict[str, Params],
        defaults: dict[str, Params],
        result: EvalResult | None,
    ) -> Review:
        status = result.status if result is not None else None
        reason = (result.reason if result is not None else None) or "no verdict"
        if status in (Status.REJECTED, Status.ERROR, Status.NOT_RUN):
            return self._stop(
                "repair",
                f"{status.value if status else 'failed'}: {reason}; knobs cannot fix this.",
                reason,
            )
        for plan, why in (
            (defaults, "back to the default knobs"),
            ({n: dict(SAFE[k]) for n, k in kinds.items()}, "the safe small configuration"),
        ):
            key = config_key(plan)
            if key not in self.seen and plan != current:
                self.seen.add(key)
                return Review(
                    feedback=Feedback(
                        mode="repair",
                        summary=f"{status.value if status else 'failed'}: {reason}; try {why}.",
                        critical_issue=reason,
                        minimal_fix=f"Regenerate the kernels with {why}.",
                        params={"kernels": plan},
                        source="baseline",
                    )
                )
        return self._stop("repair", f"Still failing at safe knobs: {reason}", reason)

    # ------------------------------------------------------------ optimize
    def _optimize(
        self, kinds: dict[str, str], current: dict[str, Params], view: AttemptView
    ) -> Review:
        profile = view.result.profile if view.result is not None else None
        plan = {n: dict(p) for n, p in current.items()}
        moves: list[str] = []
        alternatives: list[dict[str, Params]] = []
        ranked: list[Bottleneck] = []
        extra: list[Bottleneck] = []  # the shape's fixed sweep, ranked after the rules
        have_facts = profile is not None and any(
            kernel_facts(profile, n) is not None for n in kinds
        )
        for name, kind in kinds.items():
            fresh = [
                (label, new)
                for label, new in self._candidates(name, kind, current[name], profile, have_facts)
                if config_key({**current, name: new}) not in self.seen
            ]
            if not fresh:
                continue
            label, new = fresh[0]
            plan[name] = new
            moves.append(f"{name}: {label}")
            alternatives.extend({**current, name: alt} for _, alt in fresh[1:])
            ranked.extend(
                Bottleneck(
                    category=label.split(" -> ")[0],
                    summary=f"{name}: {label}",
                    evidence=evidence(profile, name),
                    fix=label.split(" -> ")[-1],
                    params={"kernels": {**current, name: alt}},
                )
                for label, alt in fresh[1:]
            )
            taken = [new for _, new in fresh]
            for label, move in NO_PROFILE_SCHEDULE.get(kind, []) if have_facts else []:
                alt = move(kind, current[name])
                if alt is None or alt in taken or config_key({**current, name: alt}) in self.seen:
                    continue
                taken.append(alt)
                extra.append(
                    Bottleneck(
                        category="sweep",
                        summary=f"{name}: {label}",
                        evidence=evidence(profile, name),
                        fix=label,
                        params={"kernels": {**current, name: alt}},
                    )
                )
        if not moves:
            why = "no rule of the decision table applies" if have_facts else "sweep exhausted"
            return self._stop("optimize", f"Nothing further to try ({why}).", None)
        self.seen.add(config_key(plan))
        basis = "profile" if have_facts else "no profile: fixed sweep"
        summary = "; ".join(moves)
        return Review(
            feedback=Feedback(
                mode="optimize",
                summary=summary[:200],
                bottleneck=f"from the {basis}",
                method="baseline decision table",
                plan=moves,
                params={"kernels": plan, "alternatives": alternatives[:8]},
                bottlenecks=[
                    Bottleneck(
                        category=basis,
                        summary=summary[:200],
                        evidence=[e for n in kinds for e in evidence(profile, n)],
                        fix="; ".join(moves),
                        params={"kernels": plan},
                    ),
                    *(ranked + extra)[:8],
                ],
                source="baseline",
            )
        )

    def _candidates(
        self,
        name: str,
        kind: str,
        params: Params,
        profile: ProfileReport | None,
        have_facts: bool,
    ) -> list[tuple[str, Params]]:
        """This kernel's moves, most urgent first."""
        out: list[tuple[str, Params]] = []
        if have_facts:
            facts = kernel_facts(profile, name)
            if facts is None:
                return out
            for rule in OPTIMIZE_RULES:
                if rule.applies(kind, facts):
                    new = rule.move(kind, params)
                    if new is not None and new != params:
                        out.append((f"{rule.when} -> {rule.then.split(':')[0]}", new))
            return out
        for label, move in NO_PROFILE_SCHEDULE.get(kind, []):
            new = move(kind, params)
            if new is not None and new != params:
                out.append((label, new))
        return out

    def _stop(self, mode: str, summary: str, issue: str | None) -> Review:
        return Review(
            feedback=Feedback(
                mode="repair" if mode == "repair" else "optimize",
                summary=summary[:200],
                critical_issue=issue,
                done=True,
                source="baseline",
            )
        )

"""Which input shapes a candidate is checked on.

On a GPU: the problem's default sizes (all seeded trials), plus each `CHECK_SIZES` entry,
or else one *varied* shape (see below), one trial each.

On the CPU (the Triton interpreter is ~1000x slower than a GPU): the `CHECK_SIZES`
entries, the first one with all seeded trials; a problem with a single entry also gets
that entry varied. A problem without `CHECK_SIZES` (e.g. an unchanged KernelBench file)
gets the generic rule on its size sites (kernelbench.problems.resize), executed afresh at every
set of sizes: the largest shrink the meta device accepts within the interpreter's budget
(kernelbench.problems.cpu_fit), every extent distinct; a second, *varied* shape takes each extent
`v` to `v - v // 8 - 1`, every extent distinct and off powers of two, to exercise masking
of partial blocks. docs/evaluation.md, "Which shapes are checked", has the rule in full.

Every evaluation also draws one *random* shape from a secret seed: each varying size (the
keys of `CHECK_SIZES`, else the sites >= 32) of the first shape that is >= 4, value
`v`, is drawn uniformly from [ceil(v/2), v + 1], so the drawn shape costs at most about as
much as the first one. If the reference fails on two such draws (a size must divide
another), two more keep the sizes that divide a larger one (group and head counts stay)
and draw a size divisible by kept ones, largest `d`, as `d * m'`, `m'` uniform in
[ceil(v/d/2), v/d + 1]. The
largest drawn extent with d = 1 is made odd (a partial block for any power-of-two block);
if every drawn extent is still a power of two, one is moved off it. A kernel right only at the
shapes a problem file names is caught there; the drawn sizes are in the result.

Any planned shape on which the reference itself fails (e.g. a size that must divide
another), or is ill-conditioned (kernelbench.runner.reference_step), falls back to its fallbacks
(screened on meta first; the last ones are its shrunk extents doubled, then quadrupled),
else is dropped, and the dropped shape is listed in the result.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from types import ModuleType

from kernelbench.problems.cpu_fit import (
    CPU_MAX_FLOPS,
    CPU_MAX_INPUT_ELEMENTS,
    EXTENT_FLOOR,
    EXTENT_MIN,
    MAX_HALVINGS,
    REFERENCE_MAX_FLOPS,
    TooLargeForCpu,
    distinct,
    fit_cpu,
    is_extent,
    pow2,
    shrink,
)
from kernelbench.problems.meta_work import estimate_work

log = logging.getLogger(__name__)

__all__ = [
    "CPU_MAX_FLOPS",
    "CPU_MAX_INPUT_ELEMENTS",
    "EXTENT_FLOOR",
    "EXTENT_MIN",
    "MAX_HALVINGS",
    "TooLargeForCpu",
    "estimate_work",
    "first_working",
    "grown",
    "is_extent",
    "plan_shapes",
    "random_shape",
    "random_varying",
    "shrink",
    "vary",
]
BACKOFF_HALVINGS = 3  # at most this many halvings back towards the defaults

Plan = tuple[dict[str, int], list[dict[str, int]]]


def vary(sizes: dict[str, int]) -> dict[str, int]:
    """The same sizes with every extent (>= EXTENT_FLOOR) moved off powers of two."""
    return {k: v - v // 8 - 1 if v >= EXTENT_FLOOR else v for k, v in sizes.items()}


def grown(sizes: dict[str, int], defaults: dict[str, int], times: int = 1) -> dict[str, int]:
    """`sizes` with each shrunk extent doubled `times` times, up to its default: where the
    reference is ill-conditioned at small sizes (batch statistics over a few values; a batch
    shrunk to 1 under a train-mode norm and a global mean gives exactly its bias)."""
    return {
        k: min(defaults.get(k, v), v << times) if 1 <= v < defaults.get(k, v) else v
        for k, v in sizes.items()
    }


def _unique(shapes: list[dict[str, int]]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for s in shapes:
        if s not in out:
            out.append(s)
    return out


def _generic_cpu(
    instantiate: Callable[[dict[str, int]], ModuleType],
    defaults: dict[str, int],
    extra_shapes: bool,
) -> list[Plan]:
    """The generic rule (module doc). Each shape is screened on meta until one is accepted;
    the fallbacks after it are not (they only run if the real run fails): a meta forward of
    a recurrent network costs seconds."""
    fit, measured = fit_cpu(instantiate, defaults)
    base = fit.sizes

    def accepted(sizes: dict[str, int]) -> bool:
        if fit.meta_blind:
            return True
        work = measured(sizes)
        return work.ran and (work.flops or 0) <= REFERENCE_MAX_FLOPS

    def screened(shapes: list[dict[str, int]]) -> list[dict[str, int]]:
        shapes = _unique(shapes)
        return next((shapes[i:] for i, s in enumerate(shapes) if accepted(s)), [])

    extents = [k for k, v in defaults.items() if is_extent(v) or base[k] != v]
    larger = [shrink(defaults, h) for h in range(fit.halvings - 1, -1, -1)]
    larger = [  # only those the planner measured already (or all, where meta is blind)
        s for s in larger[:BACKOFF_HALVINGS] if fit.meta_blind or measured.ran_within(s)
    ]
    first = screened([distinct(base, extents, +1), base]) or [base]
    plans: list[Plan] = [(first[0], _unique([*first[1:], *larger, *_grown(first[0], defaults)]))]
    if extra_shapes:
        varied = vary(base)
        bumped = {k: v + 1 if k in extents and v >= EXTENT_FLOOR else v for k, v in base.items()}
        keys = [k for k in extents if varied[k] != base[k]]
        others = screened([distinct(varied, keys, -1), varied, bumped])
        if others:
            plans.append((others[0], _unique([*others[1:], *_grown(others[0], defaults)])))
    return plans


def _grown(sizes: dict[str, int], defaults: dict[str, int]) -> list[dict[str, int]]:
    """The last fallbacks: extents doubled, then quadrupled (none where nothing grows)."""
    return [g for g in (grown(sizes, defaults, t) for t in (1, 2)) if g != sizes]


def plan_shapes(
    instantiate: Callable[[dict[str, int]], ModuleType],
    defaults: dict[str, int],
    check_sizes: list[dict[str, int]] | None,
    device: str,
    extra_shapes: bool,
) -> list[Plan]:
    """Shapes to check, each with fallbacks to try (in order) if the reference fails on it.
    `instantiate(sizes)` executes the problem at `sizes` (kernelbench.problems.resize). Raises
    TooLargeForCpu where no accepted size fits the CPU's reference budget."""
    plans: list[Plan] = []
    if device == "cuda":
        plans.append((dict(defaults), []))
        if extra_shapes:
            extras = [defaults | c for c in check_sizes] if check_sizes else [vary(defaults)]
            plans.extend((s, []) for s in extras)
        return plans
    if check_sizes:
        shapes = [defaults | c for c in check_sizes]
        plans.append((shapes[0], []))
        if extra_shapes:
            plans.extend((s, []) for s in shapes[1:])
            if len(shapes) == 1:
                plans.append((vary(shapes[0]), []))
        return plans
    return _generic_cpu(instantiate, defaults, extra_shapes)


def random_varying(defaults: dict[str, int], check_sizes: list[dict[str, int]] | None) -> list[str]:
    """The sizes the random shape redraws: the keys of `CHECK_SIZES`, else the sites >= 32."""
    if check_sizes:
        return sorted(set().union(*(c.keys() for c in check_sizes)))
    return sorted(k for k, v in defaults.items() if v >= 32)


def random_shape(
    base: dict[str, int], varying: list[str], rng: random.Random, *, keep_factors: bool = False
) -> dict[str, int]:
    """`base` with its free extents redrawn within the documented bounds (module doc).

    With `keep_factors`, an extent that divides a larger size (a group count, a head count,
    a tile) is kept, and an extent divisible by kept sizes is drawn as a multiple of the
    largest of them, so that `channels % groups == 0`-style relations survive the draw."""
    ints = {k: v for k, v in base.items() if isinstance(v, int) and not isinstance(v, bool)}
    candidates = [k for k in varying if ints.get(k, 0) >= 4]
    factors = (
        {k for k in candidates if any(v > ints[k] and v % ints[k] == 0 for v in ints.values())}
        if keep_factors
        else set()
    )
    free = [k for k in candidates if k not in factors]
    kept = [v for k, v in ints.items() if k not in free and v >= 2]
    drawn = dict(base)
    step: dict[str, int] = {}
    for key in free:
        v = ints[key]
        step[key] = max([f for f in kept if v % f == 0], default=1)
        m = v // step[key]
        drawn[key] = step[key] * rng.randint(max(1, -(-m // 2)), m + 1)
    odd = [k for k in free if step[k] == 1]
    if odd:  # a partial block for every power-of-two block size, in the largest extent
        biggest = max(odd, key=lambda k: drawn[k])
        drawn[biggest] |= 1
    if free and all(pow2(drawn[k]) for k in free):
        key = free[0]
        while pow2(drawn[key]):
            drawn[key] += step[key]
    return drawn


def first_working(
    candidates: list[dict[str, int]], works: Callable[[dict[str, int]], str | None]
) -> tuple[dict[str, int] | None, list[str]]:
    """The first shape on which `works` returns None (no error); errors seen on the way."""
    errors: list[str] = []
    for sizes in candidates:
        err = works(sizes)
        if err is None:
            return sizes, errors
        errors.append(f"{sizes}: {err}")
    return None, errors

"""Which input shapes a candidate is checked on.

On a GPU: the problem's default sizes (all seeded trials), plus each `CHECK_SIZES` entry,
or else one *varied* shape (see below), one trial each.

On the CPU (the Triton interpreter is ~1000x slower than a GPU): the `CHECK_SIZES`
entries, the first one with all seeded trials; a problem with a single entry also gets
that entry varied. A problem without `CHECK_SIZES` (e.g. an unchanged KernelBench file)
gets the generic rule:

1. *Extents* are the module-level int constants >= 32 (smaller ones — axes, kernel sizes,
   strides, head counts — are kept as they are).
2. All extents are halved together (never below 16) until the inputs hold at most
   32768 elements and the reference's forward counts at most 8 MFLOP (both measured on
   PyTorch's meta device, which allocates nothing). Halving keeps ratios and power-of-two
   divisibility between sizes.
3. A second, *varied* shape takes each extent `v` to `v - v // 8 - 1`, which is never a
   power of two, to exercise masking of partial blocks.

Every evaluation also draws one *random* shape from a secret seed: each varying size (the
keys of `CHECK_SIZES`, else the extents of rule 1) of the first shape that is >= 4, value
`v`, is drawn uniformly from [ceil(v/2), v + 1], so the drawn shape costs at most about as
much as the first one. If the reference fails on two such draws (a size must divide
another), two more keep the sizes that divide a larger one (group and head counts stay)
and draw a size divisible by kept ones, largest `d`, as `d * m'`, `m'` uniform in
[ceil(v/d/2), v/d + 1]. The
largest drawn extent with d = 1 is made odd (a partial block for any power-of-two block);
if every drawn extent is still a power of two, one is moved off it. A kernel right only at the
shapes a problem file names is caught there; the drawn sizes are in the result.

Any planned shape on which the reference itself fails (e.g. a size that must divide
another) is backed off one halving at a time, or dropped for varied shapes, and the
dropped shape is listed in the result.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from types import ModuleType

log = logging.getLogger(__name__)

EXTENT_MIN = 32
EXTENT_FLOOR = 16
CPU_MAX_INPUT_ELEMENTS = 32768
CPU_MAX_FLOPS = 8e6
MAX_HALVINGS = 16


def is_extent(value: int) -> bool:
    return value >= EXTENT_MIN


def shrink(sizes: dict[str, int], halvings: int) -> dict[str, int]:
    return {k: max(EXTENT_FLOOR, v >> halvings) if is_extent(v) else v for k, v in sizes.items()}


def vary(sizes: dict[str, int]) -> dict[str, int]:
    """The same sizes with every extent (>= EXTENT_FLOOR) moved off powers of two."""
    return {k: v - v // 8 - 1 if v >= EXTENT_FLOOR else v for k, v in sizes.items()}


def estimate_work(module: ModuleType, sizes: dict[str, int]) -> tuple[int, float | None]:
    """(input elements, forward FLOPs or None) at `sizes`, on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from kernelbench.loading import set_sizes

    set_sizes(module, sizes)
    with torch.device("meta"):
        inputs = list(module.get_inputs())
        numel = sum(t.numel() for t in inputs if isinstance(t, torch.Tensor))
        flops: float | None = None
        try:
            model = module.Model(*module.get_init_inputs())
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(*inputs)
            flops = float(counter.get_total_flops())
        except Exception as exc:  # noqa: BLE001 - many ops lack meta kernels; FLOPs are optional
            log.debug("meta forward failed (%s); shrinking by input size only", exc)
    return numel, flops


def cpu_halvings(module: ModuleType, sizes: dict[str, int]) -> int:
    """Fewest halvings that bring the inputs and FLOPs within the CPU budget."""
    for h in range(MAX_HALVINGS + 1):
        candidate = shrink(sizes, h)
        try:
            numel, flops = estimate_work(module, candidate)
        except Exception as exc:  # noqa: BLE001 - get_inputs not meta-friendly
            log.debug("meta get_inputs failed (%s); using the size heuristic", exc)
            if max((v for v in candidate.values() if is_extent(v)), default=0) <= 64:
                return h
            continue
        if numel <= CPU_MAX_INPUT_ELEMENTS and (flops is None or flops <= CPU_MAX_FLOPS):
            return h
        if candidate == shrink(sizes, h + 1):
            return h  # nothing left to shrink
    return MAX_HALVINGS


def plan_shapes(
    module: ModuleType,
    defaults: dict[str, int],
    check_sizes: list[dict[str, int]] | None,
    device: str,
    extra_shapes: bool,
) -> list[tuple[dict[str, int], list[dict[str, int]]]]:
    """Shapes to check, each with fallbacks to try (in order) if the reference fails on it."""
    plans: list[tuple[dict[str, int], list[dict[str, int]]]] = []
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
    h = cpu_halvings(module, defaults)
    base = shrink(defaults, h)
    backoffs = [shrink(defaults, k) for k in range(h - 1, -1, -1)]
    plans.append((base, backoffs))
    if extra_shapes:
        plans.append((vary(base), []))
    return plans


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
    if free and all(_pow2(drawn[k]) for k in free):
        key = free[0]
        while _pow2(drawn[key]):
            drawn[key] += step[key]
    return drawn


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


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

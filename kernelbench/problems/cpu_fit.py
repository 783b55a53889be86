"""The generic rule's CPU check sizes for a problem without CHECK_SIZES (docs/evaluation.md, "Which
shapes are checked"): the largest shrink of its size sites that fits the interpreter's
budget, found on the meta device from the smallest shrink up (a small forward is cheap to
trace, a full-size recurrent one can take a minute), then shrunk site by site where the
problem refuses smaller sizes for some of them; refused if even that is too large for the
reference on a CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType

from kernelbench.problems.meta_work import Work, measure

log = logging.getLogger(__name__)

EXTENT_MIN = 32
EXTENT_FLOOR = 16
CPU_MAX_INPUT_ELEMENTS = 32768
CPU_MAX_FLOPS = 8e6
MAX_HALVINGS = 16
# What the reference itself may cost per forward at its check sizes (it runs ~5 times per
# evaluation on 2 cores; past this a problem is not evaluable on the CPU).
REFERENCE_MAX_FLOPS = 40e9
REFERENCE_MAX_BYTES = 2 * 2**30
BATCH_NAMES = ("batch", "batch_size", "bs")  # shrunk below EXTENT_MIN, down to 1, if need be
# A forward this heavy at the floor takes minutes per trial under the interpreter: a batch
# of extent size (AlexNet's 1024, fixed 224x224 images) then goes below the floor, to 2.
INTERPRETER_HEAVY_FLOPS = 2e9


class TooLargeForCpu(ValueError):
    """Even the smallest sizes the problem accepts exceed the CPU's reference budget."""


def is_extent(value: int) -> bool:
    return value >= EXTENT_MIN


def shrink(sizes: dict[str, int], halvings: int) -> dict[str, int]:
    return {k: max(EXTENT_FLOOR, v >> halvings) if is_extent(v) else v for k, v in sizes.items()}


def fits_interpreter(work: Work) -> bool:
    return (work.input_elements or 0) <= CPU_MAX_INPUT_ELEMENTS and (
        work.flops is None or work.flops <= CPU_MAX_FLOPS
    )


def pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _nearby(v: int, step: int) -> Iterator[int]:
    """Values to try for a repeated `v`, nearest first."""
    if step < 0:  # down, and off powers of two
        yield from (u for u in range(v - 1, 1, -1) if not pow2(u))
        return
    by = min(4, v & -v)  # keeps v's divisibility by 2 and 4 (group and head counts)
    for k in range(1, 64):
        if v - k * by >= max(2, by):
            yield v - k * by
        yield v + k * by


def distinct(sizes: dict[str, int], keys: list[str], step: int) -> dict[str, int]:
    """`sizes` with none of `keys` equal to another size >= 8: a repeated value moves to the
    nearest unused one (by multiples of its lowest set bit, at most 4, when step > 0; down
    and off powers of two when step < 0)."""
    out = dict(sizes)
    # sizes that stay put count too (a batch of 16 beside an extent shrunk to 16)
    used = {v for k, v in sizes.items() if k not in keys and v >= EXTENT_FLOOR // 2}
    for key in keys:
        v = sizes[key]
        if v in used or (step < 0 and pow2(v)):
            v = next((u for u in _nearby(v, step) if u not in used), v)
        out[key] = v
        used.add(v)
    return out


@dataclass
class Fit:
    sizes: dict[str, int]
    work: Work | None  # None: the forward never ran on meta (chosen by input size)
    halvings: int

    @property
    def meta_blind(self) -> bool:
        return self.work is None


class Measured:
    """Meta measurements of one problem, cached by sizes."""

    def __init__(self, instantiate: Callable[[dict[str, int]], ModuleType]) -> None:
        self.instantiate = instantiate
        self.cache: dict[tuple[tuple[str, int], ...], Work] = {}

    def __call__(self, sizes: dict[str, int]) -> Work:
        key = tuple(sorted(sizes.items()))
        if key not in self.cache:
            try:
                self.cache[key] = measure(self.instantiate(sizes))
            except Exception as exc:  # noqa: BLE001 - the module itself refuses the sizes
                self.cache[key] = Work(error=f"executing the problem: {type(exc).__name__}: {exc}")
        return self.cache[key]

    def ran_within(self, sizes: dict[str, int]) -> bool:
        """Measured already, and within the reference's budget."""
        work = self.cache.get(tuple(sorted(sizes.items())))
        return work is not None and work.ran and (work.flops or 0) <= REFERENCE_MAX_FLOPS


def _ladder(defaults: dict[str, int]) -> list[dict[str, int]]:
    ladder = [dict(defaults)]
    for h in range(1, MAX_HALVINGS + 1):
        s = shrink(defaults, h)
        if s == ladder[-1]:
            break
        ladder.append(s)
    return ladder


def _by_input_size(ladder: list[dict[str, int]], measured: Measured) -> Fit:
    """Meta cannot run the forward (e.g. `.item()`): the fewest halvings whose inputs fit."""
    for h, sizes in enumerate(ladder):
        elements = measured(sizes).input_elements
        if elements is None:
            if max((v for v in sizes.values() if is_extent(v)), default=0) <= 64:
                return Fit(sizes, None, h)
        elif elements <= CPU_MAX_INPUT_ELEMENTS:
            return Fit(sizes, None, h)
    return Fit(ladder[-1], None, len(ladder) - 1)


def _site_by_site(defaults: dict[str, int], fit: Fit, measured: Measured) -> Fit:
    """Halve one site at a time (largest first) where the whole-set halving was refused."""
    assert fit.work is not None
    sizes, work = fit.sizes, fit.work
    keys = [k for k, v in defaults.items() if is_extent(v) or (k in BATCH_NAMES and v >= 2)]
    refused: set[str] = set()
    while not fits_interpreter(work):
        for key in sorted((k for k in keys if k not in refused), key=lambda k: -sizes[k]):
            floor = EXTENT_FLOOR if is_extent(defaults[key]) else 1
            smaller = max(floor, sizes[key] // 2)
            if smaller == sizes[key]:
                refused.add(key)
                continue
            trial = sizes | {key: smaller}
            got = measured(trial)
            if got.ran:
                sizes, work = trial, got
                break
            refused.add(key)
        else:
            break
    return _fewer_samples(sizes, work, fit.halvings, measured)


def _fewer_samples(sizes: dict[str, int], work: Work, halvings: int, measured: Measured) -> Fit:
    """Past INTERPRETER_HEAVY_FLOPS with every site at its floor (a network whose image
    size is fixed), a batch of 16 or more is halved further, down to 2 (so that the batch
    stride is still exercised), while the forward stays that heavy."""
    batch = next((k for k in BATCH_NAMES if sizes.get(k, 0) > 2), None)
    while batch is not None and (work.flops or 0) > INTERPRETER_HEAVY_FLOPS and sizes[batch] > 2:
        trial = sizes | {batch: max(2, sizes[batch] // 2)}
        got = measured(trial)
        if not got.ran:
            break
        sizes, work = trial, got
    return Fit(sizes, work, halvings)


def fit_cpu(
    instantiate: Callable[[dict[str, int]], ModuleType], defaults: dict[str, int]
) -> tuple[Fit, Measured]:
    """The CPU check sizes and the (cached) meta measurer used to find them."""
    measured = Measured(instantiate)
    ladder = _ladder(defaults)
    chosen: Fit | None = None
    for h in range(len(ladder) - 1, -1, -1):  # from the smallest shrink up
        work = measured(ladder[h])
        if not work.ran:
            if chosen is not None:
                break
            continue
        if chosen is None or fits_interpreter(work):
            chosen = Fit(ladder[h], work, h)
        if not fits_interpreter(work):
            break
    if chosen is None:
        return _by_input_size(ladder, measured), measured
    if chosen.work is not None and not fits_interpreter(chosen.work):
        chosen = _site_by_site(defaults, chosen, measured)
    assert chosen.work is not None
    flops, nbytes = chosen.work.flops or 0.0, chosen.work.bytes or 0.0
    if flops > REFERENCE_MAX_FLOPS or nbytes > REFERENCE_MAX_BYTES:
        raise TooLargeForCpu(
            f"too large for a CPU: at its smallest accepted sizes {chosen.sizes} one forward "
            f"needs ~{flops / 1e9:.1f} GFLOP and {nbytes / 2**30:.2f} GiB (budget "
            f"{REFERENCE_MAX_FLOPS / 1e9:.0f} GFLOP, {REFERENCE_MAX_BYTES / 2**30:.0f} GiB)"
        )
    return chosen, measured

"""What a reference forward costs, estimated on PyTorch's meta device (nothing is allocated
and nothing computed): input elements, FLOPs, and the bytes it would allocate. The size
planner (kernelbench.problems.sizes) uses it to choose CPU check shapes before anything runs, so
that no reference is killed for memory or runs for minutes."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Work:
    input_elements: int | None = None  # None: get_inputs() cannot run on meta
    flops: float | None = None  # None: the forward cannot run on meta
    # parameters + inputs + every op's outputs: an upper bound on the forward's peak memory
    bytes: float | None = None
    error: str | None = None  # why get_inputs()/Model/forward failed on meta
    # the roofline's inputs: bytes of inputs + outputs + parameters (the least a kernel must
    # move) and the dtype of the largest floating tensor among them
    min_bytes: float | None = None
    dtype: str | None = None

    @property
    def ran(self) -> bool:
        return self.flops is not None


def _tensor_bytes(values: Any) -> int:
    import torch  # noqa: PLC0415 - heavy library, imported where used
    from torch.utils._pytree import tree_leaves  # noqa: PLC0415 - heavy library, imported where used

    return sum(
        t.numel() * t.element_size() for t in tree_leaves(values) if isinstance(t, torch.Tensor)
    )


def measure(module: ModuleType) -> Work:
    """The work of one forward of `module` (a problem executed at the sizes to measure)."""
    import torch  # noqa: PLC0415 - heavy library, imported where used
    from torch.utils._python_dispatch import TorchDispatchMode  # noqa: PLC0415 - heavy library, imported where used
    from torch.utils._pytree import tree_leaves  # noqa: PLC0415 - heavy library, imported where used
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415 - heavy library, imported where used

    class Allocations(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            Allocations.total += _tensor_bytes(out)
            return out

    work = Work()
    with torch.device("meta"):
        try:
            inputs = list(module.get_inputs())
        except Exception as exc:  # noqa: BLE001 - e.g. data-dependent get_inputs
            work.error = f"get_inputs() on meta: {type(exc).__name__}: {exc}"
            return work
        work.input_elements = sum(t.numel() for t in inputs if isinstance(t, torch.Tensor))
        try:
            model = module.Model(*module.get_init_inputs())
            counter = FlopCounterMode(display=False)
            Allocations.total = 0
            with counter, Allocations(), torch.no_grad():
                outputs = model(*inputs)
        except Exception as exc:  # noqa: BLE001 - a size the model refuses, or no meta kernel
            work.error = (
                f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            )
            log.debug("meta forward failed: %s", work.error)
            return work
        work.flops = float(counter.get_total_flops())
        fixed = _tensor_bytes(inputs) + _tensor_bytes(list(model.state_dict().values()))
        work.bytes = float(fixed + Allocations.total)
        _roofline_facts(work, [*tree_leaves(inputs), *tree_leaves(outputs), *model.parameters()])
    return work


def _roofline_facts(work: Work, values: list[Any]) -> None:
    import torch  # noqa: PLC0415 - heavy library, imported where used

    tensors = [t for t in values if isinstance(t, torch.Tensor)]
    floating = [t for t in tensors if t.is_floating_point()]
    work.dtype = str(max(floating, key=lambda t: t.numel()).dtype) if floating else None
    work.min_bytes = float(sum(t.numel() * t.element_size() for t in tensors))


def estimate_work(module: ModuleType, sizes: dict[str, int]) -> tuple[int, float | None]:
    """(input elements, forward FLOPs or None) of a module imported once, its constants
    set to `sizes` (a problem with CHECK_SIZES, whose sizes nothing derives from)."""
    from kernelbench.problems.loading import set_sizes  # noqa: PLC0415 - heavy library, imported where used

    set_sizes(module, sizes)
    work = measure(module)
    if work.input_elements is None:
        raise ValueError(work.error)
    return work.input_elements, work.flops


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block after `seconds` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

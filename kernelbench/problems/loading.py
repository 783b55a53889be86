"""Child-side helpers: import a problem or candidate file, set its sizes, seed, make inputs.

Only the harness steps (inside a sandboxed child process) use these: importing a file
executes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def set_sizes(module: ModuleType, sizes: dict[str, int]) -> None:
    for key, value in sizes.items():
        setattr(module, key, value)


def seed_all(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np  # noqa: PLC0415 - heavy library, imported where used
    except ImportError:
        return
    np.random.seed(seed % 2**32)


def to_device(value: Any, device: str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    return value


def make_inputs(module: ModuleType, sizes: dict[str, int], seed: int, device: str) -> list[Any]:
    """get_inputs() at `sizes`, seeded, generated as the problem writes it, then moved."""
    set_sizes(module, sizes)
    seed_all(seed)
    inputs = module.get_inputs()
    if not isinstance(inputs, list | tuple):
        raise TypeError(f"get_inputs() must return a list or tuple, not {type(inputs).__name__}")
    return [to_device(x, device) for x in inputs]


def make_init_inputs(module: ModuleType, sizes: dict[str, int]) -> list[Any]:
    set_sizes(module, sizes)
    init = module.get_init_inputs()
    if not isinstance(init, list | tuple):
        raise TypeError(f"get_init_inputs() must return a list or tuple, not {type(init).__name__}")
    return list(init)


def arity_error(fn: Any, args: list[Any], what: str) -> str | None:
    """A message if `fn` cannot be called with `args` positionally."""
    try:
        inspect.signature(fn).bind(*args)
    except TypeError as exc:
        return f"{what} cannot take the {len(args)} argument(s) given: {exc}"
    except ValueError:
        return None  # builtins without a signature
    return None


def hash_values(values: list[Any]) -> str:
    """A digest of tensor contents (dtype, shape, bytes) and of other values' reprs."""
    h = hashlib.sha256()
    for v in values:
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            if t.numel():
                h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(v).encode())
    return h.hexdigest()


def cast_floating(value: Any, dtype: torch.dtype | None) -> Any:
    """Floating tensors (in lists and tuples too) cast to `dtype` (KernelBench's precision
    cast; integer tensors keep theirs); everything else as it is. None: no cast."""
    if dtype is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, list | tuple):
        return type(value)(cast_floating(v, dtype) for v in value)
    return value


def copy_matching_state(
    target: torch.nn.Module, state: dict[str, torch.Tensor]
) -> tuple[list[str], list[str]]:
    """Copy reference parameters/buffers into `target` by name where shapes match.

    Returns (the reference names that found no such slot, the target's own names that
    nothing was copied into): with digests of the latter, a caller that knows the
    reference's values tells which reference tensors the target holds anyway (built under
    the same seed)."""
    own = target.state_dict()
    filled: set[str] = set()
    unmatched: list[str] = []
    with torch.no_grad():
        for name, value in state.items():
            mine = own.get(name)
            if mine is not None and mine.shape == value.shape:
                mine.copy_(value.to(mine.device, mine.dtype))
                filled.add(name)
            else:
                unmatched.append(name)
    return unmatched, [n for n in own if n not in filled]

"""Record the Triton launches a candidate makes, so its kernels can be compiled ahead of time
for a GPU arch with exactly the signature, constexprs, num_warps and num_stages it used.

The harness installs the recorder before importing candidate code (inside the sandbox) and
writes the records next to the candidate's outputs; the static profiler reads them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

# torch dtype name -> Triton pointer element type
_TORCH_TO_TRITON = {
    "float32": "fp32",
    "float16": "fp16",
    "bfloat16": "bf16",
    "float64": "fp64",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "bool": "i1",
    "float8_e4m3fn": "fp8e4nv",
    "float8_e5m2": "fp8e5",
}

DEFAULT_NUM_WARPS = 4
DEFAULT_NUM_STAGES = 3


class LaunchRecord(BaseModel):
    """One distinct (kernel, specialization) launch; `count` says how often it ran."""

    kernel: str  # the @triton.jit function's name
    module_file: str | None = None  # the file that defines it (candidate.py)
    signature: dict[str, str] = Field(default_factory=dict)  # arg -> "*fp32" | "i32" | ...
    constexprs: dict[str, Any] = Field(default_factory=dict)
    int_args: dict[str, int] = Field(default_factory=dict)  # runtime ints, for specialization
    num_warps: int = DEFAULT_NUM_WARPS
    num_stages: int = DEFAULT_NUM_STAGES
    grid: list[int] = Field(default_factory=list)
    count: int = 1
    # Compile options passed at launch other than num_warps/num_stages (num_ctas, maxnreg...).
    options: dict[str, Any] = Field(default_factory=dict)
    # Pointer arguments whose address is not 16-byte aligned (Triton specializes on it).
    unaligned: list[str] = Field(default_factory=list)

    def key(self) -> tuple[Any, ...]:
        return (
            self.kernel,
            self.module_file,
            tuple(sorted(self.signature.items())),
            tuple(sorted((k, repr(v)) for k, v in self.constexprs.items())),
            self.num_warps,
            self.num_stages,
            tuple(sorted((k, repr(v)) for k, v in self.options.items())),
            tuple(self.unaligned),
        )

    def compile_spec(self) -> dict[str, Any]:
        """What a compile of this launch depends on (the compile-cache key part)."""
        return {
            "kernel": self.kernel,
            "signature": self.signature,
            "constexprs": self.constexprs,
            "specialized_ints": {k: _int_specialization(v) for k, v in self.int_args.items()},
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
            "options": self.options,
            "unaligned": sorted(self.unaligned),
        }


def verified_token(record: LaunchRecord) -> str:
    """What compiling one launch for the target verifies: its kernel with these argument
    types and constexprs (which choose the body's code paths at compile time). The replay
    runs a launch only if its token is among those verified (issue 28, point 2)."""
    text = json.dumps(
        [
            record.kernel,
            sorted(record.signature.items()),
            sorted((k, repr(v)) for k, v in record.constexprs.items()),
        ]
    )
    return "triton:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def cuda_token(source: str) -> str:
    """The token of a CUDA source nvcc compiled for the target."""
    return "cuda:" + hashlib.sha256(source.encode()).hexdigest()[:32]


def _int_specialization(value: int) -> str:
    """How Triton specializes an int argument: equal to 1, divisible by 16, or neither."""
    if value == 1:
        return "one"
    return "div16" if value % 16 == 0 else "any"


# Launch keyword arguments that are compile options (not kernel parameters).
COMPILE_OPTIONS = (
    "num_ctas",
    "maxnreg",
    "enable_fp_fusion",
    "launch_cooperative_grid",
    "launch_pdl",
)


def _arg_type(value: Any) -> str | None:
    """Triton signature type of a runtime argument, or None if it is not a kernel argument."""
    import torch  # noqa: PLC0415 - heavy library, imported where used

    if isinstance(value, torch.Tensor):
        return "*" + _TORCH_TO_TRITON.get(str(value.dtype).removeprefix("torch."), "fp32")
    if isinstance(value, bool):
        return "i1"
    if isinstance(value, int):
        return "i32" if -(2**31) <= value < 2**31 else "i64"
    if isinstance(value, float):
        return "fp32"
    return None


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a constexpr value; Triton and torch dtypes are tagged so the
    profiler can turn them back into Triton dtypes."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    cls = type(value)
    if cls.__name__ == "dtype" and cls.__module__.startswith("triton"):
        return {"tl_dtype": str(getattr(value, "name", value))}
    if cls.__name__ == "dtype" and cls.__module__.startswith("torch"):
        name = str(value).removeprefix("torch.")
        return {"tl_dtype": _TORCH_TO_TRITON.get(name, name)}
    return repr(value)


class LaunchRecorder:
    """Collects LaunchRecords; `total_launches` counts every non-warmup launch."""

    def __init__(self) -> None:
        self._records: dict[tuple[Any, ...], LaunchRecord] = {}
        self.total_launches = 0

    @property
    def records(self) -> list[LaunchRecord]:
        return list(self._records.values())

    def observe(
        self, jit_fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], grid: Any
    ) -> None:
        fn = getattr(jit_fn, "fn", None)
        if fn is None:
            return
        self.total_launches += 1
        try:
            record = record_of(fn, args, kwargs, grid)
        except (TypeError, ValueError) as exc:  # a launch we cannot describe still counts
            log.debug("could not describe launch of %s: %s", getattr(fn, "__name__", fn), exc)
            return
        key = record.key()
        if key in self._records:
            self._records[key].count += 1
        else:
            self._records[key] = record


def record_of(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], grid: Any
) -> LaunchRecord:
    """The record of one launch of `fn` with these arguments (the replay checks a launch
    it is about to make with it, keyword arguments only)."""
    sig = inspect.signature(fn)
    params = sig.parameters
    call_kwargs = {k: v for k, v in kwargs.items() if k in params}
    bound = sig.bind_partial(*args, **call_kwargs)
    bound.apply_defaults()
    signature: dict[str, str] = {}
    constexprs: dict[str, Any] = {}
    int_args: dict[str, int] = {}
    unaligned: list[str] = []
    for name, param in params.items():
        if name not in bound.arguments:
            continue
        value = bound.arguments[name]
        annotation = param.annotation
        ann = "" if annotation is inspect.Parameter.empty else str(annotation)
        if "constexpr" in ann:
            constexprs[name] = _plain(getattr(value, "value", value))
            continue
        ty = _arg_type(value)
        if ty is None:
            constexprs[name] = _plain(value)  # None and the like are specialized away
            continue
        signature[name] = ty
        if isinstance(value, int) and not isinstance(value, bool):
            int_args[name] = value
        elif ty.startswith("*") and value.data_ptr() % 16 != 0:
            unaligned.append(name)
    grid_value = grid(dict(bound.arguments) | dict(kwargs)) if callable(grid) else grid
    grid_list = [
        int(g) for g in (grid_value if isinstance(grid_value, tuple | list) else [grid_value])
    ]
    return LaunchRecord(
        kernel=fn.__name__,
        module_file=inspect.getsourcefile(fn),
        signature=signature,
        constexprs=constexprs,
        int_args=int_args,
        num_warps=int(kwargs.get("num_warps") or DEFAULT_NUM_WARPS),
        num_stages=int(kwargs.get("num_stages") or DEFAULT_NUM_STAGES),
        grid=grid_list,
        options={k: _plain(kwargs[k]) for k in COMPILE_OPTIONS if kwargs.get(k) is not None},
        unaligned=unaligned,
    )


@contextmanager
def record_triton_launches() -> Iterator[LaunchRecorder]:
    """Wrap the `run` of Triton's JIT and interpreter kernel classes while the block runs."""
    from triton.runtime import interpreter, jit  # noqa: PLC0415 - heavy library, imported where used

    recorder = LaunchRecorder()
    classes = [jit.JITFunction, interpreter.InterpretedFunction]
    originals = {cls: cls.run for cls in classes}

    def make_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> Any:
            if not warmup:
                recorder.observe(self, args, kwargs, grid)
            return original(self, *args, grid=grid, warmup=warmup, **kwargs)

        return run

    for cls, original in originals.items():
        cls.run = make_wrapper(original)
    try:
        yield recorder
    finally:
        for cls, original in originals.items():
            cls.run = original

"""Shims for what legitimate GPU kernel files use and Triton's interpreter cannot run
(TRITON_INTERPRET=1, the CPU; issue 28, point 5): `triton.autotune` with several configs
runs the first config (after pruning) without benchmarking, since there is no GPU
benchmarker; libdevice functions (`triton.language.extra.libdevice`,
`...extra.cuda.libdevice`), whose interpreter versions return None, run as the matching
`tl.math` builtin or a numpy elementwise function on the block's values. Installed by the
runner's guard and by the replay step."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any


def _first_config(kernel_call: Callable[[], Any], quantiles: Any = None, **_: Any) -> Any:
    """The autotuner's benchmarker under the interpreter: every config "takes" the same
    time, so the first (after pruning) is chosen; no config is run to time it."""
    return [0.0] * len(quantiles) if quantiles else 0.0


def _numpy_table() -> dict[str, tuple[Callable[..., Any], bool]]:
    """libdevice name -> (numpy elementwise function, result is int32)."""
    import numpy as np  # noqa: PLC0415 - preloaded by the runner; only the interpreter needs it

    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    table: dict[str, tuple[Callable[..., Any], bool]] = {}
    for name, np_name in (
        ("tanh", "tanh"), ("tan", "tan"), ("sinh", "sinh"), ("cosh", "cosh"),
        ("atan", "arctan"), ("asin", "arcsin"), ("acos", "arccos"), ("asinh", "arcsinh"),
        ("acosh", "arccosh"), ("atanh", "arctanh"), ("log10", "log10"), ("log1p", "log1p"),
        ("expm1", "expm1"), ("atan2", "arctan2"), ("hypot", "hypot"), ("pow", "power"),
        ("fmod", "fmod"), ("copysign", "copysign"), ("nextafter", "nextafter"),
        ("trunc", "trunc"), ("rint", "rint"), ("nearbyint", "rint"), ("cbrt", "cbrt"),
        ("fast_tanhf", "tanh"), ("fast_tanf", "tan"), ("fast_expf", "exp"),
        ("fast_logf", "log"), ("fast_log2f", "log2"), ("fast_log10f", "log10"),
        ("fast_sinf", "sin"), ("fast_cosf", "cos"), ("fast_powf", "power"),
        ("sqrt_rz", "sqrt"), ("sqrt_rd", "sqrt"), ("sqrt_ru", "sqrt"),
    ):  # fmt: skip
        table[name] = (getattr(np, np_name), False)
    for name in ("isnan", "isinf", "signbit"):
        table[name] = (getattr(np, name), True)
    table["finitef"] = table["isfinited"] = (np.isfinite, True)
    table["erfc"] = (erfc, False)
    table["normcdf"] = (lambda x: 0.5 * erfc(-x / math.sqrt(2.0)), False)
    table["lgamma"] = (np.vectorize(math.lgamma, otypes=[np.float64]), False)
    table["tgamma"] = (np.vectorize(math.gamma, otypes=[np.float64]), False)
    table["exp10"] = table["fast_exp10f"] = (lambda x: np.power(10.0, x), False)
    table["sinpi"] = (lambda x: np.sin(np.pi * x), False)
    table["cospi"] = (lambda x: np.cos(np.pi * x), False)
    table["rcbrt"] = (lambda x: 1.0 / np.cbrt(x), False)
    table["round"] = (lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5), False)
    table["fdim"] = (lambda x, y: np.maximum(x - y, 0), False)
    table["remainder"] = (lambda x, y: x - np.rint(x / y) * y, False)
    table["saturatef"] = (lambda x: np.clip(x, 0.0, 1.0), False)
    table["rsqrt_rn"] = (lambda x: 1.0 / np.sqrt(x), False)
    table["fast_dividef"] = (lambda x, y: x / y, False)
    for suffix in ("rn", "rz", "rd", "ru"):
        table[f"add_{suffix}"] = (lambda x, y: x + y, False)
        table[f"sub_{suffix}"] = (lambda x, y: x - y, False)
        table[f"mul_{suffix}"] = (lambda x, y: x * y, False)
        table[f"rcp_{suffix}"] = (lambda x: 1.0 / x, False)
        table[f"fma_{suffix}"] = (lambda x, y, z: x * y + z, False)
        if suffix != "rn":
            table[f"div_{suffix}"] = (lambda x, y: x / y, False)
    return table


def _numpy_shim(fn: Callable[..., Any], int_result: bool) -> Callable[..., Any]:
    import numpy as np  # noqa: PLC0415 - preloaded by the runner; only the interpreter needs it
    import triton.language as tl  # noqa: PLC0415 - only under the interpreter
    from triton.runtime.interpreter import TensorHandle  # noqa: PLC0415 - only under the interpreter

    def shim(*args: Any, **kwargs: Any) -> Any:
        values = [*args, *(v for k, v in kwargs.items() if not k.startswith("_"))]
        tensors = [a for a in values if isinstance(a, tl.core.tensor)]
        if not tensors:
            plain = [np.asarray(getattr(a, "value", a)) for a in values]
            return np.asarray(fn(*plain)).item()
        ref = max(tensors, key=lambda t: t.handle.data.size)
        np_dtype = ref.handle.data.dtype
        data = [
            a.handle.data
            if isinstance(a, tl.core.tensor)
            else np.asarray(getattr(a, "value", a), dtype=np_dtype)
            for a in values
        ]
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*data))
        out = np.broadcast_to(out, ref.handle.data.shape)
        if int_result:
            ty = ref.type.with_element_ty(tl.int32) if ref.type.is_block() else tl.int32
            return tl.core.tensor(TensorHandle(out.astype(np.int32), tl.int32), ty)
        return tl.core.tensor(TensorHandle(out.astype(np_dtype), ref.handle.dtype.scalar), ref.type)

    return shim


def _math_shim(name: str) -> Callable[..., Any]:
    import triton.language as tl  # noqa: PLC0415 - only under the interpreter

    def shim(*args: Any, **kwargs: Any) -> Any:
        values = [*args, *(v for k, v in kwargs.items() if not k.startswith("_"))]
        return getattr(tl.math, name)(*values)  # patched by the interpreter at each launch

    return shim


def interpreter_shims() -> list[str]:
    """Make multi-config autotune and libdevice math work under the Triton interpreter
    (see the module doc). Returns the libdevice names shimmed; idempotent."""
    try:
        import triton.language as tl  # noqa: PLC0415 - only under the interpreter
        from triton.runtime import autotuner  # noqa: PLC0415 - only under the interpreter
    except ImportError:
        return []
    autotuner.Autotuner.do_bench = property(lambda _self: _first_config)
    table = _numpy_table()
    shimmed: list[str] = []
    for module_name in (
        "triton.language.extra.libdevice",
        "triton.language.extra.cuda.libdevice",
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in dir(module):
            if name.startswith("_") or not callable(getattr(module, name)):
                continue
            if name in table:
                setattr(module, name, _numpy_shim(*table[name]))
            elif hasattr(tl.math, name):
                setattr(module, name, _math_shim(name))
            else:
                continue
            shimmed.append(f"{module_name}.{name}")
    return shimmed

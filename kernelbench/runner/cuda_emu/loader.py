"""Load an emulated extension and call its host functions: tensors go in as their
TensorImpl (shared, not copied), results come back through DLPack."""

from __future__ import annotations

import ctypes
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.utils.dlpack

MAX_ERR = 4096


class Arg(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int64),
        ("i", ctypes.c_int64),
        ("d", ctypes.c_double),
        ("p", ctypes.c_void_p),
        ("n", ctypes.c_int64),
    ]


class Out(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int64),
        ("n", ctypes.c_int64),
        ("i", ctypes.c_int64),
        ("d", ctypes.c_double),
        ("t", ctypes.c_void_p * 64),
    ]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


def _pack(value: Any, keep: list[Any]) -> Arg:
    if value is None:
        return Arg(kind=0)
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise TypeError("the emulated device takes CPU tensors")
        return Arg(kind=1, p=value._cdata)
    if isinstance(value, bool):
        return Arg(kind=4, i=int(value))
    if isinstance(value, int):
        return Arg(kind=2, i=value)
    if isinstance(value, float):
        return Arg(kind=3, d=value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        arr = (ctypes.c_int64 * max(1, len(value)))(*value)
        keep.append(arr)
        return Arg(kind=5, p=ctypes.cast(arr, ctypes.c_void_p), n=len(value))
    if isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value):
        if any(v.device.type != "cpu" for v in value):
            raise TypeError("the emulated device takes CPU tensors")
        keep.append(list(value))
        impls = (ctypes.c_void_p * len(value))(*[v._cdata for v in value])
        keep.append(impls)
        return Arg(kind=6, p=ctypes.cast(impls, ctypes.c_void_p), n=len(value))
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        floats = (ctypes.c_double * len(value))(*value)
        keep.append(floats)
        return Arg(kind=7, p=ctypes.cast(floats, ctypes.c_void_p), n=len(value))
    raise TypeError(f"argument of type {type(value).__name__} is outside the emulated surface")


RECORD_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p)


class LaunchCounter:
    """Kernel launches on the emulated device in this process, over every emulated module
    (the candidate step reads it around each forward)."""

    total = 0


def emulated_launches() -> int:
    return LaunchCounter.total


def _unpack(out: Out) -> Any:
    """As pybind11 returns it: a tensor, a list (std::vector, even of one), a tuple."""
    if out.kind in (1, 5, 6):
        tensors = [
            torch.utils.dlpack.from_dlpack(_capsule_new(out.t[k], b"dltensor", None))
            for k in range(out.n)
        ]
        if out.kind == 5:
            return tensors
        return tuple(tensors) if out.kind == 6 else tensors[0]
    return {0: None, 2: out.i, 3: out.d, 4: bool(out.i)}[int(out.kind)]


class EmulatedModule:
    """What load_inline returns under the emulator: one attribute per exported function.
    Every call runs its launches in a fresh thread order drawn from a secret seed."""

    def __init__(
        self, name: str, path: Path, fibers: bool, recorder: Callable[[bytes], None] | None = None
    ) -> None:
        self.__name__ = name
        self._lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
        if recorder is not None:  # the blind pass: launches are written down, not run
            self._on_record = RECORD_FN(recorder)  # kept alive as long as the module
            self._lib.kw_set_recorder(self._on_record)
        self._lib.kw_function_name.restype = ctypes.c_char_p
        self._lib.kw_launch_count.restype = ctypes.c_int64
        self._lib.kw_call.argtypes = [
            ctypes.c_int, ctypes.POINTER(Arg), ctypes.c_int, ctypes.POINTER(Out),
            ctypes.c_char_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_int,
        ]  # fmt: skip
        self._fibers = fibers
        for i in range(self._lib.kw_nfunctions()):
            fn_name = self._lib.kw_function_name(i).decode()
            setattr(self, fn_name, self._caller(i, fn_name))

    def _caller(self, index: int, fn_name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            keep: list[Any] = []
            packed = (Arg * max(1, len(args)))(*[_pack(a, keep) for a in args])
            out, err = Out(), ctypes.create_string_buffer(MAX_ERR)
            seed, fibers = secrets.randbits(64), int(self._fibers)
            try:
                rc = self._lib.kw_call(
                    index, packed, len(args), ctypes.byref(out), err, MAX_ERR, seed, fibers
                )
            finally:
                LaunchCounter.total += int(self._lib.kw_launch_count())
            if rc:
                raise RuntimeError(f"{fn_name}: {err.value.decode(errors='replace')}")
            return _unpack(out)

        call.__name__ = fn_name
        return call

"""Build an emulated extension: the candidate's sources, rewritten, compiled as one C++
shared object against torch's headers and the kernelwright runtime header.

The runtime header is precompiled (`prepare_pch`) by the trusted caller into the shared
cache, which the sandboxed candidate step only reads (`KWRIGHT_CUDA_EMU_PCH` names it).
The candidate's own build is cached per evaluation only (a fresh folder under the step's
private TMPDIR, plus an in-process memo by content), so no candidate can plant a build for
another one to load."""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kernelbench.runner.cuda_emu.rewrite import to_cpp
from profiler.cache import cache_root

log = logging.getLogger(__name__)

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
PRELUDE = "kw_cuda.h"
PCH_ENV = "KWRIGHT_CUDA_EMU_PCH"
COMPILE_TIMEOUT_S = 300


class EmuBuildError(Exception):
    """g++ rejected the rewritten source; `log` is its output."""

    def __init__(self, log_text: str) -> None:
        super().__init__("the emulator's C++ build failed")
        self.log = log_text


# When torch's cpp_extension names no standard (a future rewrite): torch 2.13 already
# builds with C++20 and 2.14's headers need it (`requires` in TensorBase.h).
FALLBACK_STD = "c++20"
_STD_FLAG = re.compile(r"-std=(c\+\+\d+)")


@functools.lru_cache(maxsize=1)
def cxx_standard() -> str:
    """The C++ standard the installed torch's own `cpp_extension` compiles host code with
    (the `-std=` of the build it writes for `load`/`load_inline`; c++20 in torch 2.13 and
    2.14, read here): the highest one named there, else FALLBACK_STD."""
    import torch.utils.cpp_extension as cpp_ext  # noqa: PLC0415 - heavy library, imported where used

    try:
        source = inspect.getsource(cpp_ext._write_ninja_file_to_build_library)
    except (AttributeError, OSError, TypeError):
        return FALLBACK_STD
    found = _STD_FLAG.findall(source)
    return max(found, key=lambda s: int(s.removeprefix("c++"))) if found else FALLBACK_STD


@functools.lru_cache(maxsize=1)
def compile_flags() -> tuple[str, ...]:
    import torch  # noqa: PLC0415 - heavy library, imported where used
    import torch.utils.cpp_extension as cpp_ext  # noqa: PLC0415 - heavy library, imported where used

    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    flags = [f"-std={cxx_standard()}", "-O1", "-fPIC", "-w", f"-D_GLIBCXX_USE_CXX11_ABI={abi}"]
    flags += [f"-I{p}" for p in cpp_ext.include_paths()]
    return (*flags, f"-I{sysconfig.get_paths()['include']}")


@functools.lru_cache(maxsize=1)
def runtime_key() -> str:
    """Everything the precompiled header depends on."""
    import torch  # noqa: PLC0415 - heavy library, imported where used

    h = hashlib.sha256()
    for f in sorted(INCLUDE_DIR.glob("*.h")):
        h.update(f.name.encode() + f.read_bytes())
    version = subprocess.run(["g++", "--version"], capture_output=True, text=True, check=False)
    h.update(
        version.stdout.encode() + torch.__version__.encode() + " ".join(compile_flags()).encode()
    )
    return h.hexdigest()[:24]


def prepare_pch(cache: Path) -> Path | None:
    """Precompile the runtime header into cache/<key>/ (trusted caller only; no candidate
    code is involved). Returns the folder, or None when the build fails (slower, not wrong)."""
    target = cache / runtime_key()
    if (target / f"{PRELUDE}.gch").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="pch-", dir=cache))
    for f in INCLUDE_DIR.glob("*.h"):
        shutil.copy(f, tmp / f.name)
    cmd = [
        "g++",
        *compile_flags(),
        "-x",
        "c++-header",
        str(tmp / PRELUDE),
        "-o",
        str(tmp / f"{PRELUDE}.gch"),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        log.warning("precompiling the emulator's runtime header failed: %s", proc.stderr[-2000:])
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    tmp.chmod(0o755)  # the sandboxed step runs as another user and only reads it
    for f in tmp.iterdir():
        f.chmod(0o644)
    try:
        tmp.rename(target)
    except OSError:  # another process won the race; its entry is as good
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _prelude() -> Path:
    pch = os.environ.get(PCH_ENV)
    try:
        if pch and os.access(Path(pch) / f"{PRELUDE}.gch", os.R_OK):
            return Path(pch) / PRELUDE
    except OSError as exc:
        log.info("precompiled runtime header unreadable (%s)", exc)
    log.info("no precompiled runtime header; compiling it with the candidate (slower)")
    return INCLUDE_DIR / PRELUDE


def _function_names(functions: str | Iterable[str] | None) -> list[str]:
    if functions is None:
        return []
    if isinstance(functions, str):
        return [functions]
    return [str(f) for f in functions]  # a list, or a dict name -> docstring


def translation_unit(cpp_sources: str, cuda_sources: str, functions: Any) -> str:
    parts = [to_cpp(cpp_sources), to_cpp(cuda_sources)]
    for i, fn in enumerate(_function_names(functions)):
        parts.append(f'static const int kw_export_{i} = (::kw::Module().def("{fn}", &{fn}), 0);')
    return "\n".join(parts) + "\n"


# The replay's unit registers no module: its host functions are declarations only.
REPLAY_PREFIX = (
    "#undef PYBIND11_MODULE\n"
    "#define PYBIND11_MODULE(name, m) static void kw_module_init(::kw::Module& m)\n"
)

_BUILT: dict[str, Path] = {}
_ROOT: list[Path] = []
_ROOT_LOCK = threading.Lock()


def build(cpp_sources: str, cuda_sources: str, functions: Any, *, replay: bool = False) -> Path:
    """The shared object for these sources (built once per process). `replay`: the blind
    replay's build (`replay_build`: no exported host functions, no module registration)."""
    unit = translation_unit(cpp_sources, cuda_sources, functions)
    if replay:
        unit = REPLAY_PREFIX + unit
    prelude = _prelude()
    key = hashlib.sha256((str(prelude) + runtime_key() + unit).encode()).hexdigest()[:24]
    if key in _BUILT:
        return _BUILT[key]
    with _ROOT_LOCK:  # the replay builds two objects at once
        if not _ROOT:
            _ROOT.append(Path(tempfile.mkdtemp(prefix="kw-cuda-emu-")))
    out = _ROOT[0] / key
    out.mkdir(exist_ok=True)
    (out / "unit.cpp").write_text(unit, encoding="utf-8")
    import torch.utils.cpp_extension as cpp_ext  # noqa: PLC0415 - heavy library, imported where used

    lib = cpp_ext.library_paths()[0]
    cmd = [
        "g++", *compile_flags(), f"-I{prelude.parent}", "-include", str(prelude),
        "-shared", str(out / "unit.cpp"), "-o", str(out / "ext.so"),
        f"-L{lib}", "-lc10", "-ltorch_cpu", f"-Wl,-rpath,{lib}",
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise EmuBuildError((proc.stdout + proc.stderr)[-6000:])
    _BUILT[key] = out / "ext.so"
    return out / "ext.so"


@functools.lru_cache(maxsize=1)
def _prepared(cache: Path) -> Path | None:
    return prepare_pch(cache)


def emulator_step_env() -> dict[str, str]:
    """For the trusted caller: the environment a CUDA-on-CPU candidate step gets (the
    precompiled runtime header, read-only to it). Empty when the header cannot be built."""

    pch = _prepared(cache_root() / "cuda_emu")
    return {PCH_ENV: str(pch)} if pch else {}

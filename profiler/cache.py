"""Content-addressed caches: compiled kernels (shared across candidates) and whole profiles.

Layout under `cache_root()` (`$KWRIGHT_CACHE_DIR`, else `$KWRIGHT_HOME/cache`, else
`~/.kernelwright/cache`):

    compile/<k[:2]>/<k>/meta.json (+ kernel.cubin ...)   one compile: nvcc of a CUDA source,
                                                         or triton.compile of one launch
    profiles/<k[:2]>/<k>.json                            one candidate's kernel facts

A key is the SHA-256 of everything the result depends on: the code (the CUDA source, or
the candidate's extracted Triton kernels), the launch specialization, the arch, compiler
options and the toolchain versions (`toolchain_fingerprint`), plus `PROFILER_VERSION`.

Trust rule. Entries are written only by kernelwright's caller process — the one that
runs `evaluate()`, which never imports candidate code — through `CompileCache.put`, from
results a sandboxed profile step returned. Every entry's value is a function of the code
named in its key alone: a CUDA entry is nvcc's output for exactly that source from a
process that ran no candidate Python; a Triton entry is produced by a process whose only
candidate input was the extracted kernels named in the key, so a hostile kernel can at
worst mislabel its own entries, never another candidate's. Sandboxed steps never receive
the cache directory (no mount, no path, no environment variable), so they cannot write it.
Writes are atomic (a temporary directory renamed into place); an existing entry is never
overwritten.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from profiler.toolchain import find_toolchain
from sandbox.settings import host_settings  # pydantic-settings: only where a cache is used

log = logging.getLogger(__name__)

# Bump when what the profiler extracts from a compile changes (invalidates old entries).
PROFILER_VERSION = "3"  # 2: job results say whether the compiler refused the source; 3: nvcc refusals name the error


def cache_root() -> Path:

    return host_settings().cache_root


def content_key(*parts: Any) -> str:
    """SHA-256 of a canonical JSON rendering of `parts`."""
    text = json.dumps([PROFILER_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version_line(tool: Path | None) -> str:
    if tool is None:
        return "absent"
    try:
        out = subprocess.run(
            [str(tool), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "unknown"


@functools.cache
def toolchain_fingerprint() -> dict[str, str]:
    """Versions of every tool a profile depends on (part of every key)."""

    tc = find_toolchain()
    try:
        triton_version = importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:
        triton_version = "absent"
    found: dict[str, Path | None] = {
        "nvcc": tc.nvcc,
        "ptxas": tc.ptxas,
        "cuobjdump": tc.cuobjdump,
    }
    # Triton compiles sm_80/89 with its bundled ptxas and sm_90+ with ptxas-blackwell.
    if tc.ptxas is not None:
        for name in ("ptxas", "ptxas-blackwell"):
            if (tc.ptxas.parent / name).is_file():
                found[f"triton {name}"] = tc.ptxas.parent / name
    with ThreadPoolExecutor(max_workers=len(found)) as pool:
        versions = dict(zip(found, pool.map(_version_line, found.values()), strict=True))
    return {"triton": triton_version, **versions}


class CacheEntry:
    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta

    def file(self, name: str) -> Path | None:
        p = self.path / name
        return p if p.is_file() else None


class CompileCache:
    """compile/<key>: meta.json plus artifact files. `writable=False` never writes."""

    def __init__(self, root: Path | None = None, *, writable: bool = True) -> None:
        self.root = (root or cache_root()) / "compile"
        self.writable = writable

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> CacheEntry | None:
        path = self._dir(key)
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("compile cache entry %s unreadable (%s); ignoring it", key[:12], exc)
            return None
        return CacheEntry(path, meta)

    def put(self, key: str, meta: dict[str, Any], files: dict[str, Path] | None = None) -> bool:
        """Store an entry atomically; False if not writable or it already exists."""
        if not self.writable:
            return False
        final = self._dir(key)
        if final.exists():
            return False
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
            for name, src in (files or {}).items():
                shutil.copyfile(src, tmp / name)
            (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:  # another process stored the same key first
                shutil.rmtree(tmp, ignore_errors=True)
                return False
        except OSError as exc:
            log.warning("cannot write compile cache entry %s: %s", key[:12], exc)
            return False
        return True


class ProfileCache:
    """profiles/<key>.json: one candidate's profile facts (without the roofline)."""

    def __init__(self, root: Path | None = None, *, writable: bool = True) -> None:
        self.root = (root or cache_root()) / "profiles"
        self.writable = writable

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return self._file(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("profile cache entry %s unreadable: %s", key[:12], exc)
            return None

    def put(self, key: str, text: str) -> bool:
        if not self.writable:
            return False
        path = self._file(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot write profile cache entry %s: %s", key[:12], exc)
            return False
        return True

"""Signatures of problem files, traced in a child process and cached by source digest.

Tracing executes the problem's code (its `Model`, `get_inputs()`), so it runs in a child
(`agents.library.trace_child`) with the harness steps' environment (no secrets, the project
importable) and a time limit, never in this process. A signature depends only on the
source, so it is cached under `<home>/library/signatures/<sha256 of the source>.json`;
a problem whose trace fails has no signature and retrieves nothing (logged once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from agents.library.signature import Signature, from_trace
from sandbox.env import step_env

log = logging.getLogger(__name__)

TRACE_TIMEOUT_S = 120.0  # one child tracing every file it is given
BATCH = 50  # files per child (torch's import is most of a child's time)


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trace_files(paths: list[Path], timeout_s: float = TRACE_TIMEOUT_S) -> dict[Path, Signature]:
    """The signature of each file that traces; failures are logged and left out."""
    found: dict[Path, Signature] = {}
    for start in range(0, len(paths), BATCH):
        batch = paths[start : start + BATCH]
        with tempfile.TemporaryDirectory(prefix="kw-trace-") as scratch:
            work = Path(scratch)
            (work / "tmp").mkdir()
            argv = [sys.executable, "-m", "agents.library.trace_child", *map(str, batch)]
            try:
                proc = subprocess.run(
                    argv, env=step_env(work), cwd=work, capture_output=True, text=True,
                    timeout=timeout_s, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                log.warning(
                    "library: tracing %d problem(s) took over %.0f s", len(batch), timeout_s
                )
                continue
        for line in proc.stdout.splitlines():
            try:
                trace = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "error" in trace:
                log.info("library: no signature for %s: %s", trace.get("path"), trace["error"])
                continue
            found[Path(trace["path"])] = from_trace(trace)
        if proc.returncode != 0:
            log.warning("library: the tracer exited %d: %s", proc.returncode, proc.stderr[-300:])
    return found


def signature_of(path: Path, home: Path) -> Signature | None:
    """A problem file's signature (traced once per source, then read from the cache)."""
    return signatures_of([path], home).get(path)


def signatures_of(paths: list[Path], home: Path) -> dict[Path, Signature]:
    cache = home / "library" / "signatures"
    found: dict[Path, Signature] = {}
    missing: dict[Path, Path] = {}  # path -> its cache file
    for path in paths:
        cached = cache / f"{source_digest(path)}.json"
        try:
            found[path] = Signature.model_validate_json(cached.read_text())
        except (OSError, ValidationError, ValueError):
            missing[path] = cached
    if missing:
        traced = trace_files(list(missing))
        cache.mkdir(parents=True, exist_ok=True)
        for path, sig in traced.items():
            found[path] = sig
            tmp = missing[path].with_suffix(".tmp")
            tmp.write_text(sig.model_dump_json())
            tmp.replace(missing[path])
    return found

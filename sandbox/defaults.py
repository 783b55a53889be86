"""Which sandbox backend runs candidates when the caller does not say, and the shared
long-lived instance that `evaluate()` uses by default (a warm pool is worth keeping)."""

from __future__ import annotations

import atexit
import logging
import os
import threading

from sandbox.base import Sandbox, get_sandbox, sandbox_names
from sandbox.settings import host_settings

log = logging.getLogger(__name__)

DEFAULT_SANDBOX = "local"

_shared: dict[str, tuple[int, Sandbox]] = {}
_lock = threading.Lock()


def default_sandbox_name() -> str:
    """$KWRIGHT_SANDBOX, else `local` (isolated), else `none` if local is not built in."""
    name = host_settings().sandbox
    if name:
        return name
    return DEFAULT_SANDBOX if DEFAULT_SANDBOX in sandbox_names() else "none"


def sandbox_for(name: str | None = None) -> Sandbox:
    """A new sandbox of backend `name`, else of the default one (see above)."""
    return get_sandbox(name or default_sandbox_name())


def shared_sandbox(name: str | None = None) -> Sandbox:
    """One instance per backend name and process, closed at exit (a forked child gets its own)."""
    name = name or default_sandbox_name()
    with _lock:
        entry = _shared.get(name)
        if entry is not None and entry[0] == os.getpid():
            return entry[1]
        box = get_sandbox(name)
        _shared[name] = (os.getpid(), box)
        return box


@atexit.register
def close_shared() -> None:
    with _lock:
        entries = [box for pid, box in _shared.values() if pid == os.getpid()]
        _shared.clear()
    for box in entries:
        try:
            box.close()
        except OSError as exc:
            log.warning("closing sandbox %s: %s", box.name, exc)

"""Which sandbox backend runs candidates when the caller does not say."""

from __future__ import annotations

import os

from sandbox.base import sandbox_names

DEFAULT_SANDBOX = "local"


def default_sandbox_name() -> str:
    """$KWRIGHT_SANDBOX, else `local` (isolated), else `none` if local is not built in."""
    name = os.environ.get("KWRIGHT_SANDBOX")
    if name:
        return name
    return DEFAULT_SANDBOX if DEFAULT_SANDBOX in sandbox_names() else "none"

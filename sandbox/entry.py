"""Calls a step program's entry point in this process: `MODULE.main([MODULE, WORKDIR])`.

The caller of a sandbox names the program (`StepProgram.module`); the sandbox only imports
it by name, after its limits and isolation are in place."""

from __future__ import annotations

import importlib


def runpy_main(module: str, workdir: str) -> int:
    """Import `module` and run its `main(argv)`; its return value is the exit status."""
    entry = getattr(importlib.import_module(module), "main", None)
    if not callable(entry):
        raise SystemExit(f"step program {module} has no main(argv)")
    rc = entry([module, workdir])
    return rc if isinstance(rc, int) else 0

"""Shared CLI plumbing: one console, JSON output, and clean exits with the documented codes.

Exit codes: 0 success / candidate correct; 1 ran but not correct / job failed;
2 bad usage or bad input (one line on stderr naming the file and the fault).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

EXIT_OK = 0
EXIT_NOT_CORRECT = 1
EXIT_BAD_INPUT = 2

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One clear line on stderr, then exit."""
    err_console.print(f"kwright: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    """Machine-readable output on stdout (nothing else goes there with --json)."""
    text = (
        value.model_dump_json(indent=2)
        if isinstance(value, BaseModel)
        else json.dumps(value, indent=2, default=str)
    )
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

"""Shared CLI plumbing: one console, JSON output, and clean exits with the documented codes.

Exit codes: 0 success / candidate correct; 1 ran but not correct / job failed;
2 bad usage or bad input (one line on stderr naming the option or file and the fault;
under `--json` also `{"error": ..., "kind": ...}` on stdout).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

if TYPE_CHECKING:
    from sandbox.base import Sandbox

EXIT_OK = 0
EXIT_NOT_CORRECT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

console = Console()
err_console = Console(stderr=True)


class ErrorKind(StrEnum):
    """What went wrong, as the JSON error object names it."""

    USAGE = "usage"  # an unknown command or option, a bad or missing value
    BAD_INPUT = "bad_input"  # a file or value the command refused
    CONFIG = "config"  # a bad KWRIGHT_ setting
    FAILED = "failed"  # the input was fine but the work could not be done (exit 1)
    INTERRUPTED = "interrupted"


class CliError(Exception):
    """A failure `kwright` reports as one line (and a JSON object under --json).

    `json_error=False`: the command already printed its JSON result (e.g. an `EvalResult`
    saying why the problem is bad), so stdout keeps exactly one JSON document."""

    def __init__(
        self,
        message: str,
        code: int = EXIT_BAD_INPUT,
        kind: ErrorKind | None = None,
        *,
        json_error: bool = True,
    ) -> None:
        self.message = " ".join(message.split())
        super().__init__(self.message)
        self.exit_code = code
        self.kind = kind or (ErrorKind.BAD_INPUT if code == EXIT_BAD_INPUT else ErrorKind.FAILED)
        self.json_error = json_error


def fail(message: str, code: int = EXIT_BAD_INPUT, *, json_error: bool = True) -> NoReturn:
    """Stop the command with one clear line on stderr and exit `code`."""
    raise CliError(message, code, json_error=json_error)


def report_error(message: str, kind: ErrorKind, *, as_json: bool) -> None:
    """The one stderr line (and under --json the JSON error object on stdout)."""
    line = " ".join(message.split())
    err_console.print(f"kwright: error: {line}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        print_json({"error": line, "kind": kind.value})


def help_when_bare(ctx: typer.Context) -> None:
    """A group called without a command prints its help and exits 2, as Click does."""
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        typer.echo(ctx.get_help())
        raise typer.Exit(EXIT_BAD_INPUT)


def print_json(value: Any) -> None:
    """Machine-readable output on stdout (nothing else goes there with --json)."""
    text = (
        value.model_dump_json(indent=2)
        if isinstance(value, BaseModel)
        else json.dumps(value, indent=2, default=str)
    )
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def open_sandbox(name: str | None) -> Sandbox:
    """The sandbox `--sandbox NAME` asks for (default: $KWRIGHT_SANDBOX, else local)."""
    from sandbox.base import SandboxUnavailable
    from sandbox.defaults import sandbox_for

    try:
        return sandbox_for(name)
    except SandboxUnavailable as exc:
        fail(str(exc))


JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

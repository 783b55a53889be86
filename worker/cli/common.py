"""Shared CLI plumbing: one console, JSON output, and clean exits with the documented codes.

Exit codes: 0 success / candidate correct; 1 ran but not correct / job failed;
2 bad usage or bad input (one line on stderr naming the option or file and the fault;
under `--json` also `{"error": ..., "kind": ...}` on stdout).

Nothing is cut when piped: where a console's own stream is no terminal (a pipe, a file,
CI), its lines are as wide as their content; rich would otherwise wrap them at the width
of whatever terminal stdin or stderr has, or at 80 columns.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console, ConsoleDimensions
from rich.text import Text

from sandbox.base import SandboxUnavailable
from sandbox.defaults import sandbox_for

if TYPE_CHECKING:
    from sandbox.base import Sandbox

EXIT_OK = 0
EXIT_NOT_CORRECT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

PIPED_WIDTH = 100_000  # a console that writes to no terminal: wide enough never to wrap


def is_terminal(stream: IO[str]) -> bool:
    """Whether `stream` itself is a terminal (rich's own test also says yes when
    FORCE_COLOR is set, or measures stdin's terminal when stdout is a file)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class CliConsole(Console):
    """A rich console that never wraps or cuts a line when its stream is no terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        return dims if is_terminal(self.file) else ConsoleDimensions(PIPED_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Piped, no string is wrapped at all: not even a table's title, which rich
        otherwise wraps at the width of its table (a long run directory in the title)."""
        rendered = super().render_str(text, **kwargs)
        if not is_terminal(self.file):
            rendered.no_wrap, rendered.overflow = True, "ignore"
        return rendered


console = CliConsole()
err_console = CliConsole(stderr=True)


class ExitKind(StrEnum):
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
        kind: ExitKind | None = None,
        *,
        json_error: bool = True,
    ) -> None:
        self.message = " ".join(message.split())
        super().__init__(self.message)
        self.exit_code = code
        self.kind = kind or (ExitKind.BAD_INPUT if code == EXIT_BAD_INPUT else ExitKind.FAILED)
        self.json_error = json_error


def fail(message: str, code: int = EXIT_BAD_INPUT, *, json_error: bool = True) -> NoReturn:
    """Stop the command with one clear line on stderr and exit `code`."""
    raise CliError(message, code, json_error=json_error)


def report_error(message: str, kind: ExitKind, *, as_json: bool) -> None:
    """The one stderr line (and under --json the JSON error object on stdout)."""
    line = " ".join(message.split())
    err_console.print(f"kwright: error: {line}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        print_json({"error": line, "kind": kind.value})


def require_writable_home(home: Path) -> None:
    """Refuse up front (one line, exit 2) a KWRIGHT_HOME that cannot be created or
    written, before any work that would end in a traceback."""
    probe = home / f".kwright-write-check-{os.getpid()}"
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail(f"KWRIGHT_HOME {home} is not a writable folder ({reason}); set KWRIGHT_HOME")


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

    try:
        return sandbox_for(name)
    except SandboxUnavailable as exc:
        fail(str(exc))


JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

"""The `kwright` command line. Each sub-command lives in its own module of this package.

Errors: every failure the CLI can name (a click usage error, a refused file or value, a
bad KWRIGHT_ setting) ends as one line on stderr, `kwright: error: ...`, with exit code 2
(1 where the input was fine but the work failed); under `--json` stdout also gets
`{"error": ..., "kind": ...}`. Click runs with `standalone_mode=False` so `main` reports
its exceptions in that one shape instead of Click's multi-line box.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import sys
from typing import Annotated

import typer

from worker.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    CliError,
    ExitKind,
    help_when_bare,
    report_error,
)
from worker.config import ConfigError, get_settings

app = typer.Typer(
    name="kwright",
    help="kernelwright: agentic kernel optimization. Write, check, time, profile and improve "
    "CUDA/Triton kernels for PyTorch references (KernelBench format).",
    pretty_exceptions_enable=False,
)


def version() -> str:
    try:
        return importlib.metadata.version("kernelwright")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kwright {version()}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _group(
    ctx: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version; exit."
        ),
    ] = False,
) -> None:
    """kernelwright: agentic kernel optimization."""  # keeps `kwright CMD` a group of one
    help_when_bare(ctx)


# command -> the module that registers it, in --help order. Only the invoked command's
# module is imported; the modules import torch, the LLM SDK and the like only inside the
# commands, so `kwright --help` (which imports them all) stays fast.
COMMANDS = {
    "problems": "problems_cmd",
    "eval": "eval_cmd",
    "profile": "profile_cmd",
    "run": "run_cmd",
    "runs": "runs_cmd",
    "show": "show_cmd",
    "submit": "jobs_cmd",
    "status": "jobs_cmd",
    "watch": "jobs_cmd",
    "cancel": "jobs_cmd",
    "results": "results_cmd",
    "worker": "worker_cmd",
    "leaderboard": "leaderboard_cmd",
    "sandbox": "sandbox_cmd",
    "clean": "clean_cmd",
    "library": "library_cmd",
}


def _register(args: list[str]) -> None:
    words = [a for a in args if not a.startswith("-")]
    wanted = COMMANDS.get(words[0]) if words else None
    modules = [wanted] if wanted else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(f"worker.cli.{name}").register(app)


def _configure_logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _click_error(exc: typer.TyperException) -> tuple[str, ExitKind]:
    """Click's error (typer vendors Click) as one line naming the command, and its kind.
    Usage errors (bad option, value or command) carry the context they arose in."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = message.replace("Value error, ", "")  # pydantic's prefix on typer's coercion
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message, ExitKind.USAGE if hasattr(exc, "ctx") else ExitKind.BAD_INPUT
    command = ctx.command_path.removeprefix("kwright").strip()
    where = f"{command}: " if command else ""
    return f"{where}{message} (see {ctx.command_path} --help)", ExitKind.USAGE


def run(args: list[str]) -> int:
    """Run `kwright ARGS`; the exit code. Every error is reported here, in one shape."""
    as_json = "--json" in args  # also when parsing failed before the option was read
    try:
        _configure_logging()
        _register(args)
        code = app(args=args, prog_name="kwright", standalone_mode=False)
    except CliError as exc:
        report_error(exc.message, exc.kind, as_json=as_json and exc.json_error)
        return exc.exit_code
    except typer.TyperException as exc:
        line, kind = _click_error(exc)
        report_error(line, kind, as_json=as_json)
        return int(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    except ConfigError as exc:  # a bad KWRIGHT_ setting, from any command
        report_error(str(exc), ExitKind.CONFIG, as_json=as_json)
        return EXIT_BAD_INPUT
    except (typer.Abort, KeyboardInterrupt):
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_BAD_INPUT
    if code == EXIT_INTERRUPTED:
        report_error("interrupted", ExitKind.INTERRUPTED, as_json=as_json)
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))

"""The `kwright` command line. Each sub-command lives in its own module of this package."""

from __future__ import annotations

import logging
import os
import sys

import typer

from worker.cli.common import EXIT_BAD_INPUT, err_console

app = typer.Typer(
    name="kwright",
    help="kernelwright: agentic kernel optimization. Write, check, time, profile and improve "
    "CUDA/Triton kernels for PyTorch references (KernelBench format).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from worker.cli import eval_cmd, problems_cmd, sandbox_cmd

    problems_cmd.register(app)
    eval_cmd.register(app)
    sandbox_cmd.register(app)


def main() -> None:
    level = os.environ.get("KWRIGHT_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    _register()
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("kwright: interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(EXIT_BAD_INPUT)

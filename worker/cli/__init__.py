"""The `kwright` command line. Each sub-command lives in its own module of this package."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from worker.cli.common import EXIT_BAD_INPUT, err_console
from worker.config import ConfigError

app = typer.Typer(
    name="kwright",
    help="kernelwright: agentic kernel optimization. Write, check, time, profile and improve "
    "CUDA/Triton kernels for PyTorch references (KernelBench format).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """kernelwright: agentic kernel optimization."""  # keeps `kwright CMD` a group of one


# command -> the module that registers it, in --help order. Only the invoked command's
# module is imported, so `kwright status` does not pay for torch (imported by eval/run).
COMMANDS = {
    "problems": "problems_cmd",
    "eval": "eval_cmd",
    "profile": "profile_cmd",
    "run": "run_cmd",
    "submit": "jobs_cmd",
    "status": "jobs_cmd",
    "watch": "jobs_cmd",
    "cancel": "jobs_cmd",
    "results": "jobs_cmd",
    "worker": "worker_cmd",
    "leaderboard": "leaderboard_cmd",
    "sandbox": "sandbox_cmd",
}


def _register(argv: list[str] | None = None) -> None:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    wanted = COMMANDS.get(words[0]) if words else None
    modules = [wanted] if wanted else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(f"worker.cli.{name}").register(app)


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
    except ConfigError as exc:  # a bad KWRIGHT_ setting, from any command
        err_console.print(f"kwright: error: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_BAD_INPUT)

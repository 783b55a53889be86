"""`kwright results`: the best kernel of a finished job (piped: exactly its source)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax

from worker.cli.common import (
    EXIT_NOT_CORRECT,
    EXIT_OK,
    JsonFlag,
    console,
    err_console,
    fail,
    is_terminal,
    print_json,
)
from worker.cli.jobs_cmd import job_attempts, lookup_jobs, open_job_store
from worker.cli.jobs_view import (
    correct,
    job_panel,
    round_text,
    status_text,
)
from worker.config import get_settings
from worker.fleet.jobs import TERMINAL


# ------------------------------------------------------------------ results
def results_command(
    job: Annotated[str, typer.Argument(help="A job id.")],
    out: Annotated[
        Path | None, typer.Option(help="Also write the best kernel's source to this file.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The best kernel of a finished job: source, verdict, speedup, cost.

    Piped or redirected (`kwright results J > best.py`), stdout gets exactly the kernel's
    source and the verdict goes to stderr. Exit 0 if it is correct, 1 if the job found
    none, failed, or has not finished.
    """
    settings = get_settings()
    store = open_job_store(settings)
    if job.startswith("b-"):
        fail("results takes a job id; `kwright status BATCH` lists a batch's jobs")
    found = lookup_jobs(store, job)[0]
    grace = settings.recovery_grace_s
    o = found.state.outcome
    if as_json:
        detail = found.summary(grace)
        detail["outcome"] = o.model_dump() if o else None
        detail["ledger"] = [a.model_dump() for a in job_attempts(store, found.id)]
        print_json(detail)
    elif found.status not in TERMINAL:
        err_console.print(
            f"{found.id}: not finished yet ({status_text(found, grace)}, round {round_text(found)}); "
            f"`kwright watch {found.id}` follows it",
            markup=False,
            highlight=False,
        )
    elif is_terminal(sys.stdout):
        console.print(job_panel(found, grace))
        if o is not None and o.best_source:
            console.print(Syntax(o.best_source, "python", line_numbers=False))
            if o.run_dir:
                console.print(f"run directory: {o.run_dir}", markup=False, highlight=False)
    elif out is not None or o is None or not o.best_source:
        console.print(job_panel(found, grace))  # piped, and no source bound for stdout
        if o is not None and o.run_dir:
            console.print(f"run directory: {o.run_dir}", markup=False, highlight=False)
    else:  # piped (`kwright results J > best.py`): stdout is the kernel's file, exactly
        err_console.print(job_panel(found, grace))
        if o.run_dir:
            err_console.print(f"run directory: {o.run_dir}", markup=False, highlight=False)
        sys.stdout.write(o.best_source)
        sys.stdout.flush()
    if out is not None:
        if o is None or not o.best_source:
            fail(f"{found.id}: no kernel to write to {out}", EXIT_NOT_CORRECT)
        try:
            out.write_text(o.best_source, encoding="utf-8")
        except OSError as exc:
            fail(f"{out}: cannot write: {exc.strerror}")
    raise typer.Exit(EXIT_OK if correct(found) else EXIT_NOT_CORRECT)


def register(app: typer.Typer) -> None:
    app.command("results")(results_command)

"""`kwright leaderboard`: rank agents, models and GPUs from the recorded runs."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from worker.cli.common import fail
from worker.config import get_settings
from worker.leaderboard import RENDERERS, build_rows, load_runs


class Format(StrEnum):
    md = "md"
    html = "html"
    json = "json"
    csv = "csv"


def leaderboard(
    fmt: Annotated[Format, typer.Option("--format", help="md, html, json or csv.")] = Format.md,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    runs_dir: Annotated[Path | None, typer.Option(help="Default: $KWRIGHT_HOME/runs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Rank agents, models and GPUs: correct rate, fast_1, speedup, rounds, tokens, cost."""
    rows = build_rows(load_runs(runs_dir or get_settings().runs_dir))
    text = RENDERERS["json" if as_json else fmt.value](rows)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write: {exc}")
    sys.stderr.write(f"kwright: wrote {len(rows)} rows to {out}\n")


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard)

"""A board as Markdown, CSV, JSON or self-contained HTML.

md, csv and html show the same columns with the same cell text (`table.py`); the JSON
holds the full board (schema-versioned, raw numbers) for others to plot, plus that same
table so every format can be checked against it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, PackageLoader

from worker.leaderboard.board import Board
from worker.leaderboard.charts import all_charts
from worker.leaderboard.records import BoardFormat
from worker.leaderboard.table import cell_text, headers, level_title, matrix, table


def header_lines(board: Board) -> list[str]:
    ps = board.problem_set
    return [
        f"Policy: {board.policy} ({board.policy_rule}); only rows judged under it are ranked here.",
        f"Problem set: {ps.name} ({len(ps.ids)} problems); a problem a row did not attempt "
        "or finish counts as failed.",
        f"Speedups are against {board.baseline_name}, timed on the row's target GPU."
        if any(r.key.timed for r in board.rows)
        else "No row ran on a GPU: no speedup was measured.",
        *board.notes,
    ]


def _md_table(head: list[str], body: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "---|" * len(head), *(line(r) for r in body)]


def _row_titles(board: Board) -> list[str]:
    return [f"#{r.rank} {r.key.label}" for r in board.rows]


def _md_head(board: Board) -> list[str]:
    out = ["# kernelwright leaderboard", "", *(f"- {line}" for line in header_lines(board)), ""]
    return out + _md_table(headers(board), table(board))


def render_summary(board: Board) -> str:
    """The header and the ranked table (what the CLI prints when the board goes to a file)."""
    return "\n".join(_md_head(board)) + "\n"


def render_markdown(board: Board) -> str:
    out = _md_head(board)
    for lv in board.levels:
        out += ["", f"## {level_title(lv.level)}", ""]
        out += _md_table(headers(board), table(board, lv.rows))
    if board.rows:
        out += ["", "## Per problem", ""]
        body = [[pid, *(cell_text(c) for c in cells)] for pid, cells in matrix(board)]
        out += _md_table(["problem", *_row_titles(board)], body)
    return "\n".join(out) + "\n"


def render_csv(board: Board) -> str:
    """The main table, cell for cell as md and html show it (no float noise)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers(board))
    writer.writerows(table(board))
    return out.getvalue()


def render_json(board: Board) -> str:
    data = board.model_dump(mode="json")
    data["table"] = {"columns": headers(board), "rows": table(board)}
    return json.dumps(data, indent=2) + "\n"


def _link(path: str | None) -> str | None:
    return Path(path).absolute().as_uri() if path else None  # no resolve(): no syscalls


def render_html(board: Board) -> str:
    env = Environment(loader=PackageLoader("worker", "templates"), autoescape=True)
    problems = [
        (pid, [(c, cell_text(c), _link(c.kernel), _link(c.run_dir)) for c in cells])
        for pid, cells in matrix(board)
    ]
    return env.get_template("leaderboard.html.j2").render(
        board=board,
        header_lines=header_lines(board),
        headers=headers(board),
        table=table(board),
        levels=[(level_title(lv.level), table(board, lv.rows)) for lv in board.levels],
        row_titles=_row_titles(board),
        problems=problems,
        charts=all_charts(board) if board.rows else [],
    )


RENDERERS: dict[BoardFormat, Callable[[Board], str]] = {
    BoardFormat.MD: render_markdown,
    BoardFormat.CSV: render_csv,
    BoardFormat.JSON: render_json,
    BoardFormat.HTML: render_html,
}

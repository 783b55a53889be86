"""The board's charts (matplotlib, Agg), as base64 PNGs the HTML embeds.

* fast_p curves: one line per timed row, fast_p over p from 0 to the largest speedup.
* heatmap: problems x rows, colour = log2 speedup where timed; other cells are coloured
  by status (correct untimed, failed, not attempted / unfinished) and, on small boards,
  labelled with it.
* speedup vs cost: one point per row whose geomean and cost per solved are both known.

A chart that has nothing to show is None with a sentence saying why.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any

from worker.leaderboard.board import Board
from worker.leaderboard.records import Missing

LABEL_CELLS_UP_TO = 400  # text in every cell up to this many cells; colours only beyond
LABEL_PROBLEMS_UP_TO = 120  # problem names on the axis up to this many
_STATUS_COLOURS = {"correct": "#9ad19a", "missing": "#e3e3e3", "failed": "#f2b8b5"}
_SHORT = {
    "correct": "ok",
    "incorrect": "wrong",
    "compile_error": "compile",
    "runtime_error": "runtime",
    "timeout": "timeout",
    "rejected": "rejected",
    "not_run": "not run",
    "no_candidate": "none",
    "error": "error",
    Missing.NOT_ATTEMPTED: "-",
    Missing.UNFINISHED: "unfin.",
}


@dataclass
class Chart:
    title: str
    png: str | None  # base64
    why_absent: str = ""


def _figure(width: float, height: float) -> tuple[Any, Any]:
    """A bare Figure (no pyplot: no global state, no GUI backend, a faster import)."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - heavy library, imported where used

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode()


def _row_label(board: Board, i: int) -> str:
    r = board.rows[i]
    return f"#{r.rank} {r.key.agent}/{r.key.model} {r.key.gpu} {r.key.device}"


def fast_p_curves(board: Board) -> Chart:
    title = "fast_p: share of problems correct and faster than p x the baseline"
    timed = [i for i, r in enumerate(board.rows) if r.key.timed]
    speeds = {i: [c.speedup for c in board.cells if c.row == i and c.speedup] for i in timed}
    top = max((s for v in speeds.values() for s in v if s), default=None)
    if not timed or top is None:
        return Chart(title, None, "no row has a correct, timed kernel (GPU runs only)")
    fig, ax = _figure(7.5, 3.6)
    n = len(board.problem_set.ids)
    grid = [top * k / 200 for k in range(201)]
    for i in timed:
        values = sorted(s for s in speeds[i] if s is not None)
        ax.step(
            grid,
            [100 * sum(1 for s in values if s > p) / n for p in grid],
            where="post",
            label=_row_label(board, i),
        )
    ax.axvline(1.0, color="#999", linestyle=":", linewidth=1)
    ax.set_xlabel(f"p (speedup threshold vs {board.baseline_name})")
    ax.set_ylabel(f"fast_p (% of {n} problems)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return Chart(title, _png(fig))


def heatmap(board: Board) -> Chart:
    title = f"Per-problem speedup vs {board.baseline_name} (log2 colour; status where untimed)"
    ids, rows = board.problem_set.ids, board.rows
    if not ids or not rows:
        return Chart(title, None, "the problem set is empty")
    import numpy as np  # noqa: PLC0415 - heavy library, imported where used
    from matplotlib.colors import ListedColormap  # noqa: PLC0415 - heavy library, imported where used
    from matplotlib.patches import Patch  # noqa: PLC0415 - heavy library, imported where used

    speed = np.full((len(ids), len(rows)), np.nan)
    status = np.zeros((len(ids), len(rows)))  # 0 correct untimed, 1 failed, 2 missing
    for k, c in enumerate(board.cells):
        p, i = divmod(k, len(rows))
        if c.speedup is not None:
            speed[p, i] = math.log2(c.speedup)
        elif not c.finished:
            status[p, i] = 2
        elif not c.correct:
            status[p, i] = 1
    height = min(24.0, 1.2 + 0.22 * len(ids))
    fig, ax = _figure(max(6.5, 2.2 + 1.6 * len(rows)), height)
    palette = ListedColormap([_STATUS_COLOURS[k] for k in ("correct", "failed", "missing")])
    ax.imshow(status, cmap=palette, vmin=-0.5, vmax=2.5, aspect="auto", interpolation="nearest")
    lim = max(1.0, float(np.nanmax(np.abs(speed)))) if np.isfinite(speed).any() else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(speed), cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto"
    )
    if len(board.cells) <= LABEL_CELLS_UP_TO:
        for k, c in enumerate(board.cells):
            p, i = divmod(k, len(rows))
            text = f"{c.speedup:.2f}x" if c.speedup is not None else _SHORT.get(c.status, c.status)
            ax.text(i, p, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(rows)), [_row_label(board, i) for i in range(len(rows))], fontsize=7)
    if len(ids) <= LABEL_PROBLEMS_UP_TO:
        ax.set_yticks(range(len(ids)), ids, fontsize=7)
    else:  # hundreds of tick labels cost seconds and cannot be read anyway
        ax.set_yticks([])
        ax.set_ylabel(f"{len(ids)} problems, in the set's order (see the per-problem table)")
    ax.tick_params(axis="x", labelrotation=15)
    if np.isfinite(speed).any():
        fig.colorbar(image, ax=ax, label="log2 speedup", fraction=0.04)
    legend = [("correct, untimed", "correct"), ("failed", "failed"), ("not attempted / unfinished",
              "missing")]  # fmt: skip
    ax.legend(
        handles=[Patch(color=_STATUS_COLOURS[c], label=label) for label, c in legend],
        loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=7, ncol=3, frameon=False,
    )  # fmt: skip
    return Chart(title, _png(fig))


def speedup_vs_cost(board: Board) -> Chart:
    title = f"Geomean speedup vs {board.baseline_name} against cost per solved problem"
    points = [
        (r.cost_per_solved, r.geomean.value, i)
        for i, r in enumerate(board.rows)
        if r.cost_per_solved is not None and r.geomean is not None
    ]
    if not points:
        return Chart(
            title, None, "no row has both a measured speedup (GPU) and a known cost (an LLM agent)"
        )
    fig, ax = _figure(6.0, 3.6)
    for cost, speed, i in points:
        ax.scatter([cost], [speed], s=40)
        ax.annotate(_row_label(board, i), (cost, speed), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")  # fmt: skip
    ax.axhline(1.0, color="#999", linestyle=":", linewidth=1)
    ax.set_xlim(left=0)
    ax.margins(x=0.25, y=0.25)
    ax.set_xlabel("cost per solved problem (USD)")
    ax.set_ylabel("geomean speedup")
    ax.grid(alpha=0.3)
    return Chart(title, _png(fig))


def all_charts(board: Board) -> list[Chart]:
    return [fast_p_curves(board), heatmap(board), speedup_vs_cost(board)]

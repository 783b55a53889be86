"""The board's columns and cell text: one definition every format (md, csv, html, json) uses,
so they carry the same columns with the same rounding."""

from __future__ import annotations

from collections.abc import Callable

from worker.leaderboard.board import Board, Cell
from worker.leaderboard.records import P_VALUES, Rate, RowStats, p_label


def pct(rate: Rate | None) -> str:
    """`66.7% (2/3)`: the share with its n/N; blank where not measured."""
    if rate is None:
        return ""
    return f"{100 * rate.value:.1f}% ({rate.n}/{rate.N})"


def num(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "" if value is None else f"{value:.{digits}f}{unit}"


def usd(value: float | None) -> str:
    return "" if value is None else f"${value:.4f}"


def geomean_text(s: RowStats) -> str:
    return "" if s.geomean is None else f"{s.geomean.value:.2f}x (n={s.geomean.n})"


def interval_text(s: RowStats) -> str:
    g = s.geomean
    if g is None or g.low is None or g.high is None:
        return ""
    return f"{g.low:.2f}-{g.high:.2f}x"


Column = tuple[str, Callable[[RowStats], str]]


def columns(baseline_name: str) -> list[Column]:
    cols: list[Column] = [
        ("rank", lambda s: str(s.rank)),
        ("agent", lambda s: s.key.agent),
        ("model", lambda s: s.key.model),
        ("target GPU", lambda s: s.key.gpu),
        ("device", lambda s: s.key.device),
        ("N", lambda s: str(s.N)),
        ("compiled", lambda s: pct(s.compiled)),
        ("correct", lambda s: pct(s.correct)),
    ]
    for p in P_VALUES:
        label = p_label(p)
        cols.append((label, lambda s, label=label: pct(s.fast_p[label])))  # type: ignore[misc]
    cols += [
        (f"geomean speedup vs {baseline_name}", geomean_text),
        ("95% CI (bootstrap)", interval_text),
        ("rounds to first correct", lambda s: num(s.mean_rounds_to_first_correct)),
        ("wall s to first correct", lambda s: num(s.mean_wall_s_to_first_correct)),
        ("static occupancy", lambda s: num(s.mean_static_occupancy_pct, 1, "%")),
        ("spilling kernels", lambda s: pct(s.spilling)),
        ("tokens/solved", lambda s: num(s.tokens_per_solved, 0)),
        ("cost/solved", lambda s: usd(s.cost_per_solved)),
        ("not attempted", lambda s: str(s.not_attempted)),
        ("unfinished", lambda s: str(s.unfinished)),
        ("policy", lambda s: s.key.policy),
        ("precision", lambda s: s.key.precision),
    ]
    return cols


def headers(board: Board) -> list[str]:
    return [title for title, _ in columns(board.baseline_name)]


def table(board: Board, rows: list[RowStats] | None = None) -> list[list[str]]:
    cols = columns(board.baseline_name)
    return [[fn(s) for _, fn in cols] for s in (board.rows if rows is None else rows)]


def level_title(level: int | None) -> str:
    return "other problems" if level is None else f"level {level}"


def cell_text(cell: Cell) -> str:
    """`1.52x, 2 rounds`, `correct (untimed), 1 round`, `incorrect, 3 rounds`."""
    if not cell.finished:
        return cell.status.replace("_", " ")
    what = f"{cell.speedup:.2f}x" if cell.speedup is not None else cell.status.replace("_", " ")
    if cell.correct and cell.speedup is None:
        what = "correct (untimed)"
    return f"{what}, {cell.rounds} round{'s' if cell.rounds != 1 else ''}"


def matrix(board: Board) -> list[tuple[str, list[Cell]]]:
    """(problem id, its cells in row order), problems in the set's order."""
    width = len(board.rows)
    cells = board.cells
    return [(cells[i].problem_id, cells[i : i + width]) for i in range(0, len(cells), width or 1)]

"""A board: rows ranked over one named problem set, per-level tables and the problem matrix.

A board shows the rows of one judging policy (strict or kernelbench): rows of different
policies are never ranked together, and the rows of the other are named in the notes. The
problem set is named, never implied: a suite (and level) lists its problems, or, without a
suite, the set is the problems every compared row attempted (their intersection), so no
row is ranked on problems another never saw. Rows that attempted nothing in the set are
left out and named in the notes.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from kernelbench.protocol.policy import POLICY_RULES, Policy
from worker.leaderboard.collect import Entries
from worker.leaderboard.metrics import ranked, row_stats
from worker.leaderboard.records import (
    BASELINE_NAMES,
    SCHEMA_VERSION,
    Baseline,
    Entry,
    Missing,
    RowKey,
    RowStats,
    level_of,
)

CPU_NOTE = (
    "Rows on device cpu ran their kernels in the Triton interpreter, which checks "
    "correctness but cannot time a kernel: their fast_p and speedup cells are blank "
    "(not measured, never 0), and their target GPU is only what the agent was told to "
    "write for."
)


class ProblemSet(BaseModel):
    name: str  # what the header says: "builtin level 1", "intersection of 3 rows", ...
    how: Literal["suite", "intersection"]
    level: int | None = None
    ids: list[str]


class Cell(Entry):
    """One problem x row cell of the matrix: the row's entry for that problem."""

    row: int  # index into Board.rows


class LevelTable(BaseModel):
    level: int | None  # None: problems outside any levelN/ folder
    rows: list[RowStats]


class Board(BaseModel):
    schema_version: int = SCHEMA_VERSION
    generated_at: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    problem_set: ProblemSet
    baseline: Baseline
    baseline_name: str
    policy: Policy = "strict"  # every row was judged under it (rows of others: their own board)
    policy_rule: str = POLICY_RULES["strict"]
    notes: list[str] = Field(default_factory=list)
    rows: list[RowStats]
    levels: list[LevelTable] = Field(default_factory=list)
    cells: list[Cell] = Field(default_factory=list)

    @property
    def has_cpu_rows(self) -> bool:
        return any(not r.key.timed for r in self.rows)


def choose_problems(
    entries: Entries, suite_ids: list[str] | None, suite_name: str, level: int | None
) -> ProblemSet:
    """The suite's problems, else the intersection of what the rows attempted."""
    if suite_ids is not None:
        name = suite_name + (f" level {level}" if level is not None else "")
        return ProblemSet(name=name, how="suite", level=level, ids=list(suite_ids))
    attempted = [
        {pid for pid in row if level is None or level_of(pid) == level} for row in entries.values()
    ]
    attempted = [a for a in attempted if a]
    common = set.intersection(*attempted) if attempted else set()
    name = f"problems attempted by all {len(attempted)} rows" + (
        f", level {level}" if level is not None else ""
    )
    return ProblemSet(name=name, how="intersection", level=level, ids=sorted(common))


def build_board(
    entries: Entries,
    problems: ProblemSet,
    baseline: Baseline,
    policy: Policy = "strict",
    apart: list[RowKey] | None = None,
) -> Board:
    """`entries`: rows judged under `policy` only; `apart`: the rows of other policies,
    named in the notes, never ranked here."""
    ids = problems.ids
    notes = [
        f"not on this board (judged under the {k.policy} policy: --policy {k.policy}): {k.label}"
        for k in apart or []
    ]
    kept: dict[RowKey, dict[str, Entry]] = {}
    for key, row in entries.items():
        if any(pid in row for pid in ids):
            kept[key] = row
        else:
            notes.append(f"left out (no problem of the set attempted): {key.label}")
    rows = ranked([row_stats(key, row, ids) for key, row in kept.items()])
    if any(not r.key.timed for r in rows):
        notes.insert(0, CPU_NOTE)
    levels = sorted({level_of(pid) for pid in ids}, key=lambda lv: (lv is None, lv or 0))
    tables = []
    if len(levels) > 1:
        for lv in levels:
            subset = [pid for pid in ids if level_of(pid) == lv]
            stats = [row_stats(r.key, kept[r.key], subset) for r in rows]
            for s, r in zip(stats, rows, strict=True):
                s.rank = r.rank  # the board's rank, so the tables read side by side
            tables.append(LevelTable(level=lv, rows=stats))
    cells = []
    for pid in ids:
        for i, r in enumerate(rows):
            e = kept[r.key].get(pid) or Entry(problem_id=pid, status=Missing.NOT_ATTEMPTED)
            cells.append(Cell(**e.model_dump(), row=i))
    return Board(
        problem_set=problems,
        baseline=baseline,
        baseline_name=BASELINE_NAMES[baseline],
        policy=policy,
        policy_rule=POLICY_RULES[policy],
        notes=notes,
        rows=rows,
        levels=tables,
        cells=cells,
    )

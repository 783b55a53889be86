"""Read run directories into one entry per (row, problem).

Per row and problem the latest finished result counts (runs ordered by when they were
last written). A problem a run listed but never finished (cancelled, interrupted, still
running) is `unfinished` unless another run of the same row finished it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kernelbench.protocol.result import Status
from worker.leaderboard.records import (
    COMPILED_STATUSES,
    Baseline,
    Entry,
    Missing,
    RowKey,
    furthest_status,
)
from worker.leaderboard.runfile import ProblemRecord, RunRecord

log = logging.getLogger(__name__)

Entries = dict[RowKey, dict[str, Entry]]


def row_key(info: RunRecord) -> RowKey:
    cfg = info.config
    model = cfg.llm.model if cfg.agent == "llm" else "-"
    return RowKey(
        agent=cfg.agent,
        model=model,
        gpu=cfg.target_gpu,
        device=info.device or "?",
        policy=cfg.policy,
        precision=cfg.precision,
    )


def load_runs(runs_dir: Path) -> list[RunRecord]:
    """Every readable run.json under runs_dir; an unreadable one is logged and skipped."""
    runs: list[RunRecord] = []
    if not runs_dir.is_dir():
        return runs
    for path in sorted(runs_dir.glob("*/run.json")):
        try:
            runs.append(RunRecord.model_validate_json(path.read_text(encoding="utf-8")))
        except (OSError, ValidationError) as exc:
            log.warning("skipping %s: %s", path, exc)
    return runs


def _read(path: Path) -> dict[str, Any]:
    """An attempt's JSON file ({} where absent or unreadable: the field stays unknown)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _compile_speedup(attempt_dir: Path) -> float | None:
    """The torch.compile speedup from the best attempt's eval.json (not in run.json)."""
    value = _read(attempt_dir / "eval.json").get("speedup_vs_compile")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _static_profile(attempt_dir: Path) -> tuple[float | None, bool | None]:
    """The best kernel's static profile for its target GPU (no GPU needed): the lowest
    occupancy over its kernels, and whether any kernel spills registers."""
    kernels = [
        k for k in _read(attempt_dir / "profile.json").get("kernels") or [] if isinstance(k, dict)
    ]
    occupancy = [
        float(k["occupancy_pct"])
        for k in kernels
        if isinstance(k.get("occupancy_pct"), int | float)
    ]
    spills = [
        int(k["spill_stores_bytes"])
        for k in kernels
        if isinstance(k.get("spill_stores_bytes"), int)
    ]
    return (min(occupancy) if occupancy else None, any(s > 0 for s in spills) if spills else None)


def _entry(info: RunRecord, result: ProblemRecord, run_dir: Path, baseline: Baseline) -> Entry:
    attempts = sorted(result.attempts, key=lambda a: a.attempt)
    first = next((a for a in attempts if a.correct), None)
    wall = None
    if first is not None:
        wall = sum(
            a.coder_s + a.eval_s + (a.judge_s or 0.0)
            for a in attempts
            if a.attempt <= first.attempt
        )
    best = result.best
    correct = best is not None and best.correct
    speedup = None
    kernel = None
    occupancy, spills = None, None
    if best is not None:
        attempt_dir = run_dir / result.problem_id / f"{best.attempt:03d}"
        kernel_path = attempt_dir / "candidate.py"
        kernel = str(kernel_path if kernel_path.is_file() else Path(best.candidate_path))
        if correct and info.device == "cuda":
            speedup = best.speedup if baseline == "eager" else _compile_speedup(attempt_dir)
        if correct:
            occupancy, spills = _static_profile(attempt_dir)
    statuses = [a.status for a in attempts] + ([best.status] if best is not None else [])
    offline = info.config.agent == "baseline"
    return Entry(
        problem_id=result.problem_id,
        status=Status.CORRECT if correct else furthest_status(statuses),
        compiled=any(s in COMPILED_STATUSES for s in statuses),
        correct=correct,
        speedup=speedup if speedup is not None and speedup > 0 else None,
        runtime_ms=best.runtime_ms if speedup is not None and best is not None else None,
        rounds=result.rounds_run or max((a.round for a in attempts), default=0),
        first_correct_round=first.round if first is not None else None,
        first_correct_wall_s=wall,
        tokens=None if offline else result.usage.total_tokens,
        cost_usd=None if offline else result.usage.cost_usd,
        kernel=kernel,
        static_occupancy_pct=occupancy,
        spills=spills,
        run_dir=str(run_dir),
        finished_at=info.updated_at or info.created_at,
    )


def collect_entries(runs: list[RunRecord], runs_dir: Path, baseline: Baseline) -> Entries:
    entries: Entries = {}
    for info in sorted(runs, key=lambda r: r.updated_at or r.created_at):
        row = entries.setdefault(row_key(info), {})
        run_dir = runs_dir / info.run_id
        for pid in dict.fromkeys([*info.problems, *info.results]):
            result = info.results.get(pid)
            if result is not None and result.status in ("done", "failed"):
                row[pid] = _entry(info, result, run_dir, baseline)
            elif pid not in row:
                row[pid] = Entry(problem_id=pid, status=Missing.UNFINISHED, run_dir=str(run_dir))
    return entries

"""The leaderboard: rank agents, models and GPUs by what their runs achieved.

Read from run directories (`$KWRIGHT_HOME/runs/*/run.json`), which `kwright run` and the
fleet both write. One row per (agent, model, target GPU, device). Per problem the latest
finished result of that row counts. Columns:

* problems — distinct problems with a finished result
* correct — share of them whose best kernel is correct
* fast_1 — share correct AND measured faster than the PyTorch reference (GPU only)
* speedup — geometric mean of measured speedups over correct, timed problems (GPU only)
* first correct — mean round of the first correct attempt (over solved problems)
* tokens, cost, wall — means per problem (cost unknown if any price was unknown)

CPU rows (the Triton interpreter) have no timing: fast_1 and speedup are empty, never 0.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from pydantic import BaseModel, ValidationError

from agents.rundir import ProblemResult, RunInfo

log = logging.getLogger(__name__)


class Row(BaseModel):
    agent: str
    model: str
    gpu: str
    device: str
    problems: int
    correct: float
    fast_1: float | None
    speedup_geomean: float | None
    first_correct_round: float | None
    tokens_per_problem: float
    cost_per_problem: float | None
    wall_s_per_problem: float
    runs: int


def _key(info: RunInfo) -> tuple[str, str, str, str]:
    cfg = info.config
    model = cfg.llm.model if cfg.agent == "llm" else "-"
    return (cfg.agent, model, cfg.target_gpu, info.device or "?")


def load_runs(runs_dir: Path) -> list[RunInfo]:
    runs: list[RunInfo] = []
    if not runs_dir.is_dir():
        return runs
    for path in sorted(runs_dir.glob("*/run.json")):
        try:
            runs.append(RunInfo.model_validate_json(path.read_text(encoding="utf-8")))
        except (OSError, ValidationError) as exc:
            log.warning("skipping %s: %s", path, exc)
    return runs


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def build_rows(runs: list[RunInfo]) -> list[Row]:
    latest: dict[tuple[str, str, str, str], dict[str, ProblemResult]] = {}
    run_count: dict[tuple[str, str, str, str], set[str]] = {}
    for info in sorted(runs, key=lambda r: r.updated_at or r.created_at):
        key = _key(info)
        for pid, result in info.results.items():
            if result.status in ("done", "failed"):
                latest.setdefault(key, {})[pid] = result
                run_count.setdefault(key, set()).add(info.run_id)
    rows: list[Row] = []
    for key, results in latest.items():
        agent, model, gpu, device = key
        rs = list(results.values())
        n = len(rs)
        correct = [r for r in rs if r.best is not None and r.best.correct]
        timed = [r.best.speedup for r in correct if r.best is not None and r.best.speedup]
        fast = [s for s in timed if s > 1.0]
        first_rounds = [
            float(min(a.round for a in r.attempts if a.correct))
            for r in correct
            if any(a.correct for a in r.attempts)
        ]
        costs = [r.usage.cost_usd for r in rs]
        rows.append(
            Row(
                agent=agent,
                model=model,
                gpu=gpu,
                device=device,
                problems=n,
                correct=len(correct) / n,
                fast_1=len(fast) / n if device == "cuda" else None,
                speedup_geomean=math.exp(sum(math.log(s) for s in timed) / len(timed))
                if timed
                else None,
                first_correct_round=_mean(first_rounds),
                tokens_per_problem=sum(r.usage.total_tokens for r in rs) / n,
                cost_per_problem=None
                if any(c is None for c in costs)
                else sum(c or 0.0 for c in costs) / n,
                wall_s_per_problem=sum(r.duration_s for r in rs) / n,
                runs=len(run_count[key]),
            )
        )
    rows.sort(key=lambda r: (-r.correct, -(r.speedup_geomean or 0.0), r.cost_per_problem or 0.0))
    return rows


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "x":
        return f"{value:.2f}x"
    if kind == "usd":
        return f"${value:.4f}"
    if kind == "f1":
        return f"{value:.1f}"
    return str(value)


COLUMNS = [
    ("agent", "agent", ""), ("model", "model", ""), ("gpu", "target GPU", ""), ("device", "device", ""),
    ("problems", "problems", ""), ("correct", "correct", "pct"), ("fast_1", "fast_1", "pct"),
    ("speedup_geomean", "speedup (geomean)", "x"), ("first_correct_round", "first correct round", "f1"),
    ("tokens_per_problem", "tokens/problem", "f1"), ("cost_per_problem", "cost/problem", "usd"),
    ("wall_s_per_problem", "wall s/problem", "f1"),
]  # fmt: skip


def render_markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for row in rows:
        values = row.model_dump()
        lines.append("| " + " | ".join(_fmt(values[k], kind) for k, _, kind in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def render_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(Row.model_fields))
    writer.writeheader()
    for row in rows:
        writer.writerow(row.model_dump())
    return out.getvalue()


def render_json(rows: list[Row]) -> str:
    return json.dumps([r.model_dump() for r in rows], indent=2) + "\n"


def _chart_png(rows: list[Row]) -> str | None:
    """Correct rate per row as a bar chart, base64 PNG (None without rows)."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.agent}/{r.model}\n{r.gpu} ({r.device})" for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(rows)), 3.2))
    ax.bar(labels, [100 * r.correct for r in rows], color="#3b7dd8")
    ax.set_ylabel("correct (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Share of problems with a correct kernel")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def render_html(rows: list[Row]) -> str:
    env = Environment(loader=PackageLoader("worker", "templates"), autoescape=True)
    table = [[_fmt(r.model_dump()[k], kind) for k, _, kind in COLUMNS] for r in rows]
    return env.get_template("leaderboard.html.j2").render(
        headers=[title for _, title, _ in COLUMNS], table=table, chart=_chart_png(rows)
    )


RENDERERS = {"md": render_markdown, "csv": render_csv, "json": render_json, "html": render_html}

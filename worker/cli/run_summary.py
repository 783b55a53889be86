"""What `kwright run` prints when it ends: per problem the best kernel and where it is,
why the run stopped, and (offline agent) how the profile changed round by round; token
and cost columns only where an LLM ran."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from agents.rundir import FinishedAttempt, ProblemResult, RunDir, RunInfo


def profile_facts(attempt: FinishedAttempt) -> dict[str, str]:
    """The static profile's headline facts of a correct attempt (its lowest-occupancy
    kernel, the one that limits it); empty where it has no profile."""
    result = attempt.view.result
    if result is None or not result.correct or result.profile is None:
        return {}
    kernels = [k for k in result.profile.kernels if k.occupancy_pct is not None]
    if not kernels:
        return {}
    k = min(kernels, key=lambda k: k.occupancy_pct or 0.0)
    facts = {"occupancy": f"{k.occupancy_pct:g}%"}
    if k.occupancy_limiter:
        facts["limited by"] = k.occupancy_limiter
    if k.registers_per_thread is not None:
        facts["registers"] = str(k.registers_per_thread)
    facts["spill B"] = str((k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0))
    return facts


def profile_story(attempts: list[FinishedAttempt]) -> list[str]:
    """'occupancy 37.5% -> 50% -> 62.5%' for each fact that changed over the rounds."""
    series: dict[str, list[str]] = {}
    for attempt in attempts:
        for name, value in profile_facts(attempt).items():
            values = series.setdefault(name, [])
            if not values or values[-1] != value:
                values.append(value)
    return [f"{name} {' -> '.join(values)}" for name, values in series.items() if len(values) > 1]


# Where a reason blames the reference itself (the harness's reference step, or the
# baseline Coder's reading of it): it raised, hung, crashed or is ill-conditioned.
REFERENCE_FAULT = re.compile(
    r"(reading|running) the reference|the reference (reader|timed out|raised|crashed|step)"
    r"|ill-conditioned"
)


def reference_fault(attempts: list[FinishedAttempt]) -> str | None:
    """Why no kernel could be judged, where the reference is to blame: no attempt was
    compared with it, and one failed because of it (its reason); None otherwise."""
    causes = []
    for a in attempts:
        result = a.view.result
        if result is not None and result.status in {"correct", "incorrect"}:
            return None
        bad_problem = result is not None and result.error_kind == "bad_problem"
        reason = (result.reason if bad_problem and result else None) or a.record.reason or ""
        if bad_problem or REFERENCE_FAULT.search(reason):
            causes.append(reason.removeprefix("no candidate: "))
    return causes[-1] if causes else None


def round_lines(r: ProblemResult) -> list[dict[str, Any]]:
    """Per attempt: what the Coder's reply was judged to be (candidate / no candidate with
    the reason / refusal), what became of it, and whether the Judge advised."""
    rows = []
    for a in r.attempts:
        kind = a.reply_kind or ("candidate" if a.candidate_path else "no_candidate")
        rows.append(
            {
                "attempt": a.attempt,
                "round": a.round,
                "reply": kind,
                "reason": None if kind == "candidate" else a.reason,
                "extraction": a.extraction,
                "status": str(a.status),
                "coder_retry": a.coder_retry,
                "judge": a.advice,
            }
        )
    return rows


def round_text(row: dict[str, Any]) -> str:
    reply = "candidate" if row["reply"] == "candidate" else row["reply"].replace("_", " ")
    parts = [f"round {row['round']}: {reply}"]
    if row["reply"] != "candidate" and row["reason"]:
        parts[0] += f" ({row['reason'][:120]})"
    else:
        parts.append(row["status"])
    if row["coder_retry"]:
        parts.append(f"Coder call retried once ({row['coder_retry'][:80]})")
    if row["judge"]:
        parts.append(f"Judge: {row['judge'][:120]}")
    return "; ".join(parts)


def _speed(r: ProblemResult) -> str:
    if r.best is None:
        return ""
    return "not timed (CPU)" if r.best.speedup is None else f"{r.best.speedup:.2f}x"


def role_text(r: ProblemResult) -> str:
    """What the Coder and the Judge each spent (they may be different models)."""
    parts = []
    for role, usage in r.usage_by_role.items():
        cost = "?" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
        parts.append(f"{role} {usage.calls} calls, {usage.total_tokens} tokens, {cost}")
    return "; ".join(parts)


def summary(info: RunInfo, rundir: RunDir, agent_reason: str) -> Group:
    llm = info.config.agent == "llm"
    table = Table(title=f"run {info.run_id}: {info.status}  ({rundir.root})")
    columns = ["problem", "best", "speedup", "attempts"]
    columns += ["tokens", "cost"] if llm else []
    for col in [*columns, "stopped because"]:
        table.add_column(col)
    notes: list[Text] = [Text(f"agent: {info.config.agent} ({agent_reason})")]
    for pid, r in info.results.items():
        row = [
            pid,
            r.best.status if r.best else "[red]no correct kernel[/]",
            _speed(r),
            str(len(r.attempts)),
        ]
        if llm:
            cost = "?" if r.usage.cost_usd is None else f"${r.usage.cost_usd:.4f}"
            row += [str(r.usage.total_tokens), cost]
        table.add_row(*row, r.stop_reason)
        if r.best is not None:
            notes.append(Text(f"{pid}: best kernel {r.best.candidate_path}"))
        if llm:
            notes.append(Text(f"{pid}: cost by role: {role_text(r)}"))
            notes.extend(Text(f"{pid}: {round_text(row)}") for row in round_lines(r))
        attempts = rundir.problem(pid).load()
        fault = reference_fault(attempts) if r.best is None else None
        if fault:
            notes.append(
                Text(f"{pid}: no kernel could be judged because of the reference: {fault}")
            )
        if not llm:
            story = profile_story(attempts)
            if story:
                notes.append(Text(f"{pid}: profile by round: " + "; ".join(story)))
    return Group(table, *notes)


def run_json(info: RunInfo, rundir: RunDir, agent_reason: str) -> dict[str, Any]:
    return {
        "run_id": info.run_id,
        "run_dir": str(rundir.root),
        "status": info.status,
        "agent": info.config.agent,
        "agent_reason": agent_reason,
        "problems": [
            {
                "problem_id": pid,
                "status": r.status,
                "stop_reason": r.stop_reason,
                "best": r.best.model_dump() if r.best else None,
                "attempts": [a.model_dump() for a in r.attempts],
                "rounds": round_lines(r),
                "usage": r.usage.model_dump(),
                "usage_by_role": {k: u.model_dump() for k, u in r.usage_by_role.items()},
                "reference_fault": None if r.best else reference_fault(rundir.problem(pid).load()),
            }
            for pid, r in info.results.items()
        ],
        "usage": info.usage.model_dump(),
        "usage_by_role": {k: u.model_dump() for k, u in info.usage_by_role.items()},
        "search": info.config.search,
    }

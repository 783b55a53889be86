"""How jobs look in `kwright status | watch | results`: the status line, the table of a
batch, the panel of one job.

A running job whose lease lapsed lost its worker: its status says since when, and when a
sweeper puts it back on its queue (its lease lapsed by the grace period), or that this is
overdue (then no worker is alive to sweep). Its deliveries are listed with how each ended.
A queue with unfinished jobs and no live worker gets a warning.
"""

from __future__ import annotations

import datetime as dt

from rich.panel import Panel
from rich.table import Table

from worker.cli.common import err_console
from worker.config import Settings
from worker.fleet.jobs import TERMINAL, Job, now
from worker.fleet.liveness import no_worker_note, queue_workers, workers_for

QUEUED_NOTE_S = 60.0  # a job queued this long gets a hint that no worker may be serving it


def clock(ts: float) -> str:
    """A time of day (local), with how far it is from now."""
    delta = ts - now()
    rel = f"in {delta:.0f}s" if delta >= 0 else f"{-delta:.0f}s ago"
    return f"{dt.datetime.fromtimestamp(ts):%H:%M:%S} ({rel})"


def status_text(job: Job, grace_s: float) -> str:
    s = job.state
    text: str = s.status
    waited = now() - job.spec.submitted_at
    if s.status == "queued" and s.deliveries == 0 and waited > QUEUED_NOTE_S:
        text += f" ({waited:.0f}s: is a worker consuming {job.spec.queue}?)"
    last = s.history[-1] if s.history else None
    if s.status == "queued" and last and s.recovered_at and last.ended_at == s.recovered_at:
        text += f" (recovered {clock(s.recovered_at)} from lost worker {last.worker})"
    if s.status == "running" and s.cancel_requested:
        text += " (cancelling)"
    due = job.recovery_due(grace_s)
    if due is not None and s.lease_until is not None:
        text += f" (stale: no worker since {clock(s.lease_until)}; "
        if due > now():
            text += f"back on its queue at {clock(due)})"
        else:
            text += f"overdue for recovery since {clock(due)}: is any worker alive?)"
    return text


def best_text(job: Job) -> str:
    o = job.state.outcome
    if o is None or o.best is None:
        if job.progress and job.progress.best_status:
            fast = job.progress.best_speedup
            return job.progress.best_status + (f" {fast:.2f}x" if fast else "")
        return "-" if o is None else "no correct kernel"
    speed = "not timed" if o.best.speedup is None else f"{o.best.speedup:.2f}x"
    return f"{o.best.status} {speed}"


def cost_text(job: Job) -> str:
    o = job.state.outcome
    usage = o.usage if o else (job.progress.usage if job.progress else None)
    if usage is None:
        return "-"
    return "?" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"


def round_text(job: Job) -> str:
    p = job.progress
    if job.state.outcome is not None:
        return f"{job.state.outcome.rounds_run}/{job.spec.config.rounds}"
    if p is None:
        return f"-/{job.spec.config.rounds}"
    return f"{p.round}/{p.rounds} {p.phase}"


def _age(job: Job) -> str:
    s = job.state
    end = s.finished_at or now()
    start = s.started_at or job.spec.submitted_at
    return f"{end - start:.0f}s"


def jobs_table(jobs: list[Job], title: str, grace_s: float) -> Table:
    table = Table(title=title)
    table.add_column("job", no_wrap=True, min_width=12)  # ids are for copying: never cut
    for col in ("problem", "queue", "status", "round", "best", "cost", "time"):
        table.add_column(col, overflow="fold")
    for j in jobs:
        table.add_row(
            j.id,
            j.spec.problem.id,
            j.spec.queue,
            status_text(j, grace_s),
            round_text(j),
            best_text(j),
            cost_text(j),
            _age(j),
        )
    return table


def job_panel(job: Job, grace_s: float) -> Panel:
    s, cfg = job.state, job.spec.config
    lines = [
        f"problem   {job.spec.problem.id}  (batch {job.spec.batch}, queue {job.spec.queue})",
        f"agent     {cfg.agent}"
        + (f" {cfg.llm.model}" if cfg.agent == "llm" else "")
        + f", {cfg.backend} for {cfg.target_gpu}, {cfg.rounds} rounds",
        f"status    {status_text(job, grace_s)}",
        f"round     {round_text(job)}",
        f"best      {best_text(job)}",
        f"cost      {cost_text(job)}",
    ]
    if job.progress and job.progress.last_status:
        lines.insert(4, f"last      {job.progress.last_status}")
    if s.outcome is not None:
        lines.append(f"stopped   {s.outcome.stop_reason}")
    if s.error:
        lines.append(f"error     {s.error}")
    if len(s.history) > 1 or any(d.end and d.end.startswith("lost") for d in s.history):
        lines += [f"delivery  {d.text()}" for d in s.history]
    return Panel("\n".join(lines), title=f"job {job.id}", expand=False)


def live_workers(settings: Settings, jobs: list[Job]) -> dict[str, list[str]]:
    """The live workers of each queue that has unfinished jobs (one question to the
    workers, bounded to a second; none asked if every job is finished). A queue nobody
    serves gets a warning on stderr; a queue missing from the answer was not asked."""
    waiting = sorted({j.spec.queue for j in jobs if j.status not in TERMINAL})
    found = queue_workers(settings) if waiting else None
    if found is None:
        return {}
    live = {q: workers_for(found, q) for q in waiting}
    for q in [q for q, names in live.items() if not names][
        : 1 if not settings.broker_url else None
    ]:
        err_console.print(
            f"warning: {no_worker_note(q, embedded=not settings.broker_url)}",
            markup=False,
            highlight=False,
        )
    return live


def correct(job: Job) -> bool:
    o = job.state.outcome
    return job.status == "done" and o is not None and o.best is not None and o.best.correct


def counts(jobs: list[Job]) -> dict[str, int]:
    found = {s: 0 for s in ("queued", "running", "done", "failed", "cancelled")}
    for j in jobs:
        found[j.status] += 1
    return found


def counts_text(jobs: list[Job]) -> str:
    return ", ".join(f"{n} {s}" for s, n in counts(jobs).items() if n)

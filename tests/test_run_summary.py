"""`kwright run`'s closing summary, from a run directory written the way the loop writes
one: which agent ran and why, the best kernel's path, the profile's story round by round,
and token/cost columns only where an LLM ran."""

from __future__ import annotations

from rich.console import Console

from agents.config import AgentConfig
from agents.protocols import Proposal
from agents.rundir import AttemptRecord, BestInfo, ProblemResult, RunDir, RunInfo
from kernelbench.protocol.result import EvalResult, Status
from profiler.report import KernelProfile, ProfileReport
from worker.cli.agent_options import AgentOptions
from worker.cli.run_summary import profile_story, summary

PID = "level1/1_Square_matmul"


def _kernel(occupancy: float, regs: int, limiter: str = "registers") -> KernelProfile:
    return KernelProfile(
        name="matmul_kernel",
        arch="sm_90",
        occupancy_pct=occupancy,
        occupancy_limiter=limiter,
        registers_per_thread=regs,
        spill_stores_bytes=0,
        spill_loads_bytes=0,
    )


def _run(tmp_path, agent: str) -> tuple[RunDir, RunInfo]:
    rundir = RunDir(tmp_path, "r-1")
    pdir = rundir.problem(PID)
    records = []
    # round 3 is reviewed as a failure: it carries no profile facts and breaks no series
    for n, kernel in enumerate([_kernel(37.5, 128), _kernel(62.5, 80), None], start=1):
        pdir.start_attempt(n)
        path = pdir.write_proposal(n, Proposal(source="class ModelNew: ...\n"))
        status = Status.CORRECT if kernel else Status.INCORRECT
        profile = ProfileReport(kernels=[kernel]) if kernel else None
        pdir.write_eval(n, EvalResult(status=status, correct=kernel is not None, profile=profile))
        record = AttemptRecord(attempt=n, round=n, status=status.value, candidate_path=str(path))
        pdir.finish_attempt(record)
        records.append(record)
    best = BestInfo(
        attempt=2, round=2, status="correct", correct=True, candidate_path=records[1].candidate_path
    )
    result = ProblemResult(problem_id=PID, stop_reason="no new configuration", best=best)
    result.attempts = records
    info = RunInfo(run_id="r-1", config=AgentConfig(agent=agent), status="done")
    info.results[PID] = result
    return rundir, info


def _text(group) -> str:
    console = Console(width=300, record=True)
    console.print(group)
    return console.export_text()


def test_offline_summary_says_why_where_and_what_changed(tmp_path):
    rundir, info = _run(tmp_path, "baseline")
    reason = AgentOptions().agent_reason(api_key=None)
    text = _text(summary(info, rundir, reason))
    assert "agent: baseline (the offline default: no OPENAI_API_KEY" in text
    assert f"best kernel {info.results[PID].best.candidate_path}" in text
    assert "occupancy 37.5% -> 62.5%" in text and "registers 128 -> 80" in text
    assert "limited by" not in text and "spill" not in text  # unchanged facts are left out
    assert "tokens" not in text and "cost" not in text and "$" not in text


def test_llm_summary_keeps_the_token_and_cost_columns(tmp_path):
    rundir, info = _run(tmp_path, "llm")
    reason = AgentOptions(agent="llm").agent_reason(api_key="sk-x")
    text = _text(summary(info, rundir, reason))
    assert "agent: llm (chosen with --agent llm)" in text
    assert "tokens" in text and "cost" in text
    assert "profile by round" not in text


def test_profile_story_lists_only_facts_that_changed(tmp_path):
    rundir, _ = _run(tmp_path, "baseline")
    story = profile_story(rundir.problem(PID).load())
    assert story == ["occupancy 37.5% -> 62.5%", "registers 128 -> 80"]

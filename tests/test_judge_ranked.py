"""The optimize-mode Judge ranks bottlenecks with evidence and says `done` (issue 31): its
structured-output schema, its prompt (verdict, profile facts, the lineage), its replies
read from the scripted OpenAI server on loopback, and the older shapes still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.config import AgentConfig, Budget, LLMSettings
from agents.llm.judge import LLMJudge
from agents.prompts import feedback_text, is_no_advice
from agents.protocols import AttemptView, Feedback, JudgeContext, LineageStep
from agents.providers.openai_client import LLMClient
from agents.rundir import AttemptRecord, ProblemDir
from agents.usage import BudgetTracker
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult, Status
from tests.fake_openai import FakeOpenAI, Scripted
from tests.test_search import profile

RELU = resolve_problem("level1/2_ReLU")
GOOD = solution_path(RELU).read_text()
RANKED = {
    "bottlenecks": [
        {
            "category": "memory-bound",
            "summary": "one pass at 40% of DRAM bandwidth",
            "evidence": [
                {"metric": "dram__throughput.avg.pct_of_peak_sustained_elapsed", "value": 40.1},
                {"metric": "global loads", "value": "32-bit x2"},
            ],
            "fix": "4 elements per thread, 128-bit loads",
        },
        {
            "category": "occupancy",
            "summary": "50% limited by registers",
            "evidence": [{"metric": "registers_per_thread", "value": 40}],
            "fix": "num_warps=8",
        },
    ],
    "done": False,
}


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def context(ranked: int = 3, history: list[LineageStep] | None = None) -> JudgeContext:
    result = EvalResult(
        status=Status.CORRECT,
        correct=True,
        runtime_ms=0.5,
        ref_runtime_ms=1.0,
        speedup=2.0,
        profile=profile(),
    )
    return JudgeContext(
        problem=RELU,
        problem_source=RELU.source(),
        config=AgentConfig(agent="llm"),
        round=2,
        attempt=AttemptView(attempt=3, round=2, source=GOOD, result=result),
        ranked=ranked,
        history=history or [],
    )


def judge(fake: FakeOpenAI, reply: str, structured: bool = True, **kw) -> tuple[Feedback, dict]:
    fake.script("judge", Scripted(content=reply))
    settings = LLMSettings(model="gpt-4o-mini", base_url=fake.base_url, max_retries=0)
    client = LLMClient(settings, "sk-test", BudgetTracker(Budget()))
    feedback = LLMJudge(client, structured=structured).review(context(**kw)).feedback
    return feedback, fake.requests_for("judge")[-1].body


def test_the_schema_asks_for_ranked_bottlenecks_with_evidence_and_done(fake):
    step = LineageStep(attempt=1, round=1, tried="first version", status="correct", runtime_ms=0.9)
    feedback, body = judge(fake, json.dumps(RANKED), ranked=4, history=[step])
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True
    root = schema["schema"]
    assert root["required"] == ["bottlenecks", "done"] and root["additionalProperties"] is False
    item = root["$defs"]["RankedBottleneck"]
    assert item["required"] == ["category", "summary", "evidence", "fix"]
    assert root["$defs"]["EvidenceItem"]["required"] == ["metric", "value"]
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "Rank up to 4 distinct bottlenecks" in system and '"done"' in system
    # The evidence it is asked to cite is in front of it: timing, profile facts, lineage.
    assert "speedup 2.00x" in user and "registers" in user
    assert "## Earlier attempts of this lineage" in user and "tried first version" in user
    assert [b.category for b in feedback.bottlenecks] == ["memory-bound", "occupancy"]
    first = feedback.bottlenecks[0]
    assert (
        first.evidence[0].metric.startswith("dram__throughput") and first.evidence[0].value == 40.1
    )
    assert first.fix == "4 elements per thread, 128-bit loads" and not feedback.done
    assert feedback.bottleneck == "memory-bound: one pass at 40% of DRAM bandwidth"
    text = feedback_text(feedback)
    assert "1. memory-bound: one pass" in text and "registers_per_thread=40" in text


def test_json_in_text_is_asked_for_the_ranked_keys(fake):
    reply = "Here is my review:\n```json\n" + json.dumps(RANKED) + "\n```"
    feedback, body = judge(fake, reply, structured=False)
    assert "response_format" not in body
    assert '"bottlenecks" (a list, most important first' in body["messages"][0]["content"]
    assert len(feedback.bottlenecks) == 2


def test_done_with_nothing_left_is_a_verdict_not_missing_advice(fake):
    feedback, _ = judge(fake, json.dumps({"bottlenecks": [], "done": True}))
    assert feedback.done and feedback.stop and not is_no_advice(feedback)
    assert feedback.bottlenecks == [] and "nothing further" in feedback.summary


def test_the_old_single_bottleneck_reply_still_reads(fake):
    old = {"bottleneck": "memory-bound", "method": "wider blocks", "plan": ["BLOCK=4096"]}
    feedback, _ = judge(fake, json.dumps(old), structured=False)
    assert (feedback.bottleneck, feedback.method, feedback.plan) == (
        "memory-bound",
        "wider blocks",
        ["BLOCK=4096"],
    )
    [only] = feedback.ranked()
    assert only.category == "memory-bound" and only.fix == "wider blocks; BLOCK=4096"
    assert not feedback.done


def test_evidence_as_one_object_and_other_key_spellings_read(fake):
    reply = {
        "ranked_bottlenecks": [
            {"bottleneck": "spills", "metrics": {"spill_stores_bytes": 128}, "method": "BLOCK=512"}
        ],
        "stop": False,
    }
    feedback, _ = judge(fake, json.dumps(reply), structured=False)
    [b] = feedback.bottlenecks
    assert (b.category, b.evidence[0].metric, b.evidence[0].value) == (
        "spills",
        "spill_stores_bytes",
        128,
    )


def test_old_feedback_and_attempt_files_still_parse(tmp_path: Path):
    old = {"mode": "optimize", "summary": "nothing left", "bottleneck": "x", "stop": True}
    feedback = Feedback.model_validate(old)
    assert feedback.done and feedback.ranked()[0].category == "x"
    record = {"attempt": 1, "round": 1, "status": "correct", "correct": True}
    pdir = ProblemDir(tmp_path / "p")
    d = pdir.attempt_dir(1)
    d.mkdir(parents=True)
    (d / "attempt.json").write_text(json.dumps(record))
    (d / "feedback.json").write_text(json.dumps(old))
    [loaded] = pdir.load()
    assert loaded.feedback is not None and loaded.feedback.done
    assert loaded.record.parent is None and loaded.record.direction is None
    assert AttemptRecord.model_validate(record).temperature is None

"""Agent building blocks: candidate extraction, tolerant JSON, prices, budgets, prompts."""

from __future__ import annotations

import json

import pytest

from agents.config import AgentConfig, Budget
from agents.llm.extract import extract_candidate
from agents.llm.judge import (
    OptimizeAdvice,
    RepairAdvice,
    _coerce,
    parse_json_object,
    strict_json_schema,
)
from agents.pricing import PriceTable
from agents.prompts import coder_messages, verdict_text
from agents.protocols import AttemptView, CoderContext, Feedback
from agents.usage import BudgetExceeded, BudgetTracker, Usage
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.result import EvalResult, Status, TensorCheck, TrialResult

CODE = "import torch\nimport torch.nn as nn\n\nclass ModelNew(nn.Module):\n    pass\n"


def test_extracts_the_last_block_defining_modelnew():
    reply = f"Draft:\n```python\nx = 1\n```\nFinal:\n```python\n{CODE}```\nDone."
    assert extract_candidate(reply).source == CODE


def test_prefers_later_full_file_over_earlier_one():
    reply = f"```python\n{CODE}```\nBetter:\n```py\n{CODE.replace('pass', 'x = 2')}```"
    assert "x = 2" in extract_candidate(reply).source


def test_unfenced_reply_with_modelnew_is_taken_from_first_import():
    got = extract_candidate("Here it is.\n" + CODE)
    assert got.source == CODE


@pytest.mark.parametrize(
    ("reply", "finish", "reason"),
    [
        ("", None, "empty"),
        ("I cannot help with that.", None, "no code"),
        ("```python\nprint(1)\n```", None, "no code block defines `class ModelNew`"),
        (
            "```python\nimport torch\nclass ModelNew(nn.Module):\n    def forward(",
            "length",
            "cut off",
        ),
        ("```python\nimport torch\nclass ModelNew(nn.Module):\n", None, "never closed"),
    ],
)
def test_extraction_failures_have_reasons(reply, finish, reason):
    got = extract_candidate(reply, finish)
    assert got.source is None and reason in got.failure


def test_tolerant_json_parsing():
    assert parse_json_object('{"a": 1}') == {"a": 1}
    assert parse_json_object('Sure!\n```json\n{"a": [1, 2,],}\n```\nthanks') == {"a": [1, 2]}
    assert parse_json_object("prose {not json} more") is None
    advice = _coerce(
        OptimizeAdvice, {"Bottleneck": "memory", "method": "vectorize", "plan": "a\nb; c"}
    )
    assert advice is not None and advice.plan == ["a", "b", "c"]
    assert _coerce(RepairAdvice, {"critical_issue": "x"}) is None


def test_strict_schema_requires_every_field():
    schema = strict_json_schema(OptimizeAdvice)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"bottleneck", "method", "plan"}
    json.dumps(schema)


def test_prices_and_unknown_models():
    table = PriceTable()
    assert table.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.price_for("openai/gpt-4o-2024-08-06") == table.prices["gpt-4o"]
    assert table.cost("my-local-model", 10, 10) is None


def test_price_file_overrides(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"my-local-model": {"input": 1.0, "output": 2.0}}))
    monkeypatch.setenv("KWRIGHT_PRICES_FILE", str(path))
    assert PriceTable.load().cost("my-local-model", 1_000_000, 0) == pytest.approx(1.0)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a price table"):
        PriceTable.load()


def test_budget_limits():
    tracker = BudgetTracker(Budget(max_usd=0.01, max_tokens=5000))
    tracker.check()
    tracker.add(Usage(calls=1, prompt_tokens=4000, completion_tokens=500, cost_usd=0.002))
    tracker.check()
    tracker.add(Usage(calls=1, prompt_tokens=1000, cost_usd=0.001))
    with pytest.raises(BudgetExceeded, match="5500 of 5000 tokens"):
        tracker.check()
    assert Usage(cost_usd=None).plus(Usage(cost_usd=1.0)).cost_usd is None
    with pytest.raises(BudgetExceeded, match="wall time"):
        BudgetTracker(Budget(max_wall_s=1), elapsed_s=2).check()


def test_verdict_text_carries_errors_and_mismatch_stats():
    failing = EvalResult(
        status=Status.INCORRECT,
        reason="trial 0: 10/100 values out of tolerance",
        trials=[
            TrialResult(
                trial=0,
                seed=1,
                sizes={"n": 100},
                ok=False,
                reason="10/100 values out",
                outputs=[TensorCheck(index=0, numel=100, mismatched=10, max_abs_err=0.5)],
            )
        ],
    )
    text = verdict_text(failing)
    assert "incorrect" in text and "10/100 values off" in text and "0 of 1 trials passed" in text
    crash = EvalResult(
        status=Status.COMPILE_ERROR,
        reason="nvcc reported errors",
        messages='k.cu(3): error: identifier "foo" is undefined',
    )
    assert 'identifier "foo" is undefined' in verdict_text(crash)
    assert "no candidate: cut off" in verdict_text(None, "cut off")


def test_coder_prompt_rounds():
    problem = resolve_problem("level1/2_ReLU")
    cfg = AgentConfig(agent="llm")
    first = coder_messages(
        CoderContext(problem=problem, problem_source=problem.source(), config=cfg, round=1)
    )
    assert "class Model" in first[1]["content"] and "Your candidate" not in first[1]["content"]
    assert "ModelNew" in first[0]["content"] and "x.device" in first[0]["content"]
    prev = AttemptView(
        attempt=1,
        round=1,
        source=CODE,
        result=EvalResult(status=Status.COMPILE_ERROR, reason="syntax error at line 4"),
    )
    fb = Feedback(
        mode="repair",
        summary="fix the class header",
        critical_issue="bad header",
        minimal_fix="add (nn.Module)",
    )
    later = coder_messages(
        CoderContext(
            problem=problem,
            problem_source=problem.source(),
            config=cfg,
            round=2,
            previous=prev,
            feedback=fb,
        )
    )
    user = later[1]["content"]
    assert "syntax error at line 4" in user and "add (nn.Module)" in user and CODE.strip() in user

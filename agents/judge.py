"""The LLM Judge: repair mode for a failing candidate, optimize mode for a correct one.

It asks for JSON through structured outputs (`response_format` json_schema built from the
pydantic model, strict) or, for endpoints without them, JSON in text parsed tolerantly
(code fences, prose around the object, trailing commas). An unusable reply never stops
the loop: the Coder then gets the verdict with fallback feedback.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from agents.prompts import as_markdown, judge_messages
from agents.protocols import Feedback, FeedbackMode, JudgeContext, Review, fallback_feedback
from kernelbench.result import Status

if TYPE_CHECKING:
    from agents.chat import ChatClient

log = logging.getLogger(__name__)


class RepairAdvice(BaseModel):
    critical_issue: str
    why_it_matters: str
    minimal_fix: str


class OptimizeAdvice(BaseModel):
    bottleneck: str
    method: str
    plan: list[str]


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the strict form structured outputs require."""

    def tighten(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            node.pop("title", None)
            for value in node.values():
                tighten(value)
        elif isinstance(node, list):
            for item in node:
                tighten(item)

    schema = model.model_json_schema()
    tighten(schema)
    return schema


def response_format_for(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": model.__name__.lower(),
            "strict": True,
            "schema": strict_json_schema(model),
        },
    }


_FENCED_JSON = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text`, tolerating fences, prose and trailing commas."""
    candidates = [m.group(1) for m in _FENCED_JSON.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for raw in candidates:
        for attempt in (raw, _TRAILING_COMMA.sub(r"\1", raw)):
            try:
                value = json.loads(attempt)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _coerce(model: type[BaseModel], data: dict[str, Any]) -> BaseModel | None:
    """Validate, accepting a plan given as one string and common key spellings."""
    data = {k.strip().lower().replace(" ", "_"): v for k, v in data.items()}
    if "why" in data and "why_it_matters" not in data:
        data["why_it_matters"] = data.pop("why")
    if isinstance(data.get("plan"), str):
        data["plan"] = [p.strip() for p in re.split(r"\n+|;\s*", data["plan"]) if p.strip()]
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


class LLMJudge:
    name = "llm"

    def __init__(self, client: ChatClient, *, structured: bool = True) -> None:
        self.client = client
        self.structured = structured

    def review(self, ctx: JudgeContext) -> Review:
        attempt = ctx.attempt
        if attempt.source is None:
            # Nothing to review: the Coder's reply had no usable code; say so directly.
            failure = attempt.failure or "no code in the reply"
            feedback = Feedback(
                mode="repair",
                summary="Your reply contained no usable candidate.",
                critical_issue=failure,
                minimal_fix="Reply with exactly one ```python block holding the whole file, "
                "including `class ModelNew`.",
                source="fallback",
            )
            return Review(feedback=feedback)
        correct = attempt.result is not None and attempt.result.status == Status.CORRECT
        mode: FeedbackMode = "optimize" if correct else "repair"
        model: type[BaseModel] = OptimizeAdvice if correct else RepairAdvice
        keys = ", ".join(f'"{k}"' for k in model.model_fields)
        messages = judge_messages(ctx, mode, structured=self.structured, keys=keys)
        prompt = as_markdown(messages)
        reply = self.client.chat(
            messages, response_format=response_format_for(model) if self.structured else None
        )
        data = parse_json_object(reply.text)
        advice = _coerce(model, data) if data is not None else None
        if advice is None:
            log.warning(
                "round %d: the Judge's reply is not usable JSON; using fallback feedback", ctx.round
            )
            feedback = fallback_feedback(mode, "the Judge's reply was not usable", attempt.failure)
        elif isinstance(advice, RepairAdvice):
            feedback = Feedback(
                mode="repair",
                summary=advice.critical_issue.splitlines()[0][:200],
                critical_issue=advice.critical_issue,
                why=advice.why_it_matters,
                minimal_fix=advice.minimal_fix,
            )
        else:
            assert isinstance(advice, OptimizeAdvice)
            feedback = Feedback(
                mode="optimize",
                summary=advice.bottleneck.splitlines()[0][:200],
                bottleneck=advice.bottleneck,
                method=advice.method,
                plan=advice.plan,
            )
        return Review(feedback=feedback, prompt=prompt, reply=reply.text, usage=reply.usage)

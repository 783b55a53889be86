"""The LLM Judge: repair mode for a failing candidate, optimize mode for a correct one.

It asks for JSON through structured outputs (`response_format` json_schema built from the
pydantic model, strict) or, for endpoints without them, JSON in text parsed tolerantly
(every balanced object in the reply is tried, fenced or not, with prose and braces around
it; common key spellings and nestings map onto the schema). A reply with no usable advice
never stops the loop and is never passed off as advice: the feedback is marked "no advice
this round" (`agents.prompts.no_advice`) and the Coder is told so.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from agents.errors import AgentError, AgentErrorKind
from agents.llm.coder import reply_markdown
from agents.llm.json_text import json_objects, parse_json_object
from agents.llm.ranked import TEXT_KEYS, RankedAdvice, ranked_from
from agents.prompts import as_markdown, judge_messages, no_advice
from agents.protocols import Bottleneck, Feedback, FeedbackMode, JudgeContext, Review
from kernelbench.protocol.result import Status

if TYPE_CHECKING:
    from agents.providers.chat import ChatClient

log = logging.getLogger(__name__)

__all__ = [
    "LLMJudge",
    "OptimizeAdvice",
    "RepairAdvice",
    "optimize_feedback",
    "parse_json_object",
    "repair_feedback",
    "strict_json_schema",
]


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


# key spellings models use, mapped onto the schema's keys
_SYNONYMS: dict[str, tuple[str, ...]] = {
    field: tuple(words.split())
    for field, words in {
        "critical_issue": "issue critical problem critical_problem main_issue root_cause bug "
        "error the_critical_issue critical_bug diagnosis",
        "why_it_matters": "why why_matters reason rationale impact explanation why_this_matters",
        "minimal_fix": "fix minimal_change suggested_fix recommended_fix proposed_fix solution "
        "remedy min_fix minimum_fix the_fix",
        "bottleneck": "main_bottleneck primary_bottleneck bottlenecks limiter limiting_factor "
        "bound diagnosis issue problem",
        "method": "optimization_method optimization optimization_technique technique approach "
        "strategy recommended_method suggested_method fix recommendation",
        "plan": "modification_plan optimization_plan implementation_plan action_plan steps "
        "plan_steps changes modifications concrete_plan next_steps",
    }.items()
}
_WRAPPERS = (
    "advice",
    "feedback",
    "review",
    "result",
    "response",
    "answer",
    "repair",
    "optimize",
    "optimization",
    "judge",
    "output",
    "data",
    "analysis",
)
_STEP_KEYS = (
    "description",
    "action",
    "change",
    "step",
    "detail",
    "details",
    "text",
    "what",
    "instruction",
    "task",
    "modification",
)


def _key(k: str) -> str:
    k = re.sub(r"[\s\-]+", "_", str(k).strip().lower())
    return k.replace("optimisation", "optimization").replace("optimise", "optimize")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float | bool):
        return str(value)
    if isinstance(value, list):
        parts = [t for v in value if (t := _as_text(v))]
        return "; ".join(parts) or None
    if isinstance(value, dict):
        parts = [f"{k}: {t}" for k, v in value.items() if (t := _as_text(v))]
        return "; ".join(parts) or None
    return str(value)


def _step_text(step: Any) -> str | None:
    if isinstance(step, dict):
        norm = {_key(k): v for k, v in step.items()}
        for key in _STEP_KEYS:
            text = _as_text(norm.get(key)) if not isinstance(norm.get(key), int) else None
            if text:
                rest = [
                    f"{k}: {t}"
                    for k, v in norm.items()
                    if k not in (key, "step", "id", "index", "order", "number", "priority")
                    and (t := _as_text(v))
                ]
                return text + (f" ({'; '.join(rest)})" if rest else "")
        return _as_text({k: v for k, v in norm.items() if k not in ("id", "index", "order")})
    return _as_text(step)


def _as_plan(value: Any) -> list[str]:
    if isinstance(value, str):
        lines = re.split(r"\n+|;\s*", value)
        return [re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", p).strip() for p in lines if p.strip()]
    if isinstance(value, dict):
        return [t for v in value.values() if (t := _step_text(v))]
    if isinstance(value, list):
        return [t for v in value if (t := _step_text(v))]
    text = _as_text(value)
    return [text] if text else []


def _normalized(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    data = {_key(k): v for k, v in data.items()}
    if model is OptimizeAdvice:
        # a ranked list of bottlenecks: the first one, with its own method and plan
        for key in ("bottlenecks", "ranked_bottlenecks", "suggestions", "recommendations"):
            items = data.get(key)
            if isinstance(items, list) and items and isinstance(items[0], dict):
                first = {_key(k): v for k, v in items[0].items()}
                data.pop(key)
                for k, v in first.items():
                    data.setdefault(k, v)
                if "name" in data and "bottleneck" not in data:
                    data["bottleneck"] = data.pop("name")
    out: dict[str, Any] = {}
    for field in model.model_fields:
        for key in (field, *_SYNONYMS.get(field, ())):
            if key in data and data[key] not in (None, "", [], {}):
                out[field] = data[key]
                break
    if "plan" in model.model_fields:
        out["plan"] = _as_plan(out.get("plan"))
        if not out["plan"]:
            out.pop("plan")
    for field in list(out):
        if field != "plan":
            text = _as_text(out[field])
            if text is None:
                out.pop(field)
            else:
                out[field] = text
    return out


def _coerce(model: type[BaseModel], data: dict[str, Any]) -> BaseModel | None:
    """Validate, accepting common key spellings, nestings ({"advice": {...}}), a plan given
    as a string, a dict or a list of step objects; `why_it_matters` and `plan` may be
    missing. Returns None where the object holds no usable advice."""
    inner = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    inner.sort(key=lambda kv: _key(kv[0]) not in _WRAPPERS)  # {"advice": {...}} first
    candidates = [data, *(v for _k, v in inner)]
    for candidate in candidates:
        out = _normalized(model, candidate)
        if model is RepairAdvice:
            out.setdefault("why_it_matters", "")
        if model is OptimizeAdvice and "plan" not in out and "method" in out:
            out["plan"] = []
        try:
            return model.model_validate(out)
        except ValidationError:
            continue
    return None


def advice_from(model: type[BaseModel], text: str) -> BaseModel | None:
    """The first object in `text` that holds usable advice for `model`."""
    for obj in json_objects(text):
        advice = _coerce(model, obj)
        if advice is not None:
            return advice
    return None


def repair_feedback(text: str) -> Feedback | None:
    advice = advice_from(RepairAdvice, text)
    if not isinstance(advice, RepairAdvice):
        return None
    return Feedback(
        mode="repair",
        summary=advice.critical_issue.splitlines()[0][:200],
        critical_issue=advice.critical_issue,
        why=advice.why_it_matters,
        minimal_fix=advice.minimal_fix,
    )


def optimize_feedback(text: str) -> Feedback | None:
    """Ranked bottlenecks with evidence and `done`; the older single-bottleneck shape
    (`bottleneck`, `method`, `plan`) still reads, as one bottleneck."""
    ranked = next((r for obj in json_objects(text) if (r := ranked_from(obj))), None)
    old = advice_from(OptimizeAdvice, text)
    if ranked is None and not isinstance(old, OptimizeAdvice):
        return None
    bottlenecks, done = ranked or ([], False)
    if isinstance(old, OptimizeAdvice):
        bottleneck, method, plan = old.bottleneck, old.method, old.plan
    elif bottlenecks:
        first = bottlenecks[0]
        bottleneck, method, plan = first.label(), first.fix, []
    else:
        bottleneck, method, plan = "", "", []
    if not bottlenecks and bottleneck:
        fix = "; ".join(p for p in [method, *plan] if p)
        bottlenecks = [Bottleneck(category=bottleneck, fix=fix)]
    summary = bottleneck.splitlines()[0][:200] if bottleneck else ""
    return Feedback(
        mode="optimize",
        summary=summary or "The Judge has nothing further to suggest.",
        bottleneck=bottleneck or None,
        method=method or None,
        plan=plan,
        bottlenecks=bottlenecks,
        done=done,
    )


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
            nothing = Feedback(
                mode="repair",
                summary="Your reply contained no usable candidate.",
                critical_issue=failure,
                minimal_fix="Reply with exactly one ```python block holding the whole file, "
                "including `class ModelNew`.",
                source="fallback",
            )
            return Review(feedback=nothing)
        correct = attempt.result is not None and attempt.result.status == Status.CORRECT
        mode: FeedbackMode = "optimize" if correct else "repair"
        model: type[BaseModel] = RankedAdvice if correct else RepairAdvice
        keys = TEXT_KEYS if correct else ", ".join(f'"{k}"' for k in model.model_fields)
        messages = judge_messages(ctx, mode, structured=self.structured, keys=keys)
        try:
            reply = self.client.chat(
                messages, response_format=response_format_for(model) if self.structured else None
            )
        except AgentError as exc:
            if not (self.structured and exc.kind == AgentErrorKind.BAD_REQUEST):
                raise
            # An endpoint without structured outputs (many local servers answer 400):
            # JSON in text from now on.
            log.warning("the Judge's endpoint refused structured outputs (%s): JSON in text", exc)
            self.structured = False
            messages = judge_messages(ctx, mode, structured=False, keys=keys)
            reply = self.client.chat(messages)
        prompt = as_markdown(messages)
        texts = [t for t in (reply.text, reply.reasoning) if t]
        found: Feedback | None = None
        for text in texts:
            found = optimize_feedback(text) if correct else repair_feedback(text)
            if found is not None:
                break
        feedback = found
        if feedback is None:
            why = (
                f"the Judge refused: {reply.refusal.strip()[:200]}"
                if reply.refusal
                else "the Judge's reply held no usable advice"
                if reply.text.strip()
                else "the Judge's reply was empty"
            )
            log.warning("round %d: %s; no advice this round", ctx.round, why)
            feedback = no_advice(mode, why)
        return Review(
            feedback=feedback, prompt=prompt, reply=reply_markdown(reply), usage=reply.usage
        )

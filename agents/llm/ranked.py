"""The optimize-mode Judge's answer: ranked bottlenecks with metric evidence, and `done`.

`RankedAdvice` is the schema structured outputs ask for; `ranked_from` reads it tolerantly
from any JSON object a model writes (key spellings, evidence as a list of {metric, value}
or one {metric: value} object, a plan instead of a fix). The older single-bottleneck shape
(`bottleneck`, `method`, `plan`) is read by `agents.llm.judge` as before; a reply holding
only `done` is a verdict too (nothing left to try).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from agents.protocols import Bottleneck, Evidence


class EvidenceItem(BaseModel):
    metric: str
    value: float | str


class RankedBottleneck(BaseModel):
    category: str
    summary: str
    evidence: list[EvidenceItem]
    fix: str


class RankedAdvice(BaseModel):
    bottlenecks: list[RankedBottleneck]
    done: bool


TEXT_KEYS = (
    '"bottlenecks" (a list, most important first, of objects with "category", "summary", '
    '"evidence" (a list of {"metric": name, "value": value}) and "fix"), "done" (true or false)'
)

_LISTS = ("bottlenecks", "ranked_bottlenecks", "suggestions", "recommendations", "findings")
_DONE = ("done", "stop", "at_roofline", "nothing_left", "finished")
_CATEGORY = ("category", "bottleneck", "name", "type", "kind", "title", "limiter")
_SUMMARY = ("summary", "description", "diagnosis", "detail", "details", "explanation")
_FIX = ("fix", "method", "remedy", "solution", "optimization", "recommendation", "action")
_PLAN = ("plan", "steps", "modification_plan", "optimization_plan")


def _key(k: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(k).strip().lower())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(t for v in value if (t := _text(v)))
    if isinstance(value, dict):
        return "; ".join(f"{k}: {t}" for k, v in value.items() if (t := _text(v)))
    return str(value).strip()


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((t for k in keys if (t := _text(data.get(k)))), "")


def _evidence(value: Any) -> list[Evidence]:
    if isinstance(value, dict):
        return [Evidence(metric=str(k), value=_scalar(v)) for k, v in value.items()]
    if not isinstance(value, list):
        return [Evidence(metric=_text(value))] if _text(value) else []
    out = []
    for item in value:
        if isinstance(item, dict):
            norm = {_key(k): v for k, v in item.items()}
            metric = _first(norm, ("metric", "name", "counter", "fact"))
            if metric:
                out.append(Evidence(metric=metric, value=_scalar(norm.get("value"))))
            elif len(norm) == 1:
                ((k, v),) = norm.items()
                out.append(Evidence(metric=k, value=_scalar(v)))
        elif _text(item):
            out.append(Evidence(metric=_text(item)))
    return out


def _scalar(value: Any) -> float | int | str | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return _text(value)


def _bottleneck(item: Any) -> Bottleneck | None:
    if isinstance(item, str):
        return Bottleneck(category=item.strip()) if item.strip() else None
    if not isinstance(item, dict):
        return None
    norm = {_key(k): v for k, v in item.items()}
    category = _first(norm, _CATEGORY)
    summary = _first(norm, _SUMMARY)
    if not category and not summary:
        return None
    fix = "; ".join(p for p in (_first(norm, _FIX), _first(norm, _PLAN)) if p)
    return Bottleneck(
        category=category or summary.split(".")[0][:80],
        summary=summary if category else "",
        evidence=_evidence(norm.get("evidence") or norm.get("metrics")),
        fix=fix,
    )


def ranked_from(data: dict[str, Any]) -> tuple[list[Bottleneck], bool] | None:
    """(ranked bottlenecks, done) from one JSON object, or None where it holds neither a
    ranked list nor a `done` flag. Wrappers such as {"advice": {...}} are looked into."""
    for candidate in (data, *(v for v in data.values() if isinstance(v, dict))):
        norm = {_key(k): v for k, v in candidate.items()}
        items = next((norm[k] for k in _LISTS if isinstance(norm.get(k), list)), None)
        done_key = next((k for k in _DONE if isinstance(norm.get(k), bool)), None)
        if items is None and done_key is None:
            continue
        ranked = [b for item in items or [] if (b := _bottleneck(item)) is not None]
        done = bool(norm[done_key]) if done_key else False
        if ranked or done:
            return ranked, done
    return None

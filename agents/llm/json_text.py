"""JSON objects in a model's free text: every balanced object found, fenced or not, with
prose and braces around it, trailing commas forgiven, Python dict literals read; reasoning
blocks looked at last. The Judge reads its advice through these."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from agents.llm.extract import normalize, split_reasoning

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_MAX_OBJECT_STARTS = 400
_MAX_OBJECT_CHARS = 20000  # no advice object is longer; bounds the scan of a stray brace


def _balanced_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced {...} in `text` (strings respected), outermost
    first by position; an opening brace that never closes yields nothing."""
    spans: list[tuple[int, int]] = []
    starts = [i for i, ch in enumerate(text) if ch == "{"][:_MAX_OBJECT_STARTS]
    for start in starts:
        depth, in_string, escaped = 0, False, False
        for i in range(start, min(len(text), start + _MAX_OBJECT_CHARS)):
            ch = text[i]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
                continue
            if ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    spans.append((start, i + 1))
                    break
    return spans


def _loads(raw: str) -> Any:
    for attempt in (raw, _TRAILING_COMMA.sub(r"\1", raw)):
        try:
            return json.loads(attempt, strict=False)
        except json.JSONDecodeError:
            continue
    try:  # a Python dict literal ({'key': 'value'}), as some chat models write
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in `text` that parses (fenced or not, prose with braces around
    it tolerated, trailing commas forgiven), in order of position; an object nested in
    one already found is not repeated. Reasoning blocks are looked at last."""
    answer, reasoning = split_reasoning(normalize(text))
    found: list[dict[str, Any]] = []
    for part in (answer, reasoning):
        covered: list[tuple[int, int]] = []
        for start, end in _balanced_spans(part):
            if any(a <= start and end <= b for a, b in covered):
                continue
            value = _loads(part[start:end])
            if isinstance(value, dict):
                found.append(value)
                covered.append((start, end))
    return found


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text`, tolerating fences, prose and trailing commas."""
    objects = json_objects(text)
    return objects[0] if objects else None

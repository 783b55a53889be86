"""Pull the candidate file out of a Coder's free-text reply.

Rules, in order: among fenced code blocks, the last one that defines `class ModelNew`
(replies often show a draft first); else, with no fences, the text from the first import
line when it defines `class ModelNew`. A reply cut off by the token limit, or an opening
fence with no closing one, is a failure with a reason the next round can act on — never
an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n")
_MODELNEW = re.compile(r"^class\s+ModelNew\b", re.MULTILINE)
_IMPORT = re.compile(r"^(import|from)\s+\w", re.MULTILINE)


@dataclass(frozen=True)
class Extraction:
    source: str | None
    failure: str | None = None


def extract_candidate(reply: str, finish_reason: str | None = None) -> Extraction:
    if not reply.strip():
        return Extraction(None, "the reply was empty")
    blocks = [body for _lang, body in _FENCE.findall(reply)]
    with_class = [b for b in blocks if _MODELNEW.search(b)]
    if with_class:
        source = with_class[-1].strip() + "\n"
        if finish_reason == "length":
            return Extraction(
                None, "the reply was cut off at the token limit before the code ended"
            )
        return Extraction(source)
    opened = len(_OPEN_FENCE.findall(reply))
    if opened > len(blocks):
        if finish_reason == "length":
            return Extraction(
                None, "the reply was cut off at the token limit inside the code block"
            )
        return Extraction(None, "a code block was opened but never closed (truncated reply?)")
    if blocks:
        return Extraction(None, "no code block defines `class ModelNew` (reply the whole file)")
    if _MODELNEW.search(reply):
        start = _IMPORT.search(reply)
        source = reply[start.start() :] if start else reply
        if finish_reason == "length":
            return Extraction(None, "the reply was cut off at the token limit")
        return Extraction(source.strip() + "\n")
    return Extraction(
        None, "the reply has no code: answer with one ```python block holding the whole file"
    )

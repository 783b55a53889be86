"""Reading a model's reply as text: line endings normalized, reasoning set apart, fenced
code blocks paired line by line, tool-call arguments unpacked (agents.llm.extract and
agents.llm.judge read replies through these).

Fences follow CommonMark: an opening fence is a line that starts with three or more
backticks (or tildes), optionally followed by an info string; it is closed by a line
holding only a fence at least as long. Backticks inside prose ("put it in a ```python
block") are not fences.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Reasoning blocks some models put into `content` (DeepSeek-R1/QwQ <think>, others).
_REASONING_TAGS = ("think", "thinking", "reasoning", "thought", "reflection", "analysis")
_REASONING_BLOCK = re.compile(
    r"<(" + "|".join(_REASONING_TAGS) + r")\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE
)
_REASONING_OPEN = re.compile(r"<(" + "|".join(_REASONING_TAGS) + r")\b[^>]*>", re.IGNORECASE)
_REASONING_CLOSE = re.compile(r"</(" + "|".join(_REASONING_TAGS) + r")\s*>", re.IGNORECASE)
# gpt-oss harmony channels leaking through a raw endpoint
_HARMONY_FINAL = re.compile(r"<\|channel\|>final<\|message\|>", re.IGNORECASE)
_OTHER_SPECIAL = re.compile(r"<\|[a-z_]+\|>")

_FENCE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")


@dataclass(frozen=True)
class Block:
    lang: str
    body: str
    start: int  # line number of the opening fence (0-based, in its text)
    closed: bool
    origin: str  # "answer", "tool call", "reasoning"
    lead: str  # the prose just before the fence
    index: int = 0  # 1-based position among the closed blocks of its text


# ---------------------------------------------------------------------- text handling
def normalize(text: str) -> str:
    """LF line endings, no trailing whitespace on lines, no BOM / NULs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n"))


def split_reasoning(text: str) -> tuple[str, str]:
    """(answer, reasoning): reasoning blocks taken out of `text`."""
    reasoning: list[str] = []
    final = _HARMONY_FINAL.search(text)
    if final:
        reasoning.append(text[: final.start()])
        text = text[final.end() :]
    for m in _REASONING_BLOCK.finditer(text):
        reasoning.append(m.group(0))
    text = _REASONING_BLOCK.sub("", text)
    close = _REASONING_CLOSE.search(text)
    if close and not _REASONING_OPEN.search(text[: close.start()]):
        # "...reasoning</think> answer": the template put the opening tag in the prompt
        reasoning.append(text[: close.start()])
        text = text[close.end() :]
    opened = _REASONING_OPEN.search(text)
    if opened and not text[: opened.start()].strip():
        # reasoning that never ended (cut off): everything is reasoning
        reasoning.append(text[opened.end() :])
        text = ""
    text = _OTHER_SPECIAL.sub("", text)
    return text, "\n".join(reasoning)


def fenced_blocks(text: str, origin: str = "answer") -> list[Block]:
    """Fenced code blocks, paired line by line; the last may be unclosed."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i, closed_count, prose_start = 0, 0, 0
    while i < len(lines):
        m = _FENCE_LINE.match(lines[i])
        if m is None or (m.group("fence")[0] == "`" and "`" in m.group("info")):
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent").expandtabs(4))
        info = m.group("info").strip()
        lang = info.split()[0].lower().strip("{}.") if info else ""
        lead = "\n".join(lines[prose_start:i])[-300:]
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            c = _FENCE_LINE.match(lines[j])
            if (
                c is not None
                and c.group("fence")[0] == fence[0]
                and len(c.group("fence")) >= len(fence)
                and not c.group("info").strip()
            ):
                closed = True
                break
            line = lines[j]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        if closed:
            closed_count += 1
        blocks.append(
            Block(
                lang=lang,
                body="\n".join(body).strip("\n") + "\n",
                start=i,
                closed=closed,
                origin=origin,
                lead=lead,
                index=closed_count if closed else 0,
            )
        )
        i = j + 1
        prose_start = i
    return blocks


def tool_texts(tool_args: list[str]) -> list[str]:
    """String values from tool-call arguments (JSON or plain)."""
    texts: list[str] = []
    for raw in tool_args:
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            texts.append(raw)
            continue
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                texts.append(v)
            elif isinstance(v, dict):
                stack.extend(reversed(list(v.values())))
            elif isinstance(v, list):
                stack.extend(reversed(v))
    return texts


_GLUED_OPEN = re.compile(r"(?m)^([^`\n]*\S)[ \t]*(`{3,})([A-Za-z][\w+-]*)[ \t]*$")
_GLUED_CLOSE = re.compile(r"(?m)^([^`\n]*\S)(`{3,})[ \t]*$")


def repair_fences(text: str) -> str:
    """Fences glued to text put on lines of their own: "Here:```python" opens a block and
    "    return y```" closes one (a last resort: CommonMark reads neither as a fence)."""
    text = _GLUED_OPEN.sub(lambda m: f"{m.group(1)}\n{m.group(2)}{m.group(3)}", text)
    return _GLUED_CLOSE.sub(lambda m: f"{m.group(1)}\n{m.group(2)}", text)

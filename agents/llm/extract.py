"""Pull the candidate file out of a Coder's reply, read as models actually write it.

1. Reasoning is set apart first: `<think>`/`<thinking>`/`<reasoning>`/... blocks (and a
   bare `...</think>` whose opening tag the chat template swallowed) are stripped from the
   answer; the endpoint's `reasoning_content` and tool-call arguments are extra texts
   looked at only after the answer.
2. Fences are paired line by line (agents.llm.fences): inline backticks are not fences.
3. Every closed block defining `class ModelNew` is a candidate, whatever the finish reason
   (a complete block followed by prose cut at the token limit is still complete). They are
   ranked by likelihood (answer before reasoning, later before earlier, python-tagged
   before others, blocks introduced as "for reference"/"simpler"/"draft" last) and the
   first one that passes the static check is taken; where none does, the likeliest is
   taken (its evaluation then says why it is rejected).
4. A ```cuda/```cpp block plus a Python wrapper that builds it from a file
   (`cpp_extension.load(sources=["k.cu"])`, `open("k.cu").read()`) is assembled into one
   self-contained file (the source inlined, built with `load_inline`); where that is not
   possible the failure tells the Coder exactly what to send.
5. No candidate is a failure with a reason the next round can act on, never an exception;
   a refusal is recorded as such (kind "refusal").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from agents.llm.assemble import SEPARATE_BLOCKS_HELP, assemble
from agents.llm.fences import (
    Block,
    fenced_blocks,
    normalize,
    repair_fences,
    split_reasoning,
    tool_texts,
)
from kernelbench.harness.static.check import CandidateFileError, check_candidate

ReplyKind = Literal["candidate", "no_candidate", "refusal"]

_MODELNEW = re.compile(r"^class\s+ModelNew\b", re.MULTILINE)
_IMPORT = re.compile(r"^(import|from)\s+\w", re.MULTILINE)
_PY_LANGS = {"", "python", "py", "python3", "py3", "pytorch", "torch", "triton", "ipython"}
_NATIVE_LANGS = {"cuda", "cu", "c++", "cpp", "cxx", "c", "cc", "h", "hpp", "cuh"}
_UNLIKELY = re.compile(
    r"for reference|simpler|simple version|naive|reference implementation|equivalent|"
    r"alternative|alternatively|fallback|draft|original|for comparison|pure pytorch|"
    r"baseline|would look like|old version|previous version",
    re.IGNORECASE,
)
_LIKELY = re.compile(r"final|complete|full|corrected|fixed|updated|optimi[sz]ed", re.IGNORECASE)
_REFUSAL = re.compile(
    r"^\s*(i'?m sorry|i am sorry|sorry,|i can(no|')t (help|assist|do)|i cannot (help|assist|"
    r"comply|provide)|i won'?t|i'm unable|i am unable|as an ai)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Extraction:
    source: str | None
    failure: str | None = None
    kind: ReplyKind = "candidate"
    note: str | None = None  # which block was taken and why, or what was tried
    tried: list[str] = field(default_factory=list)  # per candidate tried: why it was not taken
    clean: bool = False  # the candidate passes the static check

    def as_notes(self) -> dict[str, object]:
        notes: dict[str, object] = {"reply_kind": self.kind}
        if self.note:
            notes["extraction"] = self.note
        if self.tried:
            notes["extraction_tried"] = list(self.tried)
        return notes


# ---------------------------------------------------------------------- candidates
@dataclass
class _Candidate:
    source: str
    label: str
    score: float
    assembled: bool = False


def _static_problem(source: str, backend: str | None, torch_ops: bool) -> str | None:
    """None where `source` passes the static check, else the first reason."""
    try:
        report = check_candidate(source, backend, allow_torch_ops=torch_ops)
    except CandidateFileError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - the check must never lose a reply
        return f"static check failed: {exc}"
    return report.violations[0] if report.violations else None


def _label(block: Block, total: int) -> str:
    where = "" if block.origin == "answer" else f" in the {block.origin}"
    tag = f"```{block.lang}" if block.lang else "untagged"
    if not block.closed:
        return f"unclosed {tag} block{where}"
    return f"block {block.index} of {total} ({tag}){where}"


def _score(block: Block, position: int) -> float:
    score = float(position)  # later blocks first: drafts come before the final answer
    score += {"answer": 10000.0, "tool call": 5000.0, "reasoning": 0.0}[block.origin]
    if block.lang not in _PY_LANGS:
        score -= 500.0
    lead = block.lead.strip().split("\n")[-2:]
    last = " ".join(lead)
    if _UNLIKELY.search(last):
        score -= 1000.0
    elif _LIKELY.search(last):
        score += 100.0
    if not block.closed:
        score -= 3000.0
    return score


def extract_candidate(
    reply: str,
    finish_reason: str | None = None,
    *,
    backend: str | None = None,
    reasoning: str | None = None,
    refusal: str | None = None,
    tool_args: list[str] | None = None,
    allow_torch_ops: bool = False,
) -> Extraction:
    """The candidate in a Coder reply (`reply` is the message content; `reasoning` the
    endpoint's reasoning_content, `refusal` its refusal field, `tool_args` the arguments
    of any tool calls). Where none is found, fences glued to a line's text ("Here:```python",
    "return y```") are put on lines of their own and the reply is read once more."""
    args = (finish_reason, backend, reasoning, refusal, tool_args or [], allow_torch_ops)
    got = _extract(normalize(reply or ""), *args)
    if not got.clean:
        repaired = repair_fences(normalize(reply or ""))
        if repaired != normalize(reply or ""):
            again = _extract(repaired, *args)
            if again.source is not None and (again.clean or got.source is None):
                note = f"{again.note} (after putting glued fences on lines of their own)"
                return Extraction(
                    again.source, kind=again.kind, note=note, tried=again.tried, clean=again.clean
                )
    return got


def _extract(
    content: str,
    finish_reason: str | None,
    backend: str | None,
    reasoning: str | None,
    refusal: str | None,
    tool_args: list[str],
    torch_ops: bool = False,
) -> Extraction:
    answer, inline_reasoning = split_reasoning(content)
    texts: list[tuple[str, str]] = [("answer", answer)]
    texts += [("tool call", normalize(t)) for t in tool_texts(tool_args)]
    if answer.strip().startswith(("{", "[")) and not fenced_blocks(answer):
        texts += [("tool call", normalize(t)) for t in tool_texts([answer.strip()])]  # JSON mode
    extra_reasoning = "\n".join(t for t in (inline_reasoning, normalize(reasoning or "")) if t)
    if extra_reasoning.strip():
        texts.append(("reasoning", extra_reasoning))

    candidates: list[_Candidate] = []
    unclosed: list[Block] = []
    assembly_notes: list[str] = []
    natives_seen = False
    position = 0
    for origin, text in texts:
        blocks = fenced_blocks(text, origin)
        total = sum(b.closed for b in blocks)
        natives = [b for b in blocks if b.closed and b.lang in _NATIVE_LANGS]
        natives_seen = natives_seen or any("__global__" in b.body for b in natives)
        for b in blocks:
            position += 1
            if not _MODELNEW.search(b.body):
                continue
            if not b.closed:
                unclosed.append(b)
                if finish_reason == "length":
                    continue  # cut off inside the block: never complete
            label, score = _label(b, total), _score(b, position)
            if natives:
                source, why = assemble(b.body, natives)
                if source is not None:
                    candidates.append(
                        _Candidate(
                            source, label + " assembled with its native blocks", score + 1, True
                        )
                    )
                elif why:
                    assembly_notes.append(why)
            candidates.append(_Candidate(b.body, label, score))
        if not blocks and _MODELNEW.search(text) and finish_reason != "length":
            # no fences: the text from the first import line
            start = _IMPORT.search(text)
            source = (text[start.start() :] if start else text).strip() + "\n"
            position += 1
            candidates.append(
                _Candidate(
                    source, f"unfenced code in the {origin}", _score_unfenced(origin, position)
                )
            )

    if candidates:
        candidates.sort(key=lambda c: -c.score)
        tried: list[str] = []
        seen: set[str] = set()
        for c in candidates:
            if c.source in seen:
                continue
            seen.add(c.source)
            problem = _static_problem(c.source, backend, torch_ops)
            if problem is None:
                why = "the likeliest" if not tried else "the first to pass the static check"
                note = f"took {c.label}: {why}"
                if len(seen) > 1 or len(candidates) > 1:
                    note += f" of {len({x.source for x in candidates})} candidates"
                if tried:
                    note += "; passed over " + "; ".join(tried)[:400]
                return Extraction(c.source, kind="candidate", note=note, tried=tried, clean=True)
            tried.append(f"{c.label}: {problem}")
        complete = [c for c in candidates if not c.label.startswith("unclosed")]
        if complete:
            best = complete[0]
            note = f"took {best.label}: the likeliest; no candidate passes the static check"
            if natives_seen and assembly_notes:
                note += f" ({assembly_notes[0]})"
            return Extraction(best.source, kind="candidate", note=note, tried=tried)

    # ------------------------------------------------------------------ no candidate
    if refusal and refusal.strip():
        return Extraction(
            None,
            f"the model refused (the reply has no code): {refusal.strip()[:300]}",
            kind="refusal",
        )
    if not content.strip() and not any(t.strip() for _o, t in texts):
        return Extraction(None, "the reply was empty", kind="no_candidate")
    if finish_reason == "length":
        if any(not b.closed for _o, t in texts for b in fenced_blocks(t)):
            return Extraction(
                None,
                "the reply was cut off at the token limit inside the code block "
                "(write less prose and a shorter file)",
                kind="no_candidate",
            )
        if _MODELNEW.search(answer):
            return Extraction(None, "the reply was cut off at the token limit", kind="no_candidate")
        if not answer.strip():
            return Extraction(
                None,
                "the reply was cut off at the token limit while still reasoning (no answer)",
                kind="no_candidate",
            )
    if natives_seen:
        hint = f" ({assembly_notes[0]})" if assembly_notes else ""
        what = "the reply has its CUDA code in a separate block and no Python file defining "
        what += "`class ModelNew` that builds it: "
        return Extraction(None, what + SEPARATE_BLOCKS_HELP + hint, kind="no_candidate")
    if _REFUSAL.search(answer) and len(answer) < 600 and not fenced_blocks(answer):
        return Extraction(
            None,
            f"the model refused (the reply has no code): {answer.strip()[:300]}",
            kind="refusal",
        )
    if unclosed:
        return Extraction(
            None, "a code block was opened but never closed (truncated reply?)", kind="no_candidate"
        )
    if any(fenced_blocks(t) for _o, t in texts):
        return Extraction(
            None,
            "no code block defines `class ModelNew` (reply the whole file)",
            kind="no_candidate",
        )
    if not answer.strip():
        return Extraction(
            None, "the reply's answer was empty (only reasoning, no code)", kind="no_candidate"
        )
    return Extraction(
        None,
        "the reply has no code: answer with one ```python block holding the whole file",
        kind="no_candidate",
    )


def _score_unfenced(origin: str, position: int) -> float:
    return {"answer": 9000.0, "tool call": 4000.0, "reasoning": -1000.0}[origin] + position

"""Which library entries a new problem is shown, and how they are written into a prompt.

Ranking: an entry whose signature is the problem's own (same digest) comes first; then
entries that share fused patterns (chains of 2-3 ops along data edges, see
`Signature.patterns`), scored by the share of the problem's chains the entry has and the
overlap of their op sets. An entry that shares no chain (a linear layer's `mm>add` does
not count: every Gemm problem has it) or scores under `MIN_SCORE` is never offered: a
kernel for an unrelated computation costs context and teaches little. Ties go to the entry
for the same target GPU, then the fastest. Entries for another backend are not offered (a
CUDA C kernel is a poor example for a Triton job).

Budget: an example costs its rendered text's tokens, estimated as characters / 4 (no
tokenizer is assumed installed); examples are taken in rank order while they fit, and
one that does not fit is skipped for a smaller one after it.
"""

from __future__ import annotations

from pydantic import BaseModel

from agents.library.signature import Signature
from agents.library.store import LibraryEntry

CHARS_PER_TOKEN = 4
DEFAULT_BUDGET_TOKENS = 3000  # about one mid-sized kernel and its notes
MAX_EXAMPLES = 3
MIN_SCORE = 0.2  # tuned on KernelBench level 2 (tests/benchmarks/library_retrieval.py)
BIAS_CHAINS = frozenset({"mm>add"})  # every linear layer has it: not a fused pattern
WEIGHTS = {1: 0.2, 2: 0.35, 3: 0.45}  # op sets, 2-chains, 3-chains


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _covered(query: set[str], other: set[str]) -> float:
    return len(query & other) / len(query) if query else 0.0


def similarity(query: Signature, other: Signature) -> tuple[float, bool]:
    """(score in [0, 1], exact): 1.0 and True for the same graph; 0.0 where no fused
    pattern (2-chain) other than a linear layer's bias add is shared; else the share of
    the query's chains the other has (2- and 3-chains) plus the op sets' overlap."""
    if query.digest == other.digest:
        return 1.0, True
    if not (query.patterns(2) & other.patterns(2)) - BIAS_CHAINS:
        return 0.0, False
    score = WEIGHTS[1] * _jaccard(set(query.ops()), set(other.ops()))
    score += sum(WEIGHTS[n] * _covered(query.patterns(n), other.patterns(n)) for n in (2, 3))
    return min(score, 0.99), False


class Example(BaseModel):
    """A library entry chosen for a problem, with why."""

    entry: LibraryEntry
    score: float
    exact: bool
    shared: list[str]  # the fused patterns it shares with the problem
    tokens: int

    def render(self) -> str:
        e = self.entry
        how = "the same computation" if self.exact else "shares " + ", ".join(self.shared[:4])
        facts = [f"backend {e.backend}", f"policy {e.policy}"]
        if e.target_gpu:
            facts.append(f"target {e.target_gpu}")
        if e.precision:
            facts.append(e.precision)
        if e.speedup is not None:
            facts.append(f"speedup {e.speedup:.2f}x")
        else:
            facts.append("verified correct, not timed")
        lines = [
            f"### Example from {e.problem_id} ({how})",
            f"Ops: {e.signature.text()}. {'; '.join(facts)}.",
        ]
        if e.profile:
            lines.append(f"Profile: {e.profile}")
        lines += [f"- {lesson}" for lesson in e.lessons]
        lines += ["```python", e.source.rstrip(), "```"]
        return "\n".join(lines)


def rank(
    query: Signature, entries: list[LibraryEntry], *, backend: str | None = None,
    target_gpu: str | None = None, exclude_problem: str | None = None,
) -> list[Example]:  # fmt: skip
    """Every entry worth offering, best first (no budget applied)."""
    scored: list[tuple[tuple[float, ...], Example]] = []
    for entry in entries:
        if backend is not None and entry.backend != backend:
            continue
        if exclude_problem is not None and entry.problem_id == exclude_problem:
            continue
        score, exact = similarity(query, entry.signature)
        if not exact and score < MIN_SCORE:
            continue
        shared = sorted(query.patterns(3) & entry.signature.patterns(3)) or sorted(
            query.patterns(2) & entry.signature.patterns(2)
        )
        example = Example(entry=entry, score=round(score, 4), exact=exact, shared=shared, tokens=0)
        example.tokens = estimate_tokens(example.render())
        same_gpu = 1.0 if target_gpu is not None and entry.target_gpu == target_gpu else 0.0
        key = (score, same_gpu, entry.speedup or 0.0)
        scored.append((key, example))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    best: dict[str, Example] = {}
    for _, example in scored:  # one example per source: the best-ranked copy
        best.setdefault(example.entry.source, example)
    return list(best.values())


def within_budget(
    ranked: list[Example], budget_tokens: int, max_examples: int = MAX_EXAMPLES
) -> list[Example]:
    """Examples in rank order whose rendered section fits `budget_tokens` in all."""
    chosen: list[Example] = []
    used = estimate_tokens(SECTION_HEADER)
    for example in ranked:
        if len(chosen) >= max_examples:
            break
        if used + example.tokens + 1 <= budget_tokens:  # +1: the blank line between
            chosen.append(example)
            used += example.tokens + 1
    return chosen


SECTION_HEADER = (
    "## Worked examples from the kernel library\n"
    "Verified kernels for similar computations (checked by the harness, like yours will "
    "be). Reuse what fits; your kernel must still compute this problem exactly."
)


def render_section(examples: list[Example]) -> str:
    """The prompt section for `examples` ("" for none)."""
    if not examples:
        return ""
    return "\n\n".join([SECTION_HEADER, *(e.render() for e in examples)])

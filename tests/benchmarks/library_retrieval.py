"""Retrieval quality of the kernel library (issue 32), leave-one-out.

Every problem of a suite is traced (agents.library.tracing) and indexed as a library entry
(its reference source stands in for a kernel of about that size); each problem in turn is
then the query against all the others, within the token budget. An offered entry is
*relevant* when it shares a fused pattern with the query by the problems' own names, read
independently of the tracer: two adjacent ops of the name (`Conv2d_ReLU_BiasAdd` ->
conv2d>relu, relu>add), spellings folded (Gemm/Matmul/Linear, Scale/Scaling/Multiply,
BiasAdd/Add, Hardtanh/Clamp ...).

Columns: `queries`; `answerable` (some other problem shares a name bigram: the ceiling);
`offered` (queries given >= 1 example); `exact` (an example with the very same signature);
`top1 relevant` (of queries offered something, the first example shares a pattern);
`any relevant` (of those, some example does); `recall` (of answerable queries, some
relevant example was offered); tokens (mean / max of the prompt section) against the budget.
A `random` row offers as many random entries per query, for scale.

    python tests/benchmarks/library_retrieval.py [--kb /work/kb/KernelBench] [--budget 3000]
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.library.retrieve import (
    DEFAULT_BUDGET_TOKENS,
    Example,
    estimate_tokens,
    rank,
    render_section,
    within_budget,
)
from agents.library.signature import Signature
from agents.library.store import LibraryEntry
from agents.library.tracing import signatures_of
from kernelbench.problems.registry import problem_files

SYNONYMS = {
    "matmul": "gemm", "linear": "gemm", "bmm": "gemm", "biasadd": "add", "residualadd": "add",
    "bias": "add", "scaling": "mul", "scale": "mul", "multiply": "mul", "divide": "div",
    "subtract": "sub", "hardtanh": "clamp", "globalavgpool": "mean", "mean": "mean",
    "conv2d": "conv2d", "swish": "swish", "dropout": "",
}  # fmt: skip


def name_ops(path: Path) -> list[str]:
    words = re.sub(r"^\d+_", "", path.stem).split("_")
    ops = [SYNONYMS.get(w.lower(), w.lower()) for w in words]
    return [o for o in ops if o and not o.isdigit() and o not in ("fp16", "bf16")]


def name_bigrams(path: Path) -> set[tuple[str, str]]:
    ops = name_ops(path)
    return set(itertools.pairwise(ops))


def index(paths: list[Path], sigs: dict[Path, Signature], suite: str) -> list[LibraryEntry]:
    return [
        LibraryEntry(
            problem_id=f"{suite}/{p.stem}",
            problem_name=p.stem,
            signature=sigs[p],
            backend="triton",
            source=p.read_text(),
            target_gpu="H100",
        )
        for p in paths
        if p in sigs
    ]


def evaluate(
    name: str, queries: list[Path], entries: list[LibraryEntry], sigs: dict[Path, Signature],
    paths_by_id: dict[str, Path], budget: int, rng: random.Random | None = None,
) -> dict[str, object]:  # fmt: skip
    offered = exact = top1 = anyrel = answerable = recalled = 0
    tokens: list[int] = []
    for q in queries:
        if q not in sigs:
            continue
        others = [e for e in entries if paths_by_id[e.problem_id] != q]
        want = name_bigrams(q)
        relevant_ids = {
            e.problem_id for e in others if want & name_bigrams(paths_by_id[e.problem_id])
        }
        answerable += bool(relevant_ids)
        chosen: list[Example] = within_budget(rank(sigs[q], others), budget)
        if rng is not None:  # as many random entries, within the same budget
            picks = [Example(entry=e, score=0.0, exact=False, shared=[], tokens=0)
                     for e in rng.sample(others, len(others))]  # fmt: skip
            for pick in picks:
                pick.tokens = estimate_tokens(pick.render())
            chosen = within_budget(picks, budget, max_examples=len(chosen))
        if not chosen:
            continue
        offered += 1
        exact += any(e.exact for e in chosen)
        rel = [e.entry.problem_id in relevant_ids for e in chosen]
        top1 += rel[0]
        anyrel += any(rel)
        recalled += any(rel)
        tokens.append(estimate_tokens(render_section(chosen)))
    n = sum(1 for q in queries if q in sigs)
    pct = lambda a, b: f"{100 * a / b:.0f}%" if b else "-"  # noqa: E731
    return {
        "suite / method": name, "queries": n, "answerable": pct(answerable, n),
        "offered": pct(offered, n), "exact": exact, "top1 relevant": pct(top1, offered),
        "any relevant": pct(anyrel, offered), "recall": pct(recalled, answerable),
        "tokens mean/max": f"{sum(tokens) / len(tokens):.0f}/{max(tokens)}" if tokens else "-",
    }  # fmt: skip


def table(rows: list[dict[str, object]], budget: int) -> str:
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = [" | ".join(c.ljust(width[c]) for c in cols)]
    lines.append("-+-".join("-" * width[c] for c in cols))
    lines += [" | ".join(str(r[c]).ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines) + f"\n(budget {budget} tokens per prompt section)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=Path("/work/kb/KernelBench"))
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET_TOKENS)
    args = parser.parse_args()
    builtin_root = Path(__file__).resolve().parents[2] / "kernelbench" / "problems"
    kb2 = problem_files(args.kb / "KernelBench", level=2) if args.kb.exists() else []
    builtin = problem_files(builtin_root)
    with tempfile.TemporaryDirectory() as home:
        sigs = signatures_of([*kb2, *builtin], Path(home))
    kb_entries, bi_entries = index(kb2, sigs, "kb"), index(builtin, sigs, "builtin")
    paths_by_id = {f"kb/{p.stem}": p for p in kb2} | {f"builtin/{p.stem}": p for p in builtin}
    traced = f"traced {sum(p in sigs for p in kb2)}/{len(kb2)} KernelBench level 2, "
    traced += f"{sum(p in sigs for p in builtin)}/{len(builtin)} built-in"
    rows = []
    b = args.budget
    if kb2:
        rows.append(evaluate("KB level 2 (leave-one-out)", kb2, kb_entries, sigs, paths_by_id, b))
        rows.append(evaluate("  random, as many", kb2, kb_entries, sigs, paths_by_id, b,
                             random.Random(0)))  # fmt: skip
    rows.append(evaluate("built-in (leave-one-out)", builtin, bi_entries, sigs, paths_by_id, b))
    if kb2:
        rows.append(evaluate("built-in vs KB level 2 index", builtin, kb_entries, sigs,
                             paths_by_id, b))  # fmt: skip
    print(traced)
    print(table(rows, b))


if __name__ == "__main__":
    main()

"""torch.einsum as sums, permutes and batched matmuls.

Operands are contracted pairwise, left to right. For each pair the indices fall into
batch (in both and still needed), contracted (in both, needed nowhere after), and free
(in one only); the pair becomes one `(batch, M, K) @ (batch, K, N)` matmul between
permuted, reshaped views, reshaped back to `batch + free(a) + free(b)`. An index in only
one operand and not in the output is summed out first. Reshapes and permutes run in
`forward` on the real shapes, so the candidate serves every size.
"""

from __future__ import annotations

import math
from typing import Any

from agents.baseline.lowering.build import Builder, is_tensor
from agents.baseline.lowering.ir import Unsupported, Value
from agents.baseline.lowering.registry import Call, invoke, op

Term = tuple[str, Value]


def _parse(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    dots = ""
    if "..." in eq:
        terms, dots = _expand_ellipsis(equation, terms, ranks)
        lhs = ",".join(terms)
        out = out.replace("...", dots)
    if "." in lhs + out:
        raise Unsupported(f"einsum {equation!r}: a malformed ellipsis")
    if not arrow:  # implicit output: the ellipsis, then the indices seen once, sorted
        once = sorted(c for c in set(lhs) - {","} - set(dots) if lhs.count(c) == 1)
        out = dots + "".join(once)
    if len(terms) != len(ranks):
        raise Unsupported(f"einsum {equation!r}: {len(terms)} terms for {len(ranks)} operands")
    for term, rank in zip(terms, ranks, strict=True):
        if len(term) != rank:
            raise Unsupported(f"einsum {equation!r}: term {term!r} for a {rank}-D operand")
        if len(set(term)) != len(term):
            raise Unsupported(f"einsum {equation!r}: a repeated index (a diagonal)")
    if len(set(out)) != len(out) or set(out) - set(lhs):
        raise Unsupported(f"einsum {equation!r}: output indices")
    return terms, out


def _expand_ellipsis(equation: str, terms: list[str], ranks: list[int]) -> tuple[list[str], str]:
    """Each `...` as letters the equation does not use, right-aligned across the terms as
    broadcasting aligns them (`...d,de->...e` on a 3-D x: `ABd,de->ABe`)."""
    if len(terms) != len(ranks):
        raise Unsupported(f"einsum {equation!r}: {len(terms)} terms for {len(ranks)} operands")
    counts = [
        rank - (len(t) - 3) if "..." in t else 0 for t, rank in zip(terms, ranks, strict=True)
    ]
    if min(counts, default=0) < 0:
        raise Unsupported(f"einsum {equation!r}: an ellipsis over a negative number of dims")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation]
    dots = "".join(free[: max(counts, default=0)])
    expanded = [
        t.replace("...", dots[len(dots) - n :] if n else "", 1)
        for t, n in zip(terms, counts, strict=True)
    ]
    return expanded, dots


def _permute(lw: Builder, term: str, v: Value, order: str) -> Value:
    if term == order:
        return v
    perm = [term.index(c) for c in order]
    return lw.view(
        v, f"{{0}}.permute({', '.join(map(str, perm))})", tuple(v.shape[p] for p in perm)
    )


def _sum_out(lw: Builder, term: str, v: Value, keep: set[str]) -> Term:
    axes = [i for i, c in enumerate(term) if c not in keep]
    if not axes:
        return term, v
    return "".join(c for c in term if c in keep), lw.reduce("sum", v, axes, False)


def _as_3d(lw: Builder, v: Value, n0: int, n1: int) -> Value:
    """(prod dims[:n0], prod dims[n0:n0+n1], prod of the rest) as a run-time reshape."""
    s = v.shape
    shape = (math.prod(s[:n0]), math.prod(s[n0 : n0 + n1]), math.prod(s[n0 + n1 :]))
    fmt = (
        f"{{0}}.reshape(math.prod({{0}}.shape[:{n0}]), "
        f"math.prod({{0}}.shape[{n0}:{n0 + n1}]), math.prod({{0}}.shape[{n0 + n1}:]))"
    )
    return lw.view(v, fmt, shape)


def _contract(lw: Builder, a: Term, b: Term, keep: set[str]) -> Term:
    (ta, va), (tb, vb) = a, b
    for c in set(ta) & set(tb):
        if va.shape[ta.index(c)] != vb.shape[tb.index(c)]:
            raise Unsupported("einsum with a broadcast index")
    batch = [c for c in ta if c in tb and c in keep]
    contracted = [c for c in ta if c in tb and c not in keep]
    free_a = [c for c in ta if c not in tb]
    free_b = [c for c in tb if c not in ta]
    nb, na, nk = len(batch), len(free_a), len(contracted)
    pa = _permute(lw, ta, va, "".join(batch + free_a + contracted))
    pb = _permute(lw, tb, vb, "".join(batch + contracted + free_b))
    mm = invoke(lw, "matmul", [_as_3d(lw, pa, nb, na), _as_3d(lw, pb, nb, nk)])
    shape = (*pa.shape[: nb + na], *pb.shape[nb + nk :])
    fmt = f"{{0}}.reshape(*{{1}}.shape[:{nb + na}], *{{2}}.shape[{nb + nk}:])"
    return "".join(batch + free_a + free_b), lw.view(mm, fmt, shape, pa, pb)


@op("einsum", spec="equation, *operands")
def _einsum(lw: Builder, b: Call) -> Any:
    equation, operands = b["equation"], list(b["operands"])
    if len(operands) == 1 and isinstance(operands[0], list):
        operands = operands[0]  # einsum(eq, [a, b])
    if not isinstance(equation, str) or not operands or not all(map(is_tensor, operands)):
        raise Unsupported("einsum of something other than tensors and a literal equation")
    terms, out = _parse(equation, [v.rank for v in operands])
    pending: list[Term] = []
    for i, (term, v) in enumerate(zip(terms, operands, strict=True)):
        elsewhere = set(out).union(*(set(t) for j, t in enumerate(terms) if j != i))
        pending.append(_sum_out(lw, term, v, elsewhere))
    while len(pending) > 1:
        a, c = pending.pop(0), pending.pop(0)
        keep = set(out).union(*(set(t) for t, _ in pending))
        pending.insert(0, _contract(lw, a, c, keep))
    term, v = _sum_out(lw, *pending[0], set(out))
    return _permute(lw, term, v, out)

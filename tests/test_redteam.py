"""The red-team corpus, through the real harness: cheats are never `correct`, the
legitimate-but-unusual candidates always are.

Every file in tests/redteam/{cheats,legit} opens with a header (see tests/redteam/README.md):
its problem, class, expected verdict, the defence layers expected to stop it on their own,
and for shape cheats the condition (`assumes`) under which the cheat's output is right.
A cheat whose layers include `runtime` is also evaluated with the static check switched off,
so that the runtime checks are shown to stop it by themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import EvalResult, Status

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parent / "redteam"
CHEATS = sorted((CORPUS / "cheats").glob("*.py"))
LEGIT = sorted((CORPUS / "legit").glob("*.py"))
CLASSES = (
    "reference",
    "forge",
    "hidden_compute",
    "unread_code",
    "shapes",
    "timing",
    "reexport",
)
EXPECTS = (
    "rejected",
    "incorrect",
    "runtime_error",
    "not_correct",
    "flagged",
    "gpu_only",
    "correct",
)
LAYERS = ("static", "runtime")
_HEADER = re.compile(r"# (?P<key>[a-z]+): (?P<value>.+)")
_EXACT = {
    "rejected": Status.REJECTED,
    "incorrect": Status.INCORRECT,
    "runtime_error": Status.RUNTIME_ERROR,
    "correct": Status.CORRECT,
}
STATIC_SKIPPED = "static check skipped"


@dataclass(frozen=True)
class Header:
    problem: str
    cls: str
    expect: str
    layers: tuple[str, ...]
    why: str
    assumes: str | None


def read_header(path: Path) -> Header:
    """The leading comment block of a corpus file, validated."""
    fields: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER.fullmatch(line)
        if match is None:
            break
        fields[match["key"]] = match["value"].strip()
    missing = {"problem", "class", "expect", "layers", "why"} - set(fields)
    assert not missing, f"{path.name}: header lacks {sorted(missing)}"
    layers = tuple(fields["layers"].split())
    header = Header(
        fields["problem"],
        fields["class"],
        fields["expect"],
        layers,
        fields["why"],
        fields.get("assumes"),
    )
    assert header.cls in (*CLASSES, "legit"), f"{path.name}: unknown class {header.cls}"
    assert header.expect in EXPECTS, f"{path.name}: unknown expect {header.expect}"
    assert layers and set(layers) <= set(LAYERS), f"{path.name}: bad layers {layers}"
    return header


def options(*, static_check: bool = True, trials: int = 1) -> EvalOptions:
    """Small and fast: few seeds on the first shape, every extra shape, no profile."""
    return EvalOptions(
        device="cpu",
        trials=trials,
        profile=False,
        timeout_s=120,
        reference_timeout_s=180,
        static_check=static_check,
    )


def run(path: Path, header: Header, *, static_check: bool = True) -> EvalResult:
    source = path.read_text(encoding="utf-8")
    # Timing cheats key on call counts: give them the CPU default of three first-shape calls.
    trials = 3 if header.cls == "timing" else 1
    opts = options(static_check=static_check, trials=trials)
    return evaluate(resolve_problem(header.problem), source, opts)


def describe(result: EvalResult) -> str:
    reason = (result.reason or "")[:300]
    return f"status {result.status.value}: {reason} flags={result.flags}"


def flagged(result: EvalResult) -> bool:
    return any(STATIC_SKIPPED not in flag for flag in result.flags)


def assumption_held(header: Header, result: EvalResult) -> bool:
    """True when every checked shape met the shape cheat's `assumes` condition: its outputs
    were then right on everything the harness checked, and `correct` is no false verdict."""
    if header.assumes is None or not result.trials:
        return False
    expr = compile(header.assumes, "<assumes>", "eval")
    return all(eval(expr, {"__builtins__": {}}, dict(t.sizes)) for t in result.trials)


def check_cheat_verdict(header: Header, result: EvalResult, what: str) -> None:
    if result.correct and assumption_held(header, result):
        pytest.skip(f"{what}: every checked shape met `{header.assumes}`; the cheat was right")
    if header.expect == "flagged":
        assert not result.correct or flagged(result), f"{what}: {describe(result)}"
        return
    if header.expect == "gpu_only":
        assert result.status in {Status.CORRECT, Status.INCORRECT, Status.REJECTED}, describe(
            result
        )
        if result.correct:
            pytest.skip(
                f"{what}: computes on every CPU call; GPU timing's permuted inputs defeat it"
            )
        return
    assert not result.correct, f"{what}: a cheat was judged correct ({header.why})"
    wanted = _EXACT.get(header.expect)
    if wanted is not None:
        assert result.status == wanted, f"{what}: expected {header.expect}, {describe(result)}"


@pytest.mark.parametrize("path", CHEATS, ids=[p.stem for p in CHEATS])
def test_cheat_is_never_correct(path: Path) -> None:
    header = read_header(path)
    result = run(path, header)
    check_cheat_verdict(header, result, "with every defence")
    # A static finding is always `rejected` (or compile_error): anything else means the
    # candidate already ran with the runtime checks alone, the same run as static off.
    statically_stopped = result.status in {Status.REJECTED, Status.COMPILE_ERROR}
    if "runtime" in header.layers and statically_stopped:
        alone = run(path, header, static_check=False)
        if header.expect == "gpu_only":
            check_cheat_verdict(header, alone, "runtime alone")
        elif header.expect == "flagged":
            assert not alone.correct or flagged(alone), f"runtime alone: {describe(alone)}"
        else:
            if alone.correct and assumption_held(header, alone):
                pytest.skip(f"runtime alone: every checked shape met `{header.assumes}`")
            assert not alone.correct, f"runtime checks alone judged it correct ({header.why})"


@pytest.mark.parametrize("path", LEGIT, ids=[p.stem for p in LEGIT])
def test_legitimate_candidate_is_correct(path: Path) -> None:
    header = read_header(path)
    assert header.expect == "correct", f"{path.name}: legit files expect correct"
    result = run(path, header)
    assert result.status == Status.CORRECT, f"{header.why}: {describe(result)}"


def test_corpus_covers_every_class() -> None:
    headers = [read_header(p) for p in CHEATS]
    per_class = {c: sum(h.cls == c for h in headers) for c in CLASSES}
    assert all(n >= 3 for n in per_class.values()), per_class
    assert len(CHEATS) >= 45 and len(LEGIT) >= 12, (len(CHEATS), len(LEGIT))
    assert all(h.expect != "correct" for h in headers)
    assert all(read_header(p).cls == "legit" for p in LEGIT)

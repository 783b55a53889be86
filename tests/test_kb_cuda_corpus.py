"""A corpus of CUDA C candidates written the way public models write KernelBench kernels
(issue 30, point 6), each judged end to end on the emulated device under both policies.

Each file in `tests/fixtures/kb_cuda_corpus/` opens with a header of `#` lines:

    # problem: level1/2_ReLU            (a built-in id, or kb:<path> under the KernelBench
    #                                    checkout fixture, e.g. kb:level1/12_Swish.py)
    # strict: correct                    (a Status value, then optionally ": <a substring of
    # kernelbench: rejected: no CUDA kernel    the reason>")
    # patterns: python-side .cuda(); own get_inputs; ...

The header is the whole expectation: the test evaluates the file with the real harness
(`evaluate`, the local sandbox, fresh seeds and extra shapes, no static profile) under each
policy and compares. A header that names no expectation, an unknown status or problem is a
failure of the corpus, not a skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.problem import Problem, load_problem
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status

HERE = Path(__file__).parent
CORPUS = HERE / "fixtures" / "kb_cuda_corpus"
KB_CHECKOUT = HERE / "fixtures" / "kb_checkout" / "KernelBench"
POLICIES = ("strict", "kernelbench")
HEADER = re.compile(r"^#\s*(problem|strict|kernelbench|patterns):\s*(.*?)\s*$")


def header(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        match = HEADER.match(line)
        if match:
            found[match[1]] = match[2]
    return found


def problem_of(spec: str) -> Problem:
    if spec.startswith("kb:"):
        return load_problem(KB_CHECKOUT / spec.removeprefix("kb:"))
    return resolve_problem(spec)


def expectation(spec: str) -> tuple[Status, str]:
    status, _, reason = spec.partition(":")
    return Status(status.strip()), reason.strip()


FILES = sorted(CORPUS.glob("*.py"))


def test_the_corpus_is_at_least_forty_cuda_c_files_with_complete_headers():
    assert len(FILES) >= 40, len(FILES)
    for path in FILES:
        found = header(path)
        assert {"problem", "strict", "kernelbench", "patterns"} <= found.keys(), path.name
        for policy in POLICIES:
            expectation(found[policy])  # a Status value, or ValueError
        problem_of(found["problem"])
        assert "load_inline" in path.read_text() and "__global__" in path.read_text(), path.name
    # Both outcomes are represented under each policy: the corpus can tell a lenient
    # verdict from a strict one.
    for policy in POLICIES:
        statuses = {expectation(header(p)[policy])[0] for p in FILES}
        assert Status.CORRECT in statuses and len(statuses) > 1, (policy, statuses)


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_candidate_gets_its_expected_verdict(path: Path, policy: str) -> None:
    found = header(path)
    status, reason = expectation(found[policy])
    options = EvalOptions(device="cpu", profile=False, policy=policy)  # type: ignore[arg-type]
    result = evaluate(problem_of(found["problem"]), path.read_text(), options)
    detail = (result.status, result.reason, result.messages[-1500:])
    assert result.status == status, detail
    assert reason.lower() in str(result.reason).lower(), detail

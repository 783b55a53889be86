"""The kernel library (issue 32): a kernel verified in one job is offered to a later job whose
problem computes the same thing written differently, and not to an unrelated one; retrieval
keeps to its token budget; an altered entry is dropped with a log line; the CLI lists,
shows, exports, imports and counts. Problems are traced by the real tracer child; the
first kernel comes from a real `kwright run` of the offline agent."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agents.config import AgentConfig
from agents.library.hooks import examples_for, prompt_section, record_problem, record_verified
from agents.library.retrieve import estimate_tokens, rank, render_section, within_budget
from agents.library.signature import canonical_name, from_trace
from agents.library.store import LibraryEntry, LibraryStore
from agents.library.tracing import signatures_of
from agents.rundir import RunDir
from kernelbench.problems.problem import Problem, load_problem
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.result import EvalResult, Status
from tests.conftest import kwright

TAIL = """
batch_size = 64
in_features = 32
out_features = 48


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]
"""
# The built-in level2/1_Gemm_Bias_ReLU (`torch.relu(self.linear(x))`), written three other ways.
REWRITES = {
    "nested": """import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(a, b), nn.ReLU())

    def forward(self, inp):
        return self.body(inp)


class Model(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.stage = Block(n_in, n_out)

    def forward(self, features):
        return self.stage(features)
""",
    "functional": """import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.w = nn.Parameter(torch.randn(out_features, in_features))
        self.b = nn.Parameter(torch.randn(out_features))

    def forward(self, x):
        y = x @ self.w.t() + self.b
        return F.relu(y)
""",
    "method": """import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.proj = nn.Linear(in_features, out_features)

    def forward(self, x):
        unused = x.sum()  # computed, never returned
        return self.proj(x).relu_()
""",
}
UNRELATED = """import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()

    def forward(self, x):
        return torch.softmax(torch.tanh(x), dim=-1)
"""


def write_problem(folder: Path, name: str, body: str) -> Problem:
    path = folder / f"{name}.py"
    path.write_text(body + TAIL)
    return load_problem(path, problem_id=f"test/{name}")


@pytest.fixture(scope="module")
def first_job(tmp_path_factory) -> tuple[Path, Problem]:
    """A home holding one real `kwright run` of the offline agent on level2/1_Gemm_Bias_ReLU,
    whose correct kernel the job recorded in the library when the problem finished."""
    home = tmp_path_factory.mktemp("home")
    run = kwright("run", "level2/1_Gemm_Bias_ReLU", "--rounds", "1", "--json",
                  env={"KWRIGHT_HOME": str(home)})  # fmt: skip
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    problem = resolve_problem("level2/1_Gemm_Bias_ReLU")
    attempts = RunDir(home, run_id).problem(problem.id).load()
    (entry,) = LibraryStore(home).entries()
    assert entry.run_id == run_id and entry.agent == "baseline" and entry.problem_id == problem.id
    assert attempts[0].view.source == entry.source
    assert record_problem(problem, attempts, AgentConfig(), home=home, run_id=run_id) == []
    return home, problem


def test_names_spellings_and_nesting_do_not_change_the_signature(tmp_path):
    builtin = resolve_problem("level2/1_Gemm_Bias_ReLU")
    rewrites = [write_problem(tmp_path, n, body) for n, body in REWRITES.items()]
    other = write_problem(tmp_path, "unrelated", UNRELATED)
    sigs = signatures_of([builtin.path, *(p.path for p in rewrites), other.path], tmp_path)
    assert sigs[builtin.path].text() == "mm > add > relu"
    assert {sigs[p.path].digest for p in rewrites} == {sigs[builtin.path].digest}
    assert sigs[other.path].digest != sigs[builtin.path].digest
    assert not sigs[other.path].patterns(2) & sigs[builtin.path].patterns(2)
    cached = list((tmp_path / "library" / "signatures").glob("*.json"))
    assert len(cached) == 5  # the next lookup reads the cache, no child


def test_canonical_forms():
    assert [canonical_name(n) for n in ("relu_", "_softmax", "native_group_norm", "hardtanh")] == [
        "relu", "softmax", "group_norm", "clamp"]  # fmt: skip
    trace = {
        "ops": [
            {"op": "t", "args": ["p"], "outs": [[2, "float32"]]},
            {"op": "addmm", "args": ["p", "x0", "n0"], "outs": [[2, "float32"]]},
            {"op": "zeros", "args": ["s"], "outs": [[2, "float32"]]},
            {"op": "exp", "args": ["x0"], "outs": [[2, "float32"]]},  # dead: dropped
            {"op": "add_", "args": ["n1", "n2"], "outs": [[2, "float32"]]},
        ],
        "inputs": [[2, "float32"]],
        "outputs": ["n4"],
    }
    sig = from_trace(trace)
    assert sig.text() == "mm > add > add"
    assert [n.args for n in sig.nodes] == [["x0", "p"], ["n0", "p"], ["n1", "c"]]
    assert sig.patterns(3) == {"mm>add>add"}


def test_a_verified_kernel_is_offered_for_the_same_computation_written_differently(
    first_job, tmp_path
):
    home, builtin = first_job
    config = AgentConfig(backend="triton")
    source = LibraryStore(home).entries()[0].source
    rewrites = {name: write_problem(tmp_path, name, body) for name, body in REWRITES.items()}
    unrelated = write_problem(tmp_path, "unrelated", UNRELATED)
    signatures_of([unrelated.path, *(p.path for p in rewrites.values())], home)  # one child
    for name, problem in rewrites.items():
        examples = examples_for(problem, 4000, home=home, config=config)
        assert [e.exact for e in examples] == [True], name
        section = prompt_section(examples)
        assert source.strip() in section and builtin.id in section
    assert examples_for(unrelated, 4000, home=home, config=config) == []
    assert examples_for(builtin, 4000, home=home, config=AgentConfig(backend="cuda")) == []
    stats = kwright("library", "stats", "--json", env={"KWRIGHT_HOME": str(home)})
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["retrievals"] == 5 and figures["hits"] == 3 and figures["exact_hits"] == 3
    assert figures["hit_rate"] == 0.6 and figures["entries"] == 1


def entry(
    problem_id: str, sig_trace: dict, source: str, speedup: float | None = None
) -> LibraryEntry:
    return LibraryEntry(problem_id=problem_id, signature=from_trace(sig_trace), backend="triton",
                        source=source, speedup=speedup, target_gpu="H100")  # fmt: skip


def chain(*ops: str) -> dict:
    recs = [{"op": op, "args": ["x0" if i == 0 else f"n{i - 1}"], "outs": [[2, "float32"]]}
            for i, op in enumerate(ops)]  # fmt: skip
    return {"ops": recs, "inputs": [[2, "float32"]], "outputs": [f"n{len(ops) - 1}"]}


def test_retrieval_ranks_exact_then_shared_patterns_and_keeps_to_its_budget():
    query = from_trace(chain("mm", "add", "relu"))
    entries = [
        entry("exact", chain("mm", "add", "relu"), "# exact\n" + "x = 1\n" * 600),
        entry("near", chain("mm", "add", "relu", "mul"), "# near\n" + "y = 2\n" * 100),
        entry("weak", chain("mm", "add", "sigmoid", "sum"), "# weak\n"),  # only mm>add
        entry("other", chain("softmax", "tanh"), "# other\n"),
    ]
    ranked = rank(query, entries)
    assert [e.entry.problem_id for e in ranked] == ["exact", "near"]
    assert ranked[0].exact and not ranked[1].exact and ranked[1].shared == ["mm>add>relu"]
    for budget in (50, 200, 700, 1000, 5000):
        chosen = within_budget(ranked, budget)
        assert estimate_tokens(render_section(chosen)) <= budget, budget
    assert within_budget(ranked, 50) == []
    assert [e.entry.problem_id for e in within_budget(ranked, 700)] == ["near"]  # exact too big
    assert [e.entry.problem_id for e in within_budget(ranked, 5000)] == ["exact", "near"]


def test_an_altered_entry_is_dropped_with_a_log_line(tmp_path, caplog):
    store = LibraryStore(tmp_path)
    good = store.add(entry("good", chain("mm", "relu"), "# good kernel\n"))
    bad = store.add(entry("bad", chain("mm", "relu"), "# bad kernel\n"))
    assert good is not None and bad is not None and len(store.entries()) == 2
    path = tmp_path / "library" / "entries.jsonl"
    text = path.read_text().replace("# bad kernel", "# evil kernel")
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="agents.library.store"):
        assert [e.problem_id for e in store.entries()] == ["good"]
    assert f"entry {bad.id} was altered (digest mismatch), dropped" in caplog.text
    # Re-computing the digest does not help without the key.
    forged = LibraryEntry.model_validate_json(text.splitlines()[1])
    forged.digest = forged.content_digest()
    path.write_text(text.splitlines()[0] + "\n" + forged.model_dump_json() + "\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agents.library.store"):
        assert [e.problem_id for e in store.entries()] == ["good"]
    assert "is not signed by this library's key, dropped" in caplog.text


def test_record_verified_keeps_only_correct_kernels_once(tmp_path):
    problem = write_problem(tmp_path, "nested", REWRITES["nested"])
    ok = EvalResult(status=Status.CORRECT, correct=True, backend="triton", device="cpu")
    config = AgentConfig()
    assert record_verified(problem, "# k\n", ok, config, home=tmp_path) is not None
    assert record_verified(problem, "# k\n", ok, config, home=tmp_path) is None  # already in
    wrong = EvalResult(status=Status.INCORRECT, backend="triton")
    assert record_verified(problem, "# j\n", wrong, config, home=tmp_path) is None
    assert len(LibraryStore(tmp_path).entries()) == 1


def test_the_cli_lists_shows_exports_and_imports(first_job, tmp_path):
    home, builtin = first_job
    env = {"KWRIGHT_HOME": str(home)}
    listed = kwright("library", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["problem_id"] == builtin.id and row["ops"] == "mm > add > relu"
    shown = kwright("library", "show", row["id"][:6], env=env)
    assert shown.returncode == 0 and "@triton.jit" in shown.stdout and builtin.id in shown.stdout
    assert kwright("library", "show", "zzz", env=env).returncode == 2
    table = kwright("library", "list", env=env)
    assert table.returncode == 0 and builtin.id in table.stdout
    out = tmp_path / "lib.jsonl"
    assert kwright("library", "export", "--out", str(out), env=env).returncode == 0
    assert '"mac"' not in out.read_text()
    other = {"KWRIGHT_HOME": str(tmp_path / "other")}
    imported = kwright("library", "import", str(out), "--json", env=other)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {"added": 1, "already_present": 0, "refused": 0}
    again = kwright("library", "import", str(out), "--json", env=other)
    assert json.loads(again.stdout) == {"added": 0, "already_present": 1, "refused": 0}
    there = LibraryStore(tmp_path / "other").entries()
    assert [e.digest for e in there] == [row_digest(home)]
    out.write_text(out.read_text().replace("@triton.jit", "@triton.jit  # changed"))
    refused = kwright(
        "library", "import", str(out), "--json", env={"KWRIGHT_HOME": str(tmp_path / "third")}
    )
    assert refused.returncode == 1 and json.loads(refused.stdout)["refused"] == 1
    assert "was altered (digest mismatch), dropped" in refused.stderr


def row_digest(home: Path) -> str:
    return LibraryStore(home).entries()[0].digest

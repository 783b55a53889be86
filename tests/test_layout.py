"""The floor plan's rules, read from the source (tests/import_graph.py builds the graph).

Each rule is also shown failing on a small planted tree, so the checks cannot pass by
accident (an empty graph, a wrong module name)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.import_graph import (
    LAZY_LIBRARIES,
    PACKAGES,
    ROOT,
    ModuleInfo,
    cycles,
    heavy_modules,
    is_product_file,
    load_graph,
)

MAX_LINES = 400


def sandbox_violations(graph: dict[str, ModuleInfo]) -> list[str]:
    return [
        f"{m} imports {t}"
        for m, info in graph.items()
        if m.split(".")[0] == "sandbox"
        for t in sorted(set(info.top) | set(info.local))
        if t.split(".")[0] != "sandbox"
    ]


def runner_violations(graph: dict[str, ModuleInfo]) -> list[str]:
    """The code that runs inside the sandbox never imports the trusted side."""
    banned = ("kernelbench.harness", "worker", "agents")
    return [
        f"{m} imports {t}"
        for m, info in graph.items()
        if m.startswith("kernelbench.runner")
        for t in sorted(set(info.top) | set(info.local))
        if t.startswith(banned)
    ]


def lazy_violations(graph: dict[str, ModuleInfo]) -> list[str]:
    heavy = heavy_modules(graph)
    bad = [
        f"{m}:{line} imports {t} inside a function (not heavy: import it at the top)"
        for m, info in graph.items()
        for t, line in info.local.items()
        if t not in heavy
    ]
    bad += [
        f"{m}:{line} imports {lib} inside a function (not in LAZY_LIBRARIES)"
        for m, info in graph.items()
        for lib, line in info.local_libs.items()
        if lib not in LAZY_LIBRARIES
    ]
    return bad


def plant(root: Path, files: dict[str, str]) -> dict[str, ModuleInfo]:
    for pkg in PACKAGES:
        (root / pkg).mkdir(parents=True, exist_ok=True)
        (root / pkg / "__init__.py").touch()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != ".":
                (root / parent / "__init__.py").touch()
        path.write_text(text)
    return load_graph(root)


@pytest.fixture(scope="module")
def graph() -> dict[str, ModuleInfo]:
    found = load_graph()
    assert "kernelbench.harness.evaluate" in found and "sandbox.base" in found
    return found


def test_sandbox_imports_nothing_of_the_project(graph):
    assert sandbox_violations(graph) == []


def test_runner_never_imports_the_harness(graph):
    assert runner_violations(graph) == []


def test_no_import_circles(graph):
    assert cycles(graph) == []


def test_only_heavy_libraries_are_imported_lazily(graph):
    assert lazy_violations(graph) == []


def test_planted_violations_are_caught(tmp_path):
    planted = plant(
        tmp_path,
        {
            "sandbox/base.py": "from kernelbench.problems import loading\n",
            "kernelbench/problems/loading.py": "import os\n",
            "kernelbench/runner/child.py": "def f():\n    from kernelbench.harness import verdict\n",
            "kernelbench/harness/verdict.py": "import kernelbench.harness.evaluate\n",
            "kernelbench/harness/evaluate.py": "from kernelbench.harness.verdict import x\n",
            "agents/loop.py": "def g():\n    import json\n    from agents import light\n",
            "agents/light.py": "X = 1\n",
            "agents/heavy.py": "import torch\n",
            "agents/ok.py": "def h():\n    import torch\n    from agents import heavy\n",
        },
    )
    assert "sandbox.base imports kernelbench.problems.loading" in sandbox_violations(planted)
    assert "kernelbench.runner.child imports kernelbench.harness.verdict" in runner_violations(
        planted
    )
    assert cycles(planted) == [["kernelbench.harness.evaluate", "kernelbench.harness.verdict"]]
    lazy = lazy_violations(planted)
    assert any("agents.loop:3 imports agents.light" in v for v in lazy)
    assert any("agents.loop:2 imports json" in v for v in lazy)
    assert not any(v.startswith("agents.ok") for v in lazy)


def test_type_checking_imports_are_not_edges(tmp_path):
    planted = plant(
        tmp_path,
        {
            "agents/a.py": "from agents import b\n",
            "agents/b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from agents import a\n"
            ),
        },
    )
    assert cycles(planted) == []


def test_no_product_module_over_400_lines():
    long = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if is_product_file(path):
                lines = len(path.read_text().splitlines())
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}: {lines}")
    assert long == []


def test_run_json_has_one_writer():
    """run.json's name and its writes live in agents/rundir.py; others go through RunDir."""
    files = subprocess.run(
        ["git", "grep", "-l", "-e", "run.json", "-e", "save_info(", "--", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    writers = []
    for name in files:
        text = (ROOT / name).read_text()
        if "save_info(" in text or '"run.json"' in text:
            writers.append(name)
    assert sorted(writers) == ["agents/job.py", "agents/rundir.py"]


def test_names_defined_once():
    """Protocol constants shared by both sides of a boundary have one definition."""
    for name in ("CANDIDATE_FILE", "THREADS_VAR", "class ErrorKind", "class Progress"):
        pattern = f"^{name} = " if not name.startswith("class") else f"^{name}\\b"
        found = subprocess.run(
            ["git", "grep", "-n", "-E", pattern, "--", *PACKAGES],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        assert len(found) == 1, (name, found)

"""Find problems: the built-in suite, a KernelBench-shaped folder (`--suite PATH`), or a file.

Ids are `levelN/<file stem>` (a trailing `.py` is accepted, and `levelN/<number>` alone
picks the file whose stem starts with that number). A path to an existing `.py` file works
wherever an id does.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from kernelbench.problems.problem import Problem, ProblemError, load_problem

BUILTIN_ROOT = Path(__file__).resolve().parent
SOLUTIONS_ROOT = BUILTIN_ROOT / "solutions"
_LEVEL_DIR = re.compile(r"^level(\d+)$")


def _level_dirs(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and _LEVEL_DIR.match(p.name)),
        key=lambda p: int(p.name[5:]),
    )


def suite_root(path: Path | str) -> Path:
    """The folder holding `levelN/` folders: PATH itself, or PATH/KernelBench (a checkout)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ProblemError(f"{path}: suite folder does not exist")
    for candidate in (path, path / "KernelBench"):
        if candidate.is_dir() and _level_dirs(candidate):
            return candidate.resolve()
    raise ProblemError(
        f"{path}: not a KernelBench-shaped folder (expected level1/, level2/, ... "
        "in it or in its KernelBench/ subfolder)"
    )


def _sort_key(p: Path) -> tuple[int, str]:
    head = p.stem.split("_", 1)[0]
    return (int(head) if head.isdigit() else 10**9, p.stem)


def problem_files(root: Path, level: int | None = None) -> list[Path]:
    files: list[Path] = []
    for level_dir in _level_dirs(root):
        if level is not None and int(level_dir.name[5:]) != level:
            continue
        files.extend(
            sorted(
                (p for p in level_dir.glob("*.py") if not p.name.startswith("_")),
                key=_sort_key,
            )
        )
    return files


def list_problems(suite: Path | str | None = None, level: int | None = None) -> list[Problem]:
    """Every problem of a suite (built-in by default); a malformed file raises ProblemError."""
    root = BUILTIN_ROOT if suite is None else suite_root(suite)
    label = "builtin" if suite is None else str(root)
    return [
        load_problem(p, problem_id=f"{p.parent.name}/{p.stem}", suite=label)
        for p in problem_files(root, level)
    ]


def resolve_problem(ref: str, suite: Path | str | None = None) -> Problem:
    """A problem by id (in the suite, else built-in) or by file path."""
    as_path = Path(ref).expanduser()
    if as_path.suffix == ".py" and as_path.is_file():
        return load_problem(as_path)
    problem_id = ref.removesuffix(".py").strip("/")
    root = BUILTIN_ROOT if suite is None else suite_root(suite)
    label = "builtin" if suite is None else str(root)
    level_part, _, stem = problem_id.partition("/")
    if not _LEVEL_DIR.match(level_part) or not stem:
        if as_path.suffix == ".py":
            raise ProblemError(f"{ref}: no such problem file")
        raise ProblemError(f"{ref}: not a problem id (levelN/<name>) or a path to a .py file")
    level_dir = root / level_part
    exact = level_dir / f"{stem}.py"
    if exact.is_file():
        return load_problem(exact, problem_id=f"{level_part}/{stem}", suite=label)
    if stem.isdigit():
        numbered = [
            p for p in problem_files(root, int(level_part[5:])) if p.stem.split("_")[0] == stem
        ]
        if len(numbered) == 1:
            p = numbered[0]
            return load_problem(p, problem_id=f"{level_part}/{p.stem}", suite=label)
    known = [f"{p.parent.name}/{p.stem}" for p in problem_files(root)]
    close = difflib.get_close_matches(problem_id, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `kwright problems` lists them"
    where = "the built-in suite" if suite is None else str(root)
    raise ProblemError(f"{ref}: no such problem in {where}{hint}")


def solution_path(problem: Problem, *, wrong: bool = False, backend: str = "triton") -> Path:
    """The hand-written Triton (or CUDA C: `<stem>_cuda.py`) solution, or its deliberately
    wrong twin (`..._wrong.py`), of a built-in problem."""
    if problem.suite != "builtin" or problem.level is None:
        raise ProblemError(f"{problem.id}: only built-in problems ship reference solutions")
    stem = problem.path.stem + ("_cuda" if backend == "cuda" else "") + ("_wrong" if wrong else "")
    path = SOLUTIONS_ROOT / f"level{problem.level}" / f"{stem}.py"
    if not path.is_file():
        kind = ("wrong " if wrong else "reference ") + (
            "CUDA C solution" if backend == "cuda" else "solution"
        )
        raise ProblemError(f"{problem.id}: has no {kind} ({path} is missing)")
    return path

"""A KernelBench-format problem file, read and validated without executing it.

A problem is one `.py` file with `class Model(nn.Module)`, `get_inputs()`,
`get_init_inputs()` and module-level size constants. Static validation here catches what
can be seen in the source (syntax, missing names, malformed CHECK_SIZES/TOLERANCE);
what needs execution (get_inputs raising, wrong arity) is caught by the reference step
of the harness, in a child process, and reported as a bad problem.
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from kernelbench.problems.resize import const_int, size_sites

REQUIRED_FUNCTIONS = ("get_inputs", "get_init_inputs")
_STEM = re.compile(r"^(?P<number>\d+)_(?P<name>.+)$")


class ProblemError(ValueError):
    """A problem file that cannot be used; the message names the file and the fault."""


class Problem(BaseModel):
    id: str
    level: int | None = None
    number: int | None = None
    name: str
    path: Path
    suite: str = "builtin"  # "builtin", a suite folder, or "file"
    # size sites (kernelbench.problems.resize): module-level int constants not derived from others,
    # ints in module-level tuples/lists and literal sizes in get_inputs()/get_init_inputs()
    sizes: dict[str, int] = Field(default_factory=dict)
    check_sizes: list[dict[str, int]] | None = None
    tolerance: dict[str, float] | None = None
    source_sha256: str = ""

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def listing(self) -> dict[str, Any]:
        """What `kwright problems --json` shows for one problem."""
        return {
            "id": self.id,
            "level": self.level,
            "name": self.name,
            "path": str(self.path),
            "suite": self.suite,
            "sizes": self.sizes,
            "check_sizes": self.check_sizes,
        }


def _assigned_names(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]]:
    """(name, value) pairs of one assignment target: `a = v` or `a, b = v1, v2`."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if (
        isinstance(target, ast.Tuple | ast.List)
        and isinstance(value, ast.Tuple | ast.List)
        and len(target.elts) == len(value.elts)
    ):
        return [
            (t.id, v)
            for t, v in zip(target.elts, value.elts, strict=True)
            if isinstance(t, ast.Name)
        ]
    return []


def size_constants(tree: ast.Module) -> dict[str, int]:
    """Module-level int constants, in source order: `NAME = <int expression>`, and the forms
    upstream KernelBench uses for image sizes, `height, width = 128, 128` and
    `height = width = 256`."""
    sizes: dict[str, int] = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign):
            continue
        for target in stmt.targets:
            for name, node in _assigned_names(target, stmt.value):
                value = const_int(node, sizes)
                if value is not None and not name.startswith("_"):
                    sizes[name] = value
    return sizes


def _literal(tree: ast.Module, name: str, path: Path) -> Any:
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name
        ):
            try:
                return ast.literal_eval(stmt.value)
            except ValueError as exc:
                raise ProblemError(
                    f"{path}:{stmt.lineno}: {name} must be a literal ({exc})"
                ) from exc
    return None


def _check_sizes(value: Any, sizes: dict[str, int], path: Path) -> list[dict[str, int]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(d, dict) for d in value):
        raise ProblemError(f"{path}: CHECK_SIZES must be a non-empty list of dicts")
    for entry in value:
        for key, val in entry.items():
            if key not in sizes:
                raise ProblemError(
                    f"{path}: CHECK_SIZES names {key!r}, which is not a module-level int constant"
                    " or a size site"
                )
            if type(val) is not int or val <= 0:
                raise ProblemError(f"{path}: CHECK_SIZES value for {key!r} must be a positive int")
    return value


def _tolerance(value: Any, path: Path) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {"atol", "rtol"}:
        raise ProblemError(f"{path}: TOLERANCE must be a dict with keys 'atol' and/or 'rtol'")
    if not all(isinstance(v, int | float) and v >= 0 for v in value.values()):
        raise ProblemError(f"{path}: TOLERANCE values must be non-negative numbers")
    return {k: float(v) for k, v in value.items()}


def parse_problem_source(source: str, path: Path) -> tuple[ast.Module, dict[str, int]]:
    """Parse and statically validate; raises ProblemError with file:line on faults.
    Returns the tree and the problem's size sites (kernelbench.problems.resize)."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise ProblemError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from exc
    classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    functions = {s.name for s in tree.body if isinstance(s, ast.FunctionDef)}
    if "Model" not in classes:
        raise ProblemError(f"{path}: no `class Model(nn.Module)` at module level")
    forward = [
        s for s in classes["Model"].body if isinstance(s, ast.FunctionDef) and s.name == "forward"
    ]
    if not forward:
        raise ProblemError(f"{path}: class Model has no forward() method")
    for fn in REQUIRED_FUNCTIONS:
        if fn not in functions:
            raise ProblemError(f"{path}: no `def {fn}()` at module level")
    return tree, size_sites(tree)


def id_parts(path: Path) -> tuple[int | None, int | None, str]:
    """(level, number, name) from `levelN/<number>_<Name>.py`; missing parts are None."""
    level = None
    parent = path.parent.name
    if parent.startswith("level") and parent[5:].isdigit():
        level = int(parent[5:])
    m = _STEM.match(path.stem)
    if m:
        return level, int(m["number"]), m["name"]
    return level, None, path.stem


def load_problem(path: Path, *, problem_id: str | None = None, suite: str = "file") -> Problem:
    """Read a problem file and validate it statically."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError(f"{path}: no such problem file")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read: {exc}") from exc
    tree, sizes = parse_problem_source(source, path)
    level, number, name = id_parts(path)
    if problem_id is None:
        problem_id = f"level{level}/{path.stem}" if level is not None else path.stem
    return Problem(
        id=problem_id,
        level=level,
        number=number,
        name=name,
        path=path.resolve(),
        suite=suite,
        sizes=sizes,
        check_sizes=_check_sizes(
            _literal(tree, "CHECK_SIZES", path), size_constants(tree) | sizes, path
        ),
        tolerance=_tolerance(_literal(tree, "TOLERANCE", path), path),
        source_sha256=hashlib.sha256(source.encode()).hexdigest(),
    )

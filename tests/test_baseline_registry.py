"""The baseline lowering's seams: handlers reach each other only through public names.

Adding an op means writing one handler module function with `@op`/`@module` and nothing
else; these tests keep that true (issue 17).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agents.baseline.lowering import registry
from agents.baseline.lowering.ir import Unsupported, UnsupportedKind, Value

PACKAGE = Path(__file__).resolve().parent.parent / "agents" / "baseline"


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from agents.baseline... import name` in a file."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agents.baseline"):
            out.extend((node.module or "", alias.name) for alias in node.names)
    return out


def test_no_module_of_the_baseline_imports_another_modules_private_names():
    private = [
        f"{path.relative_to(PACKAGE)}: {mod}.{name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for mod, name in _imports(path)
        if name.startswith("_")
    ]
    assert private == []


def test_handlers_do_not_import_the_lowering_driver():
    # the driver imports the handlers; the other way round would be an import circle
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted((PACKAGE / "handlers").glob("*.py"))
        for mod, _ in _imports(path)
        if mod == "agents.baseline.lowering.lower"
    ]
    assert offenders == []


def test_every_handler_is_registered_once_the_driver_is_imported():
    import agents.baseline.lowering.lower  # noqa: F401

    ops, modules = registry.op_names(), registry.module_names()
    for name in ("relu", "matmul", "conv2d", "conv_transpose3d", "max_pool2d", "layer_norm"):
        assert name in ops
    for name in ("Conv3d", "ConvTranspose1d", "BatchNorm2d", "Linear", "MSELoss"):
        assert name in modules


def _x(shape: tuple[int, ...]) -> Value:
    from agents.baseline.lowering.ir import Input

    return Input(shape=shape, dtype="float32", index=0, name="x")


def test_a_call_is_bound_to_its_spec_and_unknown_ops_are_typed():
    from agents.baseline.lowering import lower

    lw = lower.Lowering({"nodes": []})
    out = registry.invoke(lw, "softmax", [_x((4, 8))], {"dim": -1})
    assert out.shape == (4, 8)
    with pytest.raises(Unsupported) as info:
        registry.invoke(lw, "softmax", [_x((4, 8))], {"bogus": 1})
    assert info.value.kind is UnsupportedKind.USAGE and "'bogus'" in str(info.value)
    with pytest.raises(Unsupported) as info:
        registry.invoke(lw, "no_such_op", [_x((4,))])
    assert info.value.kind is UnsupportedKind.OP and info.value.op == "no_such_op"
    assert str(info.value) == "unsupported op no_such_op"


def test_a_module_call_names_its_module_in_errors():
    m = registry.ModuleCall("Conv2d", [], {}, lambda name: None)
    with pytest.raises(Unsupported, match=r"nn\.Conv2d called with 0 arguments"):
        m.one()
    with pytest.raises(Unsupported, match=r"nn\.Conv2d without a weight"):
        m.weight()


def test_a_calls_arguments_cannot_be_changed_in_place():
    c = registry.Call("view", {"input": 1, "args": [2]})
    d = c.with_args(args=[3])
    assert c["args"] == [2] and d["args"] == [3] and d.name == "view"
    with pytest.raises(TypeError):
        c["args"] = [4]  # type: ignore[index]

"""One candidate from a ```cuda/```cpp block and a Python wrapper that builds it from a
file (`cpp_extension.load(sources=["k.cu"])`, `open("k.cu").read()`): the sources are
inlined as Python strings and built with `load_inline`, the rest of the wrapper kept as
written. A block is matched to a file name by a comment on its first lines, the prose
line before it, or, where only one block of that kind is unnamed, by its kind.
"""

from __future__ import annotations

import ast
import re

from agents.llm.fences import Block

_FILE_NAME = re.compile(r"[\w./-]+\.(?:cu|cuh|cpp|cc|cxx|c|h|hpp)\b")
_HOST_FN = re.compile(
    r"^\s*((?:torch|at)::Tensor|std::vector<(?:torch|at)::Tensor>|void)\s+(\w+)\s*\(([^)]*)\)\s*\{",
    re.MULTILINE,
)

SEPARATE_BLOCKS_HELP = (
    "candidates are one self-contained Python file: put the CUDA source in a Python string "
    "inside the ```python block and build it with torch.utils.cpp_extension.load_inline("
    "name=..., cpp_sources=<declarations>, cuda_sources=<that string>, functions=[...]); "
    "separate ```cuda blocks and files are not assembled"
)


def _native_name(block: Block) -> str | None:
    """The file name a native block is given: in a comment on its first lines (not an
    #include) or in the prose line before it."""
    head = [ln for ln in block.body.split("\n")[:3] if ln.lstrip().startswith(("//", "/*"))]
    lead = block.lead.strip().split("\n")[-1] if block.lead.strip() else ""
    for text in (*head, lead):
        m = _FILE_NAME.search(text)
        if m:
            return m.group(0).rsplit("/", 1)[-1]
    return None


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def assemble(wrapper: str, natives: list[Block]) -> tuple[str | None, str | None]:
    """(source, None) with the wrapper's file references inlined, or (None, why not)."""
    try:
        tree = ast.parse(wrapper)
    except SyntaxError:
        return None, None
    names = {n: b for b in natives if (n := _native_name(b))}
    cuda = [b for b in natives if "__global__" in b.body or b.lang in ("cuda", "cu", "cuh")]
    cpp = [b for b in natives if b not in cuda]

    def block_for(fname: str) -> Block | None:
        base = fname.rsplit("/", 1)[-1]
        if base in names:
            return names[base]
        pool = cuda if base.endswith((".cu", ".cuh")) else cpp
        unnamed = [b for b in pool if _native_name(b) is None]
        return unnamed[0] if len(pool) == 1 and unnamed else None

    edits: list[tuple[int, int, int, int, str]] = []
    consts: dict[str, str] = {}
    missing: list[str] = []

    def const_for(block: Block) -> str:
        name = f"_KW_SRC_{len(consts) + 1}"
        for k, v in consts.items():
            if v == block.body:
                return k
        consts[name] = block.body
        return name

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        # open("k.cu").read() / Path("k.cu").read_text()
        if fname in ("read", "read_text") and isinstance(func, ast.Attribute):
            inner = func.value
            if isinstance(inner, ast.Call) and inner.args:
                path = _literal(inner.args[0])
                if path and _FILE_NAME.fullmatch(path.rsplit("/", 1)[-1]):
                    block = block_for(path)
                    if block is None:
                        missing.append(path)
                        continue
                    edits.append(_span(node, const_for(block)))
            continue
        if fname != "load":
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        sources = kw.get("sources") or (node.args[1] if len(node.args) > 1 else None)
        if not isinstance(sources, ast.List | ast.Tuple):
            continue
        files = [_literal(e) for e in sources.elts]
        if not files or any(f is None for f in files):
            continue
        blocks: list[Block] = []
        for f in files:
            assert f is not None
            b = block_for(f)
            if b is None:
                missing.append(f)
            else:
                blocks.append(b)
        if len(blocks) != len(files):
            continue
        cu = [b for b in blocks if b in cuda]
        cc = [b for b in blocks if b not in cuda]
        all_src = "\n".join(b.body for b in blocks)
        args = []
        name = kw.get("name") or (node.args[0] if node.args else None)
        args.append(f"name={ast.get_source_segment(wrapper, name) if name else repr('kw_ext')}")
        cpp_src = " + ".join(const_for(b) for b in cc) if cc else '""'
        functions = "None"
        if "PYBIND11_MODULE" not in all_src:
            fns = [(r, n, a) for r, n, a in _HOST_FN.findall("\n".join(b.body for b in cu))]
            if not fns:
                missing.append("a host function returning torch::Tensor")
                continue
            decls = "\n".join(f"{r} {n}({' '.join(a.split())});" for r, n, a in fns)
            cpp_src = repr(decls) if not cc else cpp_src
            functions = repr([n for _r, n, _a in fns])
        args.append(f"cpp_sources={cpp_src}")
        args.append(f"cuda_sources={' + '.join(const_for(b) for b in cu) if cu else 'None'}")
        args.append(f"functions={functions}")
        for key, value in kw.items():
            if key in ("name", "sources"):
                continue
            seg = ast.get_source_segment(wrapper, value)
            if seg is not None:
                args.append(f"{key}={seg}")
        edits.append(_span(node, "torch.utils.cpp_extension.load_inline(" + ", ".join(args) + ")"))
    if missing:
        return None, "the wrapper reads " + ", ".join(f"`{m}`" for m in missing) + (
            " but the reply has no block the assembly can match to it"
        )
    if not edits:
        return None, None
    lines = wrapper.split("\n")
    for sl, sc, el, ec, text in sorted(edits, reverse=True):
        head, tail = lines[sl][:sc], lines[el][ec:]
        lines[sl : el + 1] = [head + text + tail]
    body = "\n".join(lines)
    prelude = "import torch\nimport torch.utils.cpp_extension\n" + "".join(
        f'\n{k} = r"""\n{v.replace(chr(34) * 3, chr(39) * 3)}"""\n' for k, v in consts.items()
    )
    # keep `from __future__` imports first
    future = [ln for ln in body.split("\n") if ln.startswith("from __future__")]
    rest = "\n".join(ln for ln in body.split("\n") if not ln.startswith("from __future__"))
    return "\n".join([*future, prelude, rest]).strip() + "\n", None


def _span(node: ast.AST, text: str) -> tuple[int, int, int, int, str]:
    end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
    end_col = getattr(node, "end_col_offset", None) or 0
    return (node.lineno - 1, node.col_offset, end_line - 1, end_col, text)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- the entry point

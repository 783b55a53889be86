"""The replay's build of a CUDA C source (issue 28, blind host code for CUDA C): a shared
object that holds the source's kernels and device functions and none of its host code,
loaded without running any of its initializers.

1. `refusal` names what the blind pass does not take: token pasting and names of the
   emulator's internals (`kw::`, `gptr`) or specializations in `std` (with them a source
   could hook the code that calls its kernels), ifunc resolvers (run at load time).
2. `host_free` preprocesses the source's own macros (its includes set aside, so torch's
   and CUDA's macros stay as written) and replaces the body of every function that is
   not `__global__` or `__device__` with `;` — at any scope but inside a class, where
   member functions are kept and only device-valid code can reach them (nvcc checks the
   kernels). The `__global__` functions are listed with their namespaces: the replay
   launches nothing else.
3. `disable_initializers` turns off, in the built object's dynamic section, everything the
   loader would run (init/fini arrays, DT_INIT/DT_FINI): loading it runs no code.
4. `symbols` reads the object's symbol table (pyelftools), `demangle` uses libstdc++.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

from elftools.elf.elffile import ELFFile

from kernelbench.runner.cuda_emu.rewrite import strip_comments

COMPILE_TIMEOUT_S = 120

_REFUSED = [
    (re.compile(r"##"), "token pasting (##)"),
    (re.compile(r"\bkw\s*::|\bnamespace\s+kw\b|\bgptr\b"), "the emulator's own names"),
    (re.compile(r"\bnamespace\s+std\b|\b(struct|class)\s+std\s*::"), "specializations in std"),
    (re.compile(r"\bifunc\b"), "an ifunc resolver"),
]


def refusal(src: str) -> str | None:
    code = strip_comments(src)
    for pattern, what in _REFUSED:
        if pattern.search(code):
            return what
    return None


_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include\b[^\n]*$", re.M)


def preprocess(src: str) -> str:
    """The source with its own macros expanded and its includes kept as written."""
    code = strip_comments(src)
    includes = _INCLUDE.findall(code)
    body = _INCLUDE.sub("", code)
    proc = subprocess.run(
        ["g++", "-E", "-P", "-x", "c++", "-std=c++20", "-"],
        input=body,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise ValueError(f"the source's macros do not expand: {proc.stderr[-400:]}")
    return "\n".join(includes) + "\n" + proc.stdout


_SCOPE_HEAD = re.compile(r"\b(namespace|struct|class|union|enum)\b")
_NS_HEAD = re.compile(r"\bnamespace\s*([\w:]*)\s*$")
_EXTERN_C = re.compile(r'\bextern\s*"C"\s*$')
_FUNC_NAME = re.compile(r"([A-Za-z_]\w*)\s*(?:<[^()]*>)?\s*\($")


def _skip_literal(src: str, i: int) -> int:
    quote = src[i]
    j = i + 1
    while j < len(src) and src[j] != quote:
        j += 2 if src[j] == "\\" else 1
    return j + 1


def _match_brace(src: str, i: int) -> int:
    """Index just past the `}` closing the `{` at i."""
    depth = 0
    j = i
    while j < len(src):
        c = src[j]
        if c in "\"'":
            j = _skip_literal(src, j)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError("unbalanced braces in the CUDA source")


def _head_start(src: str, i: int, floor: int) -> int:
    """Start of the declaration whose `{` is at i: after the previous `;`, `{`, `}` or
    preprocessor line, at or after `floor`."""
    j = i - 1
    while j >= floor and src[j] not in ";{}":
        j -= 1
    start = max(j + 1, floor)
    k = src.rfind("\n#", floor, i)
    if k < 0 and src.startswith("#", floor):
        k = floor - 1
    if k >= 0:  # a preprocessor line in between: the declaration starts after it
        line_end = src.find("\n", k + 1)
        if 0 <= line_end < i:
            start = max(start, line_end + 1)
    return start


def _params_end(head: str) -> int:
    """Index of the `)` that closes the first top-level parameter list of a function head,
    or -1."""
    depth = 0
    for n, c in enumerate(head):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return n
    return -1


def _drop_template_heads(text: str) -> str:
    """`template <class T, int N> T f` -> ` T f` (a `class` there opens no scope)."""
    out, depth = [], 0
    i = 0
    while i < len(text):
        if depth == 0 and text.startswith("template", i) and (i == 0 or not text[i - 1].isalnum()):
            j = text.find("<", i)
            if j < 0:
                break
            depth, i = 1, j + 1
            continue
        if depth:
            depth += {"<": 1, ">": -1}.get(text[i], 0)
        else:
            out.append(text[i])
        i += 1
    return "".join(out)


def host_free(src: str) -> tuple[str, set[str]]:
    """(the source with every host function body removed, the qualified names of its
    `__global__` functions)."""
    out: list[str] = []
    kernels: set[str] = set()
    _scan(src, 0, len(src), [], out, kernels)
    return "".join(out), kernels


def _scan(src: str, lo: int, hi: int, ns: list[str], out: list[str], kernels: set[str]) -> None:
    pos = i = lo
    while i < hi:
        c = src[i]
        if c in "\"'":
            i = _skip_literal(src, i)
            continue
        if c == "#" and (i == 0 or src[i - 1] == "\n"):
            i = src.find("\n", i)
            i = hi if i < 0 else i
            continue
        if c != "{":
            i += 1
            continue
        start = _head_start(src, i, lo)
        head = src[start:i]
        end = _match_brace(src, i)
        nsm = _NS_HEAD.search(head)
        if nsm or _EXTERN_C.search(head):  # transparent scopes: look inside
            out.append(src[pos : i + 1])
            inner = ns + ([nsm.group(1) or "(anonymous namespace)"] if nsm else [])
            _scan(src, i + 1, end - 1, inner, out, kernels)
            out.append("}")
            pos = i = end
            continue
        close = _params_end(head)
        name_part = _drop_template_heads(head[: head.find("(")])
        is_function = close >= 0 and "=" not in name_part and not _SCOPE_HEAD.search(name_part)
        if not is_function:  # a class body, an initializer, an enum: kept as written
            i = end
            continue
        if "__global__" in head or "__device__" in head:
            if "__global__" in head:
                m = _FUNC_NAME.search(head[: head.find("(") + 1])
                if m:
                    kernels.add("::".join([*ns, m.group(1)]))
                at = start + head.find("__global__")  # emitted even if nothing calls it
                out.append(src[pos:at] + "__attribute__((used)) ")
                pos = at
            i = end
            continue
        # a host function: its declaration stays, its body (and any member-init list) goes
        init = head.find(":", close)
        while init >= 0 and head[init : init + 2] == "::":
            init = head.find(":", init + 2)
        cut = start + init if init >= 0 else i
        out.append(src[pos:cut] + ";")
        pos = i = end
    out.append(src[pos:hi])


# ------------------------------------------------------------------ the built object

DT_INIT, DT_FINI, DT_INIT_ARRAYSZ, DT_FINI_ARRAYSZ, DT_PREINIT_ARRAYSZ = 12, 13, 27, 28, 33
# An unused processor-specific tag: the loader skips it.
DT_IGNORED = 0x7FFFFFF0


def disable_initializers(path: Path) -> None:
    """Rewrite the object's dynamic section so that loading it runs none of its code."""
    with path.open("rb") as f:
        dynamic = ELFFile(f).get_section_by_name(".dynamic")
        if dynamic is None:
            raise ValueError("the built object has no dynamic section")
        base, size = int(dynamic["sh_offset"]), int(dynamic["sh_size"])
    with path.open("r+b") as f:
        f.seek(base)
        raw = bytearray(f.read(size))
        for at in range(0, len(raw) - 15, 16):
            d_tag = int.from_bytes(raw[at : at + 8], "little", signed=True)
            if d_tag in (DT_INIT_ARRAYSZ, DT_FINI_ARRAYSZ, DT_PREINIT_ARRAYSZ):
                raw[at + 8 : at + 16] = bytes(8)
            elif d_tag in (DT_INIT, DT_FINI):
                raw[at : at + 8] = DT_IGNORED.to_bytes(8, "little", signed=True)
        f.seek(base)
        f.write(raw)


class Symbols(NamedTuple):
    """An object's defined function symbols (mangled name -> offset from its base) and,
    among them, its ifuncs (resolvers the loader would run)."""

    functions: dict[str, int]
    ifuncs: list[str]


def symbols(path: Path) -> Symbols:
    """One walk over the object's static and dynamic symbol tables."""
    found = Symbols({}, [])
    with path.open("rb") as f:
        elf = ELFFile(f)
        for name in (".symtab", ".dynsym"):
            table = elf.get_section_by_name(name)
            if table is None:
                continue
            for sym in table.iter_symbols():  # type: ignore[attr-defined]
                kind = sym["st_info"]["type"]
                if kind not in ("STT_FUNC", "STT_GNU_IFUNC") or sym["st_shndx"] == "SHN_UNDEF":
                    continue
                found.functions.setdefault(sym.name, int(sym["st_value"]))
                if kind == "STT_GNU_IFUNC" and sym.name not in found.ifuncs:
                    found.ifuncs.append(sym.name)
    return found


_libstdcxx = ctypes.CDLL(ctypes.util.find_library("stdc++") or "libstdc++.so.6")
_demangle = _libstdcxx.__cxa_demangle
_demangle.restype = ctypes.c_void_p
_demangle.argtypes = [
    ctypes.c_char_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_int),
]
_free = ctypes.CDLL(None).free
_free.argtypes = [ctypes.c_void_p]


def demangle(name: str) -> str:
    status = ctypes.c_int()
    ptr = _demangle(name.encode(), None, None, ctypes.byref(status))
    if status.value != 0 or not ptr:
        return name
    try:
        return ctypes.string_at(ptr).decode(errors="replace")
    finally:
        _free(ptr)


def _drop_trailing_group(text: str, opening: str, closing: str) -> str:
    """`f<int>(float)` with ( ) -> `f<int>`: the balanced group that ends the text."""
    if not text.endswith(closing):
        return text
    depth = 0
    for n in range(len(text) - 1, -1, -1):
        if text[n] == closing:
            depth += 1
        elif text[n] == opening:
            depth -= 1
            if depth == 0:
                return text[:n]
    return text


def qualified_name(demangled: str) -> str:
    """`void ns::k<float>(kw::gptr<float>, int)` -> `ns::k` (return type, template
    arguments and parameters dropped)."""
    text = _drop_trailing_group(demangled.strip(), "(", ")")
    text = _drop_trailing_group(text.rstrip(), "<", ">")
    depth, cut = 0, 0
    for n, c in enumerate(text):
        if c in "<(":
            depth += 1
        elif c in ">)":
            depth -= 1
        elif c == " " and depth == 0:
            cut = n + 1
    return text[cut:]

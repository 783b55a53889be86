"""CUDA C source -> C++ for the emulated device: drop the CUDA/torch includes (the runtime
header provides them), refuse constructs outside the emulated surface, turn pointer
parameters into bounds-checked `kw::gptr`, `__shared__` declarations into per-block
storage and `<<<...>>>` launches into `kw::launch` calls."""

from __future__ import annotations

import re

# (pattern, the construct named in the not_run reason)
REFUSED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(asm|__asm__)\s*(volatile|__volatile__)?\s*\("), "inline PTX (asm)"),
    (re.compile(r"\bwmma::|<mma\.h>|\bnvcuda::|\bmma\.sync"), "tensor cores (wmma/mma)"),
    (re.compile(r"cooperative_groups"), "cooperative groups"),
    (re.compile(r"\bcublas\w*|<cublas"), "cuBLAS"),
    (re.compile(r"\bcudnn\w*|<cudnn"), "cuDNN"),
    (re.compile(r"\bcusparse\w*|<cusparse"), "cuSPARSE"),
    (re.compile(r"\bcub::|<cub/|\bthrust::|<thrust/"), "CUB/Thrust"),
    (re.compile(r"\btex[123]D\w*\s*[<(]|\bcudaTextureObject_t|\bsurf[123]D"), "textures/surfaces"),
    (
        re.compile(r"\bcuda(LaunchCooperativeKernel|GraphCreate|StreamBeginCapture)\b"),
        "cooperative launches/CUDA graphs",
    ),
    (re.compile(r"\b__nv_fp8|\bcuda_fp8\.h|\b__nv_fp4"), "fp8/fp4 types"),
]

SYNC_TOKENS = re.compile(
    r"\b(__syncthreads|__syncwarp|__shfl\w*_sync|__ballot_sync|__any_sync|__all_sync"
    r"|__activemask)\b"
)

_DROP_INCLUDE = re.compile(
    r'^[ \t]*#[ \t]*include[ \t]*[<"]'
    r"(torch/|ATen/|c10/|cuda|pybind11/|device_|vector_types|math_constants|mma\.h|crt/"
    r"|driver_types|curand)[^>\"]*[>\"][^\n]*$",
    re.M,
)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_HOST_SUBS = [
    (re.compile(r"\.is_cuda\(\)"), ".is_cpu()"),
    (re.compile(r"\bkCUDA\b"), "kCPU"),
    (re.compile(r"\bDeviceType::CUDA\b"), "DeviceType::CPU"),
    (re.compile(r"\.cuda\(\)"), ".cpu()"),
]
_FUNC_HEAD = re.compile(r"\b(__global__|__device__)\b")
_TYPE = r"(?:(?:const|volatile|unsigned|signed|long|short|struct)\s+)*[A-Za-z_][\w:]*(?:\s*<[^<>;(){}]*>)?"
_PTR_PARAM = re.compile(
    rf"^\s*({_TYPE}(?:\s+const)?)\s*\*\s*(?:__restrict__|__restrict|const|\s)*([A-Za-z_]\w*)\s*$"
)
_PTR_LOCAL = re.compile(
    r"(?<![\w:>.])((?:const\s+|volatile\s+)*[A-Za-z_][\w:]*(?:\s*<[^<>;()]*>)?(?:\s+const)?)"
    r"\s*\*\s*(?:__restrict__\s*|__restrict\s*|const\s+)*([A-Za-z_]\w*)\s*=(?!=)"
)
_ALIGN = r"(?:__align__\s*\(\s*\d+\s*\)\s*|alignas\s*\(\s*\d+\s*\)\s*)?"
_DYN_SHARED = re.compile(
    rf"\bextern\s+{_ALIGN}__shared__\s+{_ALIGN}({_TYPE})\s+{_ALIGN}([A-Za-z_]\w*)\s*\[\s*\]\s*;"
)
_STATIC_SHARED = re.compile(
    rf"\b__shared__\s+{_ALIGN}({_TYPE})\s+{_ALIGN}([A-Za-z_]\w*)\s*((?:\[[^\];,]+\]\s*)*);"
)
_KEYWORDS = {"return", "else", "case", "goto", "throw", "delete", "new", "sizeof", "typedef"}


class Refused(Exception):
    """The source uses a construct the emulator does not model."""

    def __init__(self, construct: str) -> None:
        super().__init__(construct)
        self.construct = construct


def strip_comments(src: str) -> str:
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), src)


def refused_construct(src: str) -> str | None:
    code = strip_comments(src)
    for pattern, what in REFUSED:
        if pattern.search(code):
            return what
    return None


def needs_fibers(src: str) -> bool:
    return bool(SYNC_TOKENS.search(strip_comments(src)))


def _match(src: str, i: int, open_c: str, close_c: str) -> int:
    """Index just past the bracket closing the one at src[i]."""
    depth = 0
    for j in range(i, len(src)):
        c = src[j]
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced {open_c}{close_c} in the CUDA source")


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in text:
        if c in "(<[{":
            depth += 1
        elif c in ")>]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def _rewrite_params(params: str) -> tuple[str, list[str]]:
    out, names = [], []
    for p in _split_top(params):
        m = _PTR_PARAM.match(p)
        if m and m.group(1).split()[-1] not in _KEYWORDS:
            out.append(f" ::kw::gptr<{m.group(1).strip()}> {m.group(2)}")
            names.append(m.group(2))
        else:
            out.append(p)
    return ",".join(out), names


def _local_ptr(m: re.Match[str]) -> str:
    typ = m.group(1).strip()
    if typ.split()[0] in _KEYWORDS or typ in ("void",):
        return m.group(0)
    return f"::kw::gptr<{typ}> {m.group(2)} ="


def _rewrite_body(body: str) -> str:
    body = _DYN_SHARED.sub(
        lambda m: f"::kw::gptr<{m.group(1)}> {m.group(2)} = ::kw::dyn_shared<{m.group(1)}>();", body
    )
    body = _STATIC_SHARED.sub(
        lambda m: f"KW_SHARED({m.group(1)}, {m.group(2)}, {m.group(3)});", body
    )
    body = re.sub(r"\breinterpret_cast\s*<", "::kw::rcast<", body)
    return _PTR_LOCAL.sub(_local_ptr, body)


def _rewrite_functions(src: str) -> str:
    out, pos = [], 0
    for m in _FUNC_HEAD.finditer(src):
        if m.start() < pos:
            continue
        paren = src.find("(", m.end())
        head = src[m.end() : paren]
        if paren < 0 or any(c in head for c in ";={}"):
            continue  # a __device__ variable, not a function
        close = _match(src, paren, "(", ")")
        params, names = _rewrite_params(src[paren + 1 : close - 1])
        k = close
        while k < len(src) and src[k] not in "{;":
            k += 1
        out.append(src[pos : paren + 1] + params + ")" + src[close:k])
        if k >= len(src) or src[k] == ";":
            pos = k
            continue
        end = _match(src, k, "{", "}")
        naming = "".join(f' ::kw::name_param({n}, "{n}");' for n in names)
        out.append("{" + naming + _rewrite_body(src[k + 1 : end - 1]) + "}")
        pos = end
    out.append(src[pos:])
    return "".join(out)


def _launch_name_start(src: str, i: int) -> int:
    j = i
    while j > 0 and src[j - 1].isspace():
        j -= 1
    if j > 0 and src[j - 1] == ">":  # template arguments: kernel<float, 4><<<...>>>
        depth = 0
        while j > 0:
            j -= 1
            if src[j] == ">":
                depth += 1
            elif src[j] == "<":
                depth -= 1
                if depth == 0:
                    break
    while j > 0 and (src[j - 1].isalnum() or src[j - 1] in "_:"):
        j -= 1
    return j


def _rewrite_launches(src: str) -> str:
    while (i := src.find("<<<")) >= 0:
        start = _launch_name_start(src, i)
        name = src[start:i].strip()
        end_cfg = src.find(">>>", i)
        cfg = [c.strip() for c in _split_top(src[i + 3 : end_cfg])]
        if end_cfg < 0 or not name or len(cfg) < 2:
            raise ValueError("cannot read a <<<grid, block>>> launch in the CUDA source")
        cfg += ["0", "nullptr"][len(cfg) - 2 :]
        paren = src.find("(", end_cfg)
        close = _match(src, paren, "(", ")")
        args = src[paren + 1 : close - 1]
        call = (
            f'::kw::launch({name}, "{name}", dim3({cfg[0]}), dim3({cfg[1]}), '
            f"(size_t)({cfg[2]}), ::kw::as_stream({cfg[3]})"
            + (f", {args})" if args.strip() else ")")
        )
        src = src[:start] + call + src[close:]
    return src


def to_cpp(src: str) -> str:
    """The emulator's C++ for one CUDA/C++ source (raises Refused)."""
    what = refused_construct(src)
    if what:
        raise Refused(what)
    code = _DROP_INCLUDE.sub("", strip_comments(src))
    code = re.sub(r"\b__launch_bounds__\s*\([^)]*\)", "", code)
    for pattern, repl in _HOST_SUBS:
        code = pattern.sub(repl, code)
    return _rewrite_launches(_rewrite_functions(code))

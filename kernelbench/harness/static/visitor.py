"""The static check's AST walk: one pass over a candidate file recording violations and
warnings in a `StaticReport` (tables: kernelbench.harness.static.rules)."""

from __future__ import annotations

import ast

from kernelbench.harness.static.allowlist import UNRESOLVED, is_module_path, path_verdict
from kernelbench.harness.static.names import LOCAL, Names, dotted
from kernelbench.harness.static.rules import (
    ALLOWED_DECORATORS,
    ALLOWED_IMPORTS,
    BANNED_ATTRS,
    BANNED_CALLS,
    BANNED_TORCH,
    HEAVY_METHODS,
    NAME_LOOKUPS,
    RNG_TORCH,
    TRITON_KERNEL_DECORATORS,
    StaticReport,
    banned_root,
    mark_stored,
    parse_annotation,
    torch_host_verdict,
)


class SourceChecker(ast.NodeVisitor):
    """Walks the whole file once; `host` is true in code that may run during forward."""

    def __init__(self, names: Names, report: StaticReport, allow_torch_ops: bool) -> None:
        self.names = names
        self.report = report
        self.allow_torch_ops = allow_torch_ops
        self.host = False  # module level / ModelNew.__init__ top level: False
        self.kernel: str | None = None  # inside a @triton.jit body
        self.kernel_fns: set[str] = set()
        self.class_stack: list[str] = []
        self.depth = 0  # functions entered: a method is a def at depth 0 in a class body
        # classes whose __init__ runs only while ModelNew is built (kernelbench.harness.static.check)
        self.init_classes: set[str] = {"ModelNew"}
        self.layers: set[str] = set()  # self.<attr> holding a torch layer (nn.Linear, ...)
        # nodes where a module object may stand: the base of an attribute, getattr's first
        # argument, the value of a plain alias (`F = torch.nn.functional`); and call targets
        self.module_ok: set[int] = set()
        self.call_funcs: set[int] = set()
        # the file's own get_inputs/get_init_inputs that nothing calls (issue 30): the
        # harness never runs them, so their torch.randn is not compute
        self.unreferenced_inputs: set[str] = set()
        self.inputs_fn = False

    def violation(self, text: str, node: ast.AST) -> None:
        self.report.violations.append(f"line {getattr(node, 'lineno', '?')}: {text}")

    def torch_op(self, text: str, node: ast.AST) -> None:
        if self.allow_torch_ops:
            self.report.warnings.append(f"line {getattr(node, 'lineno', '?')}: {text}")
        else:
            self.violation(text, node)

    # ------------------------------------------------------------ imports

    def _check_module(self, module: str, node: ast.AST) -> None:
        root = module.split(".", maxsplit=1)[0]
        if root not in ALLOWED_IMPORTS:
            self.violation(f"imports {module}: not a module a kernel needs", node)
        elif any(module == b or module.startswith(b + ".") for b in BANNED_TORCH):
            self.violation(f"imports {module}: {BANNED_TORCH[banned_root(module)]}", node)
        elif (why := path_verdict(module)) is not None:
            self.violation(f"imports {module}: {why}", node)
        if self.class_stack and self.depth == 0:
            self.violation(f"imports {module} inside a class body", node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(alias.name, node)
            if alias.asname == "ModelNew":
                self.violation("binds ModelNew to an import", node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.violation("relative import (the candidate is a single file)", node)
            return
        for alias in node.names:
            self._check_module(f"{node.module}.{alias.name}", node)
            if (alias.asname or alias.name) == "ModelNew":
                self.violation("binds ModelNew to an import", node)

    # ------------------------------------------------------------ definitions

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Check decorators; True if this is a Triton kernel."""
        is_kernel = False
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            paths = self.names.resolve(target) or {dotted(target) or "<expr>"}
            if paths & TRITON_KERNEL_DECORATORS:
                is_kernel = True
            elif not paths & ALLOWED_DECORATORS:
                shown = sorted(paths)[0].replace(f"{LOCAL}.", "")
                self.violation(
                    f"decorator {shown} on {node.name} is not triton's jit/autotune/heuristics "
                    "or a plain staticmethod/classmethod/property/no_grad",
                    node,
                )
            if isinstance(dec, ast.Call):
                for arg in [*dec.args, *(k.value for k in dec.keywords)]:
                    self.visit(arg)
        return is_kernel

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in BANNED_ATTRS and self.class_stack:
            self.violation(f"defines {node.name} (hooks into Python's object machinery)", node)
        if node.name == "ModelNew":
            self.violation("binds ModelNew to a function", node)
        is_kernel = self._decorators(node) or node.name in self.kernel_fns
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self._annotation(arg.annotation)
        if node.returns is not None:
            self._annotation(node.returns)
        saved = (self.host, self.kernel, self.inputs_fn)
        in_init = (
            node.name == "__init__"
            and self.depth == 0
            and len(self.class_stack) == 1
            and self.class_stack[0] in self.init_classes
        )
        unread_inputs = (
            node.name in self.unreferenced_inputs and self.depth == 0 and not self.class_stack
        )
        if is_kernel:
            self.kernel = node.name
            self.report.kernels.append(node.name)
        # every body runs at forward time, except ModelNew.__init__'s (and never-called inputs)
        self.host = not (in_init or unread_inputs)
        self.inputs_fn = self.inputs_fn or unread_inputs
        self.depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.depth -= 1
        self.host, self.kernel, self.inputs_fn = saved

    def _annotation(self, node: ast.expr) -> None:
        """Annotations run at def time, and a string one may be evaluated later
        (typing.get_type_hints): both are read as code."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parsed = parse_annotation(node)
            if parsed is None:
                return
            for inner in ast.walk(parsed):
                if isinstance(inner, ast.Attribute):
                    self.module_ok.add(id(inner.value))
                if isinstance(inner, ast.Call):
                    self.call_funcs.add(id(inner.func))
            node = parsed
        self.visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        saved = self.host
        self.host = True
        self.generic_visit(node)
        self.host = saved

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.decorator_list:
            self.violation(f"class {node.name} has a decorator (it can replace the class)", node)
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.violation(f"class {node.name} has a metaclass", node)
        for base in node.bases:
            paths = self.names.resolve(base)
            if "builtins.type" in paths or dotted(base) == "type":
                self.violation(f"class {node.name} derives from type (a metaclass)", node)
            if (
                any(p.endswith(".Model") or p == f"{LOCAL}.Model" for p in paths)
                or dotted(base) == "Model"
            ):
                self.violation(f"class {node.name} inherits from the reference Model", node)
        if node.name == "ModelNew":
            self._model_new_body(node)
        self.class_stack.append(node.name)
        for stmt in [*node.bases, *node.keywords, *node.body]:
            self.visit(stmt)
        self.class_stack.pop()

    def _model_new_body(self, node: ast.ClassDef) -> None:
        forwards = [s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "forward"]
        if len(forwards) != 1:
            self.violation("ModelNew must define forward exactly once, with def", node)
        for stmt in node.body:
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets = stmt.targets
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
                targets = [stmt.target]
            if any(isinstance(t, ast.Name) and t.id in {"forward", "__call__"} for t in targets):
                self.violation(
                    "ModelNew binds forward/__call__ to something other than a def", stmt
                )

    # ------------------------------------------------------------ bindings

    def _target(self, target: ast.expr, node: ast.AST) -> None:
        if isinstance(target, ast.Name) and target.id == "ModelNew":
            self.violation("rebinds ModelNew (the class that runs must be the class checked)", node)
        elif isinstance(target, ast.Attribute):
            base = self.names.resolve(target.value)
            if any(not p.startswith(LOCAL) for p in base):
                self.violation(
                    f"assigns to {dotted(target) or target.attr} (monkeypatching an imported module)",
                    node,
                )
            elif any(p.startswith(LOCAL) for p in base):
                self.violation(f"assigns to {dotted(target)} outside the class body", node)
            if target.attr in BANNED_ATTRS:
                self.violation(f"assigns to {target.attr}", node)
        elif isinstance(target, ast.Subscript) and self.names.is_module_alias(target.value):
            self.violation(
                f"assigns into {dotted(target.value) or 'an imported module'}'s state", node
            )
        elif isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for elt in target.elts if not isinstance(target, ast.Starred) else [target.value]:
                self._target(elt, node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._target(t, node)
        if isinstance(node.value, ast.Name | ast.Attribute) and not all(
            isinstance(t, ast.Name) for t in node.targets
        ):
            node.value._kw_stored = True  # type: ignore[union-attr]
        self.generic_visit(node)

    def _one_target(self, node: ast.AugAssign | ast.AnnAssign | ast.NamedExpr | ast.For) -> None:
        self._target(node.target, node)
        if isinstance(node, ast.AnnAssign):
            self._annotation(node.annotation)
            for child in (node.target, node.value):
                if child is not None:
                    self.visit(child)
            return
        self.generic_visit(node)

    visit_AugAssign = visit_AnnAssign = visit_NamedExpr = visit_For = _one_target

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._target(t, node)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        if "ModelNew" in node.names:
            self.violation("declares ModelNew global (to rebind it)", node)

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._target(node.optional_vars, node.context_expr)
        self.generic_visit(node)

    # ------------------------------------------------------------ uses

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in NAME_LOOKUPS and id(node) not in self.call_funcs:
            self.violation(f"uses {node.id} as a value (a lookup by a computed name)", node)
        if node.id in BANNED_CALLS:
            self.violation(f"uses {node.id} ({BANNED_CALLS[node.id]})", node)
        elif node.id in BANNED_ATTRS:
            self.violation(f"uses {node.id}", node)
        self._resolved_use(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in BANNED_ATTRS:
            self.violation(f"uses .{node.attr} (introspection or hooks a kernel never needs)", node)
        # an object's private state (`warnings.catch_warnings()._module`) is a path no check follows
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        own = (dotted(node.value) or "").split(".")[0] in {"self", "cls"}
        if private and not own and not self.names.resolve(node.value):
            self.violation(
                f"reads the private attribute .{node.attr} of an object the file did not define",
                node,
            )
        if not self._resolved_use(node):
            self.generic_visit(node)

    def _resolved_use(self, node: ast.Name | ast.Attribute) -> bool:
        """Check a name that resolves into torch/numpy; True if it resolved (done)."""
        paths = self.names.resolve(node)
        external = {p for p in paths if not p.startswith(LOCAL)}
        if not external:
            return False
        if self._reach(node, external):
            return True
        for path in sorted(external):
            if self.kernel and path.split(".")[0] in {"torch", "numpy"}:
                self.violation(f"kernel {self.kernel} uses {path} inside a @triton.jit body", node)
                return True
            why = torch_host_verdict(path)
            if self.inputs_fn and path in RNG_TORCH:
                continue  # a never-called get_inputs may seed the RNG: it never runs
            if why and why.startswith("banned"):
                self.violation(f"uses {path}: {why.removeprefix('banned: ')}", node)
                return True
            if why and self.host:
                self.torch_op(f"uses {path} ({why}) outside a custom kernel", node)
                return True
            if why and self._stored(node):
                self.torch_op(f"stores {path} ({why}) for later use", node)
                return True
        return True

    def _reach(self, node: ast.expr, external: set[str]) -> bool:
        """The allowlist (kernelbench.harness.static.allowlist): True if a path is refused,
        or a module object is used as a value (passed on, it is a path no check follows)."""
        for path in sorted(external):
            reach = path_verdict(path)
            if reach is not None:
                self.violation(f"reaches {path}: {reach}", node)
                return True
            loaded = isinstance(getattr(node, "ctx", ast.Load()), ast.Load)
            if loaded and id(node) not in self.module_ok and is_module_path(path):
                self.violation(
                    f"uses the module {path} as a value (only its attributes may be used: "
                    "a module passed on is a path no check can follow)",
                    node,
                )
                return True
        return False

    def _stored(self, node: ast.AST) -> bool:
        return getattr(node, "_kw_stored", False)

    def visit_Call(self, node: ast.Call) -> None:
        fn = dotted(node.func)
        if fn in {"getattr", "setattr", "delattr", "hasattr"} and len(node.args) >= 2:
            obj, name = node.args[0], node.args[1]
            literal = name.value if isinstance(name, ast.Constant) else None
            literal = literal if isinstance(literal, str) else None
            constant = literal is not None
            if not constant and dotted(obj) != "self":
                self.violation(f"{fn}() with a computed attribute name", node)
            if constant and str(literal).startswith("__") and literal != "__init__":
                self.violation(f"{fn}() of the dunder {literal}", node)
            if fn in {"setattr", "delattr"} and self.names.is_module_alias(obj):
                self.violation(f"{fn}() on an imported module (monkeypatching)", node)
            if fn in {"getattr", "hasattr"}:
                looked_up = {p for p in self.names.resolve(node) if not p.startswith(LOCAL)}
                if fn == "hasattr" and constant:  # a bool: only the path is checked
                    looked_up = {f"{p}.{literal}" for p in self.names.resolve(obj)}
                    for path in sorted(p for p in looked_up if not p.startswith(LOCAL)):
                        reach = path_verdict(path)
                        if reach is not None and not reach.endswith(UNRESOLVED):  # False
                            self.violation(f"reaches {path}: {reach}", node)
                            break
                else:
                    self._reach(node, looked_up)
        if isinstance(node.func, ast.Call):  # getattr(F, "softplus")(x)
            for path in sorted(self.names.resolve(node.func)):
                why = torch_host_verdict(path)
                if why and (self.host or why.startswith("banned")):
                    self.torch_op(f"uses {path} ({why.removeprefix('banned: ')})", node)
        if fn == "type" and len(node.args) == 3:
            self.violation("type() with three arguments builds a class at run time", node)
        if self.host and not self.kernel and fn:
            parts = fn.split(".")
            called = parts[2:] in ([], ["forward"])
            if parts[0] == "self" and len(parts) >= 2 and parts[1] in self.layers and called:
                self.torch_op(f"calls the torch layer self.{parts[1]} in host code", node)
        if self.host and not self.kernel and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            own = self.names.resolve(node.func.value)
            if attr in HEAVY_METHODS and not own:
                self.torch_op(f"calls .{attr}() (a torch compute op) outside a custom kernel", node)
            elif attr.startswith("__") and attr.endswith("__") and attr != "__init__":
                self.violation(f"calls {attr} explicitly", node)
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.Name | ast.Attribute):
                arg._kw_stored = True  # type: ignore[union-attr]
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if self.host and not self.kernel and isinstance(node.op, ast.MatMult):
            self.torch_op("the @ operator (a torch matmul) outside a custom kernel", node)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        mark_stored([*node.keys, *node.values])
        self.generic_visit(node)

    def visit_List(self, node: ast.List) -> None:
        mark_stored(node.elts)
        self.generic_visit(node)

    visit_Tuple = visit_List  # type: ignore[assignment]

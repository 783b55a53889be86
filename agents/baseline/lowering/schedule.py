"""Partition the IR into kernels (fusion groups) and order them with forward's torch steps.

Greedy, in evaluation order:

* a `Matmul` or `Conv2d` starts a group (its operands are materialized tensors); elementwise
  ops on its output of the same shape join it as a fused epilogue;
* a `Reduce` or `Scan` joins the group computing its input when that group iterates over
  the input's shape and reduces the same axes (or is purely elementwise: it becomes a row
  group); otherwise it starts a row group over its input;
* an elementwise op joins a group where its result lives in the group's index space: the
  full space, or (in a row group) the reduced space of one value per row; otherwise it
  starts an elementwise group. Operands from elsewhere are loaded (materialized there);
* `PyOp`s (views, shapes) run in forward between kernels; the tensors they read are
  materialized.

Joining is refused when it would make two steps wait on each other. A value is stored
when anything outside its group reads it (another kernel, a PyOp, the outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.baseline.lowering.ir import (
    COMPUTE,
    Conv2d,
    Graph,
    Matmul,
    Pointwise,
    Pool2d,
    PyOp,
    Reduce,
    Scan,
    Unsupported,
    Value,
    reduced_shape,
)

FULL, RED_KEEP, RED_NOKEEP = "full", "red_keep", "red_nokeep"


@dataclass(eq=False)
class Group:
    index: int
    kind: str  # pointwise | row | matmul | conv
    space: tuple[int, ...]
    axes: tuple[int, ...] = ()
    anchor: Value | None = None
    members: list[Value] = field(default_factory=list)
    space_of: dict[int, str] = field(default_factory=dict)
    stored: set[int] = field(default_factory=set)
    after_scan: set[int] = field(default_factory=set)  # members that depend on a scan here

    @property
    def name(self) -> str:
        return f"k{self.index}_{self.kind}"

    def has(self, v: Value) -> bool:
        return v.id in self.space_of

    def red_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return (
            reduced_shape(self.space, self.axes, True),
            reduced_shape(self.space, self.axes, False),
        )

    def kind_of_shape(self, shape: tuple[int, ...]) -> str | None:
        if shape == self.space:
            return FULL
        if self.kind == "row":
            keep, nokeep = self.red_shapes()
            if shape == keep:
                return RED_KEEP
            if shape == nokeep:
                return RED_NOKEEP
        return None

    def add(self, v: Value, space: str) -> None:
        self.members.append(v)
        self.space_of[v.id] = space


Step = Group | PyOp


@dataclass
class Schedule:
    graph: Graph
    groups: list[Group]
    steps: list[Step]  # forward's order: kernels and PyOps
    group_of: dict[int, Group]

    def stored_values(self, g: Group) -> list[Value]:
        return [v for v in g.members if v.id in g.stored]

    def operands_of(self, g: Group) -> list[Value]:
        """Tensors the group's kernel reads (inputs, params, views, other kernels' outputs)."""
        seen: dict[int, Value] = {}
        for v in g.members:
            for a in v.operands():
                if a.is_tensor() and not g.has(a):
                    seen.setdefault(a.id, a)
        return list(seen.values())

    def scalars_of(self, g: Group) -> list[Value]:
        """Run-time Python scalars the kernel takes as arguments."""
        seen: dict[int, Value] = {}
        for v in g.members:
            for a in v.operands():
                if not a.is_tensor():
                    seen.setdefault(a.id, a)
        return list(seen.values())


class _Scheduler:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.groups: list[Group] = []
        self.group_of: dict[int, Group] = {}
        self.deps: dict[int, set[int]] = {}  # step key -> step keys it waits on
        self.steps: dict[int, Step] = {}

    # ------------------------------------------------------------ steps and dependencies
    def key_of(self, v: Value) -> int | None:
        g = self.group_of.get(v.id)
        if g is not None:
            return -(g.index + 1)
        if isinstance(v, PyOp):
            return v.id
        return None

    def reaches(self, start: int | None, target: int) -> bool:
        if start is None:
            return False
        stack, seen = [start], set()
        while stack:
            k = stack.pop()
            if k == target:
                return True
            if k in seen:
                continue
            seen.add(k)
            stack.extend(self.deps.get(k, ()))
        return False

    def materialize(self, v: Value) -> None:
        g = self.group_of.get(v.id)
        if g is not None:
            g.stored.add(v.id)

    def new_group(self, kind: str, space: tuple[int, ...], **kw: object) -> Group:
        g = Group(index=len(self.groups), kind=kind, space=space, **kw)  # type: ignore[arg-type]
        self.groups.append(g)
        self.deps[-(g.index + 1)] = set()
        self.steps[-(g.index + 1)] = g
        return g

    def place(self, v: Value, g: Group, space: str) -> None:
        g.add(v, space)
        self.group_of[v.id] = g
        key = -(g.index + 1)
        for a in v.operands():
            if g.has(a):
                continue
            self.materialize(a)
            k = self.key_of(a)
            if k is not None:
                self.deps[key].add(k)
        if isinstance(v, Scan) or any(g.has(a) and a.id in g.after_scan for a in v.operands()):
            g.after_scan.add(v.id)

    def external_ok(self, v: Value, g: Group) -> bool:
        """v's operands from outside `g` can be loaded by g's kernel without a cycle."""
        key = -(g.index + 1)
        for a in v.operands():
            if g.has(a):
                continue
            if self.reaches(self.key_of(a), key):
                return False
        return True

    # ------------------------------------------------------------ placement rules
    def fits_pointwise(self, v: Pointwise, g: Group) -> str | None:
        space = g.kind_of_shape(v.shape)
        if space is None:
            return None
        if g.kind in ("matmul", "conv") and space != FULL:
            return None
        # A per-row value without its reduced dims broadcasts like one with them only when
        # the reduced axes lead (e.g. a full reduction to a scalar).
        leading = g.axes == tuple(range(len(g.axes)))
        for a in v.operands():
            if not g.has(a):
                continue
            inner = g.space_of[a.id]
            if space == FULL and not (
                inner in (FULL, RED_KEEP) or (inner == RED_NOKEEP and leading)
            ):
                return None
            if space not in (FULL, inner):
                return None
        if v.op == "coord" and space != FULL:
            return None
        return space if self.external_ok(v, g) else None

    def place_pointwise(self, v: Pointwise) -> None:
        arg_groups: list[Group] = []
        for a in v.operands():
            g = self.group_of.get(a.id)
            if g is not None and g not in arg_groups:
                arg_groups.append(g)
        arg_groups.sort(key=lambda g: -g.index)
        others = [g for g in reversed(self.groups) if g not in arg_groups]
        for g in arg_groups + others:
            space = self.fits_pointwise(v, g)
            if space is not None:
                self.place(v, g, space)
                return
        g = self.new_group("pointwise", v.shape)
        self.place(v, g, FULL)

    def place_reduction(self, v: Reduce | Scan) -> None:
        src = v.src
        assert src is not None
        axes = v.axes if isinstance(v, Reduce) else (v.axis,)
        if isinstance(v, Reduce) and src.rank == 0:
            raise Unsupported("a reduction of a 0-dimensional tensor")
        space = FULL
        if isinstance(v, Reduce):
            space = RED_KEEP if v.keepdim else RED_NOKEEP
            if len(axes) == src.rank and not v.keepdim:
                space = RED_NOKEEP
        g = self.group_of.get(src.id)
        if (
            g is not None
            and g.kind in ("pointwise", "row")
            and g.space == src.shape
            and g.space_of.get(src.id) == FULL
            and src.id not in g.after_scan
            and not any(isinstance(m, Pool2d) for m in g.members)
            and (g.kind == "pointwise" or g.axes == axes)
        ):
            if g.kind == "pointwise":
                g.kind, g.axes = "row", axes
            self.place(v, g, space)
            return
        if g is None or src.id in g.stored:
            # A read tensor (an input, or another kernel's output): reduce it in an existing
            # row kernel over the same rows if one can read it (logsumexp's second max).
            for other in reversed(self.groups):
                if (
                    other.kind == "row"
                    and other.space == src.shape
                    and other.axes == axes
                    and not other.has(src)
                    and self.external_ok(v, other)
                ):
                    self.place(v, other, space)
                    return
        g = self.new_group("row", src.shape, axes=axes)
        self.place(v, g, space)

    def run(self) -> Schedule:
        for v in self.graph.values:
            if isinstance(v, PyOp):
                self.steps[v.id] = v
                self.deps[v.id] = set()
                for r in v.refs:
                    self.materialize(r)
                    k = self.key_of(r)
                    if k is not None:
                        self.deps[v.id].add(k)
            elif isinstance(v, Matmul | Conv2d):
                g = self.new_group("matmul" if isinstance(v, Matmul) else "conv", v.shape, anchor=v)
                self.place(v, g, FULL)
            elif isinstance(v, Pool2d):
                g = self.new_group("pointwise", v.shape)
                self.place(v, g, FULL)
            elif isinstance(v, Reduce | Scan):
                self.place_reduction(v)
            elif isinstance(v, Pointwise):
                self.place_pointwise(v)
            elif isinstance(v, COMPUTE):
                raise Unsupported.internal(f"no schedule for {type(v).__name__}")
        for o in self.graph.outputs:
            self.materialize(o)
        return Schedule(
            graph=self.graph,
            groups=self.groups,
            steps=self._order(),
            group_of=self.group_of,
        )

    def _order(self) -> list[Step]:
        order: list[Step] = []
        state: dict[int, int] = {}

        def visit(k: int) -> None:
            if state.get(k) == 2:
                return
            if state.get(k) == 1:
                raise Unsupported.internal("the kernels depend on each other in a cycle")
            state[k] = 1
            for d in sorted(self.deps.get(k, ())):
                visit(d)
            state[k] = 2
            order.append(self.steps[k])

        for k in self.steps:
            visit(k)
        return order


def schedule(graph: Graph) -> Schedule:
    return _Scheduler(graph).run()

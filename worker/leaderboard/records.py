"""What a leaderboard is made of: a row key, one row's outcome per problem, the named metrics.

Kept apart from the code that reads runs or renders boards so that importers (run
directories, KernelBench result files) and renderers agree on one vocabulary.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agents.status import AttemptStatus, Unevaluated
from kernelbench.protocol.policy import Policy
from kernelbench.protocol.request import Precision
from kernelbench.protocol.result import Status

SCHEMA_VERSION = 1
P_VALUES: tuple[float, ...] = (0.0, 0.5, 0.8, 1.0, 1.5, 2.0)  # KernelBench's fast_p thresholds
BOOTSTRAP_MIN_N = 5  # below this a geomean gets no interval: too few points to resample
Baseline = Literal["eager", "compile"]  # what speedups are against
BASELINE_NAMES: dict[Baseline, str] = {"eager": "PyTorch eager", "compile": "torch.compile"}


class BoardFormat(StrEnum):
    """What a board can be written as; `render.RENDERERS` holds one renderer for each."""

    MD = "md"
    HTML = "html"
    JSON = "json"
    CSV = "csv"


class Missing(StrEnum):
    """What a cell shows where its row has no finished result for the problem."""

    NOT_ATTEMPTED = "not_attempted"
    UNFINISHED = "unfinished"


CellStatus = AttemptStatus | Missing
# An attempt with one of these statuses got past compilation (KernelBench's "compiled").
COMPILED_STATUSES = frozenset(s for s in Status if s not in (Status.COMPILE_ERROR, Status.ERROR))
# Most to least advanced: a problem without a correct kernel shows its furthest attempt.
STATUS_ORDER = (
    Status.CORRECT, Status.INCORRECT, Status.RUNTIME_ERROR, Status.TIMEOUT, Status.REJECTED,
    Status.NOT_RUN, Status.COMPILE_ERROR, Unevaluated.NO_CANDIDATE, Status.ERROR,
)  # fmt: skip
_LEVEL = re.compile(r"^level(\d+)/")


def p_label(p: float) -> str:
    """`fast_1`, `fast_0.5`: KernelBench's names for the thresholds."""
    return f"fast_{p:g}"


def level_of(problem_id: str) -> int | None:
    m = _LEVEL.match(problem_id)
    return int(m.group(1)) if m else None


def furthest_status(statuses: list[AttemptStatus]) -> AttemptStatus:
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return min(statuses, key=lambda s: rank[s], default=Unevaluated.NO_CANDIDATE)


class RowKey(BaseModel):
    """One leaderboard row: who solved (agent, model) for which target on which device."""

    model_config = ConfigDict(frozen=True)

    agent: str
    model: str
    gpu: str  # the target GPU the agent was told about (and timed on, for cuda rows)
    device: str  # "cuda": timed on a GPU; "cpu": the Triton interpreter, untimed
    policy: Policy = "strict"  # judged under (a board shows rows of one policy only)
    precision: Precision = "fp32"  # inputs and weights cast to it (a row of its own)

    @property
    def timed(self) -> bool:
        return self.device == "cuda"

    @property
    def label(self) -> str:
        base = f"{self.agent} / {self.model} / {self.gpu} / {self.device}"
        return base if self.precision == "fp32" else f"{base} / {self.precision}"


class Entry(BaseModel):
    """A row's outcome on one problem: the latest finished result, or why there is none."""

    problem_id: str
    status: CellStatus
    compiled: bool = False
    correct: bool = False
    speedup: float | None = None  # against the board's baseline; None where not timed
    runtime_ms: float | None = None  # the best kernel's time, where timed
    rounds: int = 0
    first_correct_round: int | None = None
    first_correct_wall_s: float | None = None
    tokens: int | None = None  # None: the agent uses no LLM (omitted, not zero)
    cost_usd: float | None = None  # None: unknown price or no LLM
    kernel: str | None = None  # the best kernel's source file
    static_occupancy_pct: float | None = None  # the best correct kernel's static profile
    spills: bool | None = None  # ... whether it spills registers (None: no profile)
    run_dir: str | None = None
    finished_at: str = ""

    @property
    def finished(self) -> bool:
        return not isinstance(self.status, Missing)


class Rate(BaseModel):
    """A share with its counts: n of N problems."""

    n: int
    N: int

    @property
    def value(self) -> float:
        return self.n / self.N if self.N else 0.0


class Geomean(BaseModel):
    """Geometric-mean speedup over n correct, timed problems; a 95% bootstrap interval
    where n >= BOOTSTRAP_MIN_N."""

    value: float
    n: int
    low: float | None = None
    high: float | None = None


class RowStats(BaseModel):
    key: RowKey
    rank: int = 0
    N: int
    compiled: Rate
    correct: Rate
    fast_p: dict[str, Rate | None]  # None for untimed rows (never 0)
    geomean: Geomean | None = None
    mean_rounds_to_first_correct: float | None = None
    mean_wall_s_to_first_correct: float | None = None
    tokens_per_solved: float | None = None
    cost_per_solved: float | None = None
    mean_static_occupancy_pct: float | None = None  # over solved problems with a profile
    spilling: Rate | None = None  # solved kernels that spill, of those with a profile
    not_attempted: int = 0
    unfinished: int = 0

"""Agent and budget configuration (pydantic), shared by the CLI, the loop and the fleet."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kernelbench.protocol.policy import Policy
from kernelbench.protocol.request import Backend, Precision

AgentKind = Literal["baseline", "llm"]
SearchKind = Literal["chain", "beam"]  # agents.search.STRATEGIES
ReasoningEffort = Literal["minimal", "low", "medium", "high"]


class Budget(BaseModel):
    """Per-job limits, checked between LLM calls (None: no limit)."""

    max_usd: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_wall_s: float | None = Field(default=None, gt=0)


class LLMSettings(BaseModel):
    """How to reach an OpenAI-compatible endpoint. The API key is never stored here."""

    provider: str = "openai"  # a name in agents.providers.chat.PROVIDERS
    model: str = "gpt-4o-mini"
    base_url: str | None = None  # None: the SDK's default (api.openai.com)
    temperature: float | None = Field(default=0.2, ge=0, le=2)  # the OpenAI API's range
    reasoning_effort: ReasoningEffort | None = None
    max_tokens: int = Field(default=16000, ge=256)
    request_timeout_s: float = Field(default=300.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    # The longest server-directed wait (Retry-After) honoured before a retry, in seconds.
    max_retry_after_s: float = Field(default=60.0, gt=0)
    structured_output: bool = True  # False: the Judge asks for JSON in text (tolerant parse)
    # The environment variable holding this endpoint's key (None: the job's own key).
    api_key_env: str | None = None


SeedKind = Literal["none", "baseline"]


class AgentConfig(BaseModel):
    """Everything that decides how one optimization job runs (stored in run.json)."""

    agent: AgentKind = "baseline"
    llm: LLMSettings = Field(default_factory=LLMSettings)
    judge_llm: LLMSettings | None = None  # the Judge's endpoint/model; None: the Coder's
    backend: Backend = "triton"
    policy: Policy = "strict"  # the judging policy every attempt is evaluated under
    precision: Precision = "fp32"  # inputs and weights cast to it (KernelBench's tolerances)
    target_gpu: str = "H100"
    arch: str = "sm_90"
    rounds: int = Field(default=10, ge=1, le=200)
    candidates_per_round: int = Field(default=1, ge=1, le=16)
    patience: int = Field(default=4, ge=1)  # stop after this many rounds without improvement
    max_repair_rounds: int = Field(default=3, ge=1)  # then go back to the best correct kernel
    eval_timeout_s: float = Field(default=300.0, gt=0)
    search: SearchKind = "chain"  # chain: one pick per round; beam: the top-k kernels
    beam_width: int = Field(default=2, ge=1, le=8)  # beam: kernels kept and expanded
    # Stop once the best kernel's measured time reaches this fraction of the roofline
    # lower bound (GPU only: it needs a measured time). None: never.
    roofline_stop: float | None = Field(default=0.9, gt=0, le=1)
    # beam: a child slower than its parent by more than this fraction is pruned.
    prune_regression: float = Field(default=0.25, ge=0)
    # baseline: before an LLM job's first round, the offline agent's kernel is judged and,
    # if correct, recorded in the kernel library, so the first prompt carries it (issue 32).
    seed: SeedKind = "none"
    budget: Budget = Field(default_factory=Budget)

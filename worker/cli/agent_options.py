"""The agent options `kwright run` and `kwright submit` share, declared once.

`@with_agent_options` adds them to a typer command and hands the command one
`AgentOptions` (parameter `agent_options`); `AgentOptions.config()` builds the
`AgentConfig`. The problem selection both commands share is in `problem_select`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, get_type_hints

import typer
from pydantic import ValidationError

from agents.config import (
    AgentConfig,
    AgentKind,
    Budget,
    LLMSettings,
    ReasoningEffort,
    SearchKind,
    SeedKind,
)
from agents.factory import default_agent
from agents.providers.chat import PROVIDERS
from kernelbench.protocol.policy import Policy
from kernelbench.protocol.request import Backend, Precision
from profiler.gpus import GPUS, UnknownArch, UnknownGpu, gpu_spec, normalize_arch


class AgentOptionError(ValueError):
    """An agent option combination that cannot work; the message says which."""


def positive(value: float | None) -> float | None:
    """Click callback: a value that must be > 0 (min= only expresses >=)."""
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be greater than 0, not {value:g}")
    return value


def known_provider(value: str) -> str:
    """Click callback: a name in the provider registry (agents.providers.chat.PROVIDERS)."""
    if value not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise typer.BadParameter(f"unknown LLM provider {value!r} (known: {known})")
    return value


@dataclass
class AgentOptions:
    agent: Annotated[
        AgentKind | None,
        typer.Option(help="Default: llm when an API key or --base-url is set, else baseline."),
    ] = None
    provider: Annotated[
        str,
        typer.Option(
            callback=known_provider,
            autocompletion=lambda: sorted(PROVIDERS),
            metavar=f"<{'|'.join(sorted(PROVIDERS))}>",
            help="Who serves the LLM; openai: any OpenAI-compatible endpoint.",
        ),
    ] = "openai"
    model: Annotated[str, typer.Option(help="Model name at the endpoint.")] = "gpt-4o-mini"
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.")] = None
    rounds: Annotated[int, typer.Option(min=1, max=200, help="Rounds per problem.")] = 10
    candidates: Annotated[
        int, typer.Option(min=1, max=16, help="Candidates per round (parallel).")
    ] = 1
    patience: Annotated[
        int, typer.Option(min=1, help="Stop after this many rounds without improvement.")
    ] = 4
    search: Annotated[
        SearchKind,
        typer.Option(help="chain: build on one pick; beam: expand the top-k kernels."),
    ] = "chain"
    beam_width: Annotated[
        int, typer.Option(min=1, max=8, help="beam: how many kernels are kept and expanded.")
    ] = 2
    seed: Annotated[
        SeedKind,
        typer.Option(help="baseline: the offline agent's judged kernel seeds the first prompt."),
    ] = "none"
    roofline_stop: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Stop at this fraction of the roofline (GPU; 0: never)."
        ),
    ] = 0.9
    judge_model: Annotated[
        str | None, typer.Option(help="The Judge's model (default: --model).")
    ] = None
    judge_base_url: Annotated[
        str | None, typer.Option(help="The Judge's endpoint URL (default: --base-url).")
    ] = None
    judge_api_key_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the Judge's API key."),
    ] = None
    backend: Annotated[Backend, typer.Option(help="Kernel language.")] = "triton"
    policy: Annotated[
        Policy,
        typer.Option(help="strict: all compute in kernels; kernelbench: torch ops may stay."),
    ] = "strict"
    precision: Annotated[
        Precision, typer.Option(help="fp32 | fp16 | bf16: inputs and weights cast to it.")
    ] = "fp32"
    gpu: Annotated[
        str, typer.Option(help=f"Target GPU for prompts and the roofline ({', '.join(GPUS)}).")
    ] = "H100"
    arch: Annotated[str, typer.Option(help="Target arch for static profiles.")] = "sm_90"
    eval_timeout: Annotated[float, typer.Option(min=1.0, help="Seconds per harness step.")] = 300.0
    temperature: Annotated[
        float | None, typer.Option(min=0.0, max=2.0, help="Sampling temperature (0 to 2).")
    ] = 0.2
    reasoning_effort: Annotated[
        ReasoningEffort | None, typer.Option(help="For reasoning models.")
    ] = None
    max_tokens: Annotated[int, typer.Option(min=256, help="Max completion tokens per call.")] = (
        16000
    )
    max_usd: Annotated[float | None, typer.Option(min=0.0, help="Budget per problem in USD.")] = (
        None
    )
    max_total_tokens: Annotated[
        int | None, typer.Option("--max-tokens-budget", min=1, help="Token budget per problem.")
    ] = None
    max_wall: Annotated[
        float | None,
        typer.Option(callback=positive, help="Wall-clock budget per problem, seconds."),
    ] = None
    request_timeout: Annotated[
        float, typer.Option(callback=positive, help="Seconds per LLM request.")
    ] = 300.0
    retries: Annotated[int, typer.Option(min=0, max=10, help="Retries per LLM request.")] = 3
    max_retry_after: Annotated[
        float,
        typer.Option(callback=positive, help="Longest server Retry-After honoured, seconds."),
    ] = 60.0
    json_in_text: Annotated[
        bool,
        typer.Option(help="Judge asks for JSON in text (endpoints without structured outputs)."),
    ] = False

    def agent_reason(self, api_key: str | None) -> str:
        """Why this agent runs, for the run's summary."""
        if self.agent is not None:
            return f"chosen with --agent {self.agent}"
        if self.base_url:
            return "the default where --base-url is set"
        if api_key:
            return "the default where an API key is set"
        return "the offline default: no OPENAI_API_KEY/KWRIGHT_API_KEY or --base-url"

    def config(
        self,
        api_key: str | None,
        *,
        require_endpoint: bool = True,
        given: set[str] | frozenset[str] = frozenset(),
    ) -> AgentConfig:
        """The AgentConfig these options ask for. `require_endpoint`: `--agent llm` needs a
        key or `--base-url` in this process (false for a fleet, whose workers hold keys).
        `given`: the options the user set (`given_options`); an LLM-only one is refused
        where the baseline agent runs, which would ignore it."""
        kind = self.agent or default_agent(api_key, self.base_url)
        if kind == "llm" and require_endpoint and not (api_key or self.base_url):
            raise AgentOptionError(
                "--agent llm needs an endpoint: set OPENAI_API_KEY/KWRIGHT_API_KEY or --base-url"
            )
        llm_only = sorted(given & LLM_ONLY)
        if kind == "baseline" and llm_only:
            why = "--agent baseline" if self.agent else "no OPENAI_API_KEY/KWRIGHT_API_KEY"
            raise AgentOptionError(
                f"{', '.join(option_flag(n) for n in llm_only)}: only the LLM agent reads "
                f"{'it' if len(llm_only) == 1 else 'them'}, and the baseline agent runs "
                f"({why}); pass --agent llm with an API key or --base-url, or leave "
                f"{'it' if len(llm_only) == 1 else 'them'} out"
            )
        try:
            gpu_spec(self.gpu)
            arch = normalize_arch(self.arch)
        except (UnknownGpu, UnknownArch) as exc:
            option = "--gpu" if isinstance(exc, UnknownGpu) else "--arch"
            raise AgentOptionError(f"{option}: {exc}") from exc
        if kind == "baseline" and self.backend == "cuda":
            raise AgentOptionError(
                "--backend cuda: the baseline agent writes Triton kernels only; use "
                "--backend triton, or --agent llm with an API key or --base-url"
            )
        if kind == "baseline" and self.precision != "fp32":
            raise AgentOptionError(
                f"--precision {self.precision}: the baseline agent writes float32 kernels "
                "only; use --precision fp32, or --agent llm with an API key or --base-url"
            )
        try:
            return self._config(kind, arch)
        except ValidationError as exc:  # a value the options' ranges let through
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise AgentOptionError(f"bad agent option ({where}): {first['msg']}") from exc

    def differences(self, given: set[str], stored: AgentConfig) -> list[str]:
        """The options in `given` (AgentOptions field names) whose value differs from what
        `stored` (a run's configuration) holds, as `--model M (the run's: N)`."""
        found = []
        for name in sorted(given & set(CONFIG_PATHS)):
            mine: Any = getattr(self, name)
            theirs: Any = stored.model_dump()
            for part in CONFIG_PATHS[name].split("."):
                theirs = theirs.get(part) if isinstance(theirs, dict) else None
            if name == "arch":
                with contextlib.suppress(UnknownArch):
                    mine = normalize_arch(mine)
            if name == "json_in_text":
                theirs = not theirs
            if name == "roofline_stop":
                theirs = theirs or 0.0
            same = str(mine).lower() == str(theirs).lower() if name == "gpu" else mine == theirs
            if not same:
                found.append(f"{option_flag(name)} {mine} (the run's: {theirs})")
        return found

    def _config(self, kind: AgentKind, arch: str) -> AgentConfig:
        llm = self._llm()
        judge_llm = None
        if self.judge_model or self.judge_base_url or self.judge_api_key_env:
            judge_llm = llm.model_copy(
                update={
                    "model": self.judge_model or llm.model,
                    "base_url": self.judge_base_url or llm.base_url,
                    "api_key_env": self.judge_api_key_env,
                }
            )
        return AgentConfig(
            agent=kind,
            llm=llm,
            judge_llm=judge_llm,
            backend=self.backend,
            policy=self.policy,
            precision=self.precision,
            target_gpu=self.gpu,
            arch=arch,
            rounds=self.rounds,
            candidates_per_round=self.candidates,
            patience=self.patience,
            search=self.search,
            seed=self.seed,
            beam_width=self.beam_width,
            roofline_stop=self.roofline_stop or None,
            eval_timeout_s=self.eval_timeout,
            budget=Budget(
                max_usd=self.max_usd, max_tokens=self.max_total_tokens, max_wall_s=self.max_wall
            ),
        )

    def _llm(self) -> LLMSettings:
        return LLMSettings(
            provider=self.provider,
            model=self.model,
            base_url=self.base_url,
            temperature=self.temperature,
            reasoning_effort=self.reasoning_effort,
            max_tokens=self.max_tokens,
            request_timeout_s=self.request_timeout,
            max_retries=self.retries,
            max_retry_after_s=self.max_retry_after,
            structured_output=not self.json_in_text,
        )


# AgentOptions field -> where AgentConfig keeps its value (json_in_text: negated).
CONFIG_PATHS = {
    "agent": "agent",
    "provider": "llm.provider",
    "model": "llm.model",
    "base_url": "llm.base_url",
    "rounds": "rounds",
    "candidates": "candidates_per_round",
    "patience": "patience",
    "search": "search",
    "seed": "seed",
    "beam_width": "beam_width",
    "roofline_stop": "roofline_stop",
    "judge_model": "judge_llm.model",
    "judge_base_url": "judge_llm.base_url",
    "judge_api_key_env": "judge_llm.api_key_env",
    "backend": "backend",
    "policy": "policy",
    "precision": "precision",
    "gpu": "target_gpu",
    "arch": "arch",
    "eval_timeout": "eval_timeout_s",
    "temperature": "llm.temperature",
    "reasoning_effort": "llm.reasoning_effort",
    "max_tokens": "llm.max_tokens",
    "max_usd": "budget.max_usd",
    "max_total_tokens": "budget.max_tokens",
    "max_wall": "budget.max_wall_s",
    "request_timeout": "llm.request_timeout_s",
    "retries": "llm.max_retries",
    "max_retry_after": "llm.max_retry_after_s",
    "json_in_text": "llm.structured_output",
}


# The options only the LLM agent reads (the baseline would silently ignore them).
LLM_ONLY = frozenset(
    {
        "provider",
        "model",
        "base_url",
        "temperature",
        "reasoning_effort",
        "max_tokens",
        "max_usd",
        "max_total_tokens",
        "request_timeout",
        "retries",
        "max_retry_after",
        "json_in_text",
        "judge_model",
        "judge_base_url",
        "judge_api_key_env",
        "seed",
    }
)


def option_flag(name: str) -> str:
    """An AgentOptions field's option as typed: `--max-tokens-budget` for max_total_tokens."""
    return "--max-tokens-budget" if name == "max_total_tokens" else "--" + name.replace("_", "-")


def given_options(ctx: typer.Context) -> set[str]:
    """The AgentOptions fields the user set (on the command line or from the environment),
    as opposed to left at their defaults."""
    found = set()
    for name in CONFIG_PATHS:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            found.add(name)
    return found


def with_agent_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add AgentOptions' fields as typer options of `command`, which receives them as
    one `agent_options: AgentOptions` argument."""
    own = inspect.signature(command)
    hints = get_type_hints(command, include_extras=True)
    option_hints = get_type_hints(AgentOptions, include_extras=True)
    names = [f.name for f in fields(AgentOptions)]
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in own.parameters.values()
        if p.name != "agent_options"
    ]
    first_kw = next(
        (i for i, p in enumerate(params) if p.name == "as_json"), len(params)
    )  # keep --json last in --help
    added = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=f.default,
            annotation=option_hints[f.name],
        )
        for f in fields(AgentOptions)
    ]
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in [*params[:first_kw], *added, *params[first_kw:]]
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        options = AgentOptions(**{n: kwargs.pop(n) for n in names})
        command(**kwargs, agent_options=options)

    wrapper.__signature__ = own.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must read the new signature, not the command's
    return wrapper

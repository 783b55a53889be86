"""Build the Coder and Judge a configuration asks for.

The Judge may run on its own endpoint and model (`AgentConfig.judge_llm`, `--judge-model`,
`--judge-base-url`); its key is read from the environment variable its settings name
(`api_key_env`, `--judge-api-key-env`), else it is the job's own key.
"""

from __future__ import annotations

import os

from agents.baseline import BaselineCoder, BaselineJudge
from agents.config import AgentConfig, AgentKind
from agents.protocols import Coder, Judge
from agents.providers.chat import make_client
from agents.usage import BudgetTracker


def default_agent(api_key: str | None, base_url: str | None) -> AgentKind:
    """`llm` when an endpoint or key is configured, else the offline `baseline`."""
    return "llm" if (api_key or base_url) else "baseline"


def role_key(env: str | None, default: str | None) -> str | None:
    """A role's API key: the variable its settings name, where set, else the job's key."""
    if env:
        value = os.environ.get(env)
        if value:
            return value
    return default


def make_agents(
    config: AgentConfig, tracker: BudgetTracker, api_key: str | None
) -> tuple[Coder, Judge]:
    """The LLM agents import the provider's SDK only when they are asked for."""
    if config.agent == "llm":
        from agents.llm.coder import LLMCoder  # noqa: PLC0415 - heavy library, imported where used
        from agents.llm.judge import LLMJudge  # noqa: PLC0415 - heavy library, imported where used

        client = make_client(config.llm, role_key(config.llm.api_key_env, api_key), tracker)
        judge_settings = config.judge_llm
        if judge_settings is None:
            return LLMCoder(client), LLMJudge(client, structured=config.llm.structured_output)
        judge_key = role_key(judge_settings.api_key_env, api_key)
        judge_client = make_client(judge_settings, judge_key, tracker)
        return LLMCoder(client), LLMJudge(judge_client, structured=judge_settings.structured_output)

    return BaselineCoder(), BaselineJudge()

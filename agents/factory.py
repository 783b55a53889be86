"""Build the Coder and Judge a configuration asks for."""

from __future__ import annotations

from agents.baseline import BaselineCoder, BaselineJudge
from agents.config import AgentConfig, AgentKind
from agents.protocols import Coder, Judge
from agents.providers.chat import make_client
from agents.usage import BudgetTracker


def default_agent(api_key: str | None, base_url: str | None) -> AgentKind:
    """`llm` when an endpoint or key is configured, else the offline `baseline`."""
    return "llm" if (api_key or base_url) else "baseline"


def make_agents(
    config: AgentConfig, tracker: BudgetTracker, api_key: str | None
) -> tuple[Coder, Judge]:
    """The LLM agents import the provider's SDK only when they are asked for."""
    if config.agent == "llm":
        from agents.llm.coder import LLMCoder  # noqa: PLC0415 - heavy library, imported where used
        from agents.llm.judge import LLMJudge  # noqa: PLC0415 - heavy library, imported where used

        client = make_client(config.llm, api_key, tracker)
        return LLMCoder(client), LLMJudge(client, structured=config.llm.structured_output)

    return BaselineCoder(), BaselineJudge()

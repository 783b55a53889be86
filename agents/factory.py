"""Build the Coder and Judge a configuration asks for."""

from __future__ import annotations

from agents.config import AgentConfig, AgentKind
from agents.protocols import Coder, Judge
from agents.usage import BudgetTracker


def default_agent(api_key: str | None, base_url: str | None) -> AgentKind:
    """`llm` when an endpoint or key is configured, else the offline `baseline`."""
    return "llm" if (api_key or base_url) else "baseline"


def make_agents(
    config: AgentConfig, tracker: BudgetTracker, api_key: str | None
) -> tuple[Coder, Judge]:
    """The LLM agents import the provider's SDK only when they are asked for."""
    if config.agent == "llm":
        from agents.chat import make_client
        from agents.coder import LLMCoder
        from agents.judge import LLMJudge

        client = make_client(config.llm, api_key, tracker)
        return LLMCoder(client), LLMJudge(client, structured=config.llm.structured_output)
    from agents.baseline import BaselineCoder, BaselineJudge

    return BaselineCoder(), BaselineJudge()

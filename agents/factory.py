"""Build the Coder and Judge a configuration asks for."""

from __future__ import annotations

from agents.coder import LLMCoder
from agents.config import AgentConfig, AgentKind
from agents.judge import LLMJudge
from agents.llm import BudgetTracker, LLMClient
from agents.protocols import Coder, Judge


def default_agent(api_key: str | None, base_url: str | None) -> AgentKind:
    """`llm` when an endpoint or key is configured, else the offline `baseline`."""
    return "llm" if (api_key or base_url) else "baseline"


def make_agents(
    config: AgentConfig, tracker: BudgetTracker, api_key: str | None
) -> tuple[Coder, Judge]:
    if config.agent == "llm":
        client = LLMClient(config.llm, api_key, tracker)
        return LLMCoder(client), LLMJudge(client, structured=config.llm.structured_output)
    from agents.baseline import BaselineCoder, BaselineJudge

    return BaselineCoder(), BaselineJudge()

"""The seam for LLM providers: a one-method `ChatClient` protocol and a registry of
providers by name, each imported (with its SDK) only when a job asks for it.

A provider is a module with a class taking `(settings, api_key, tracker)` whose `chat()`
returns a `ChatReply`, accounts usage against the tracker and raises `AgentError` (never
its SDK's exceptions). Adding one is a `PROVIDERS` entry and that module; the Coder, the
Judge and the loop do not change.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from pydantic import BaseModel, Field

from agents.config import LLMSettings
from agents.usage import BudgetTracker, Usage

# provider name -> "module:Class"; the module is imported on first use.
PROVIDERS = {"openai": "agents.providers.openai_client:LLMClient"}  # any OpenAI-compatible endpoint


class UnknownProvider(ValueError):
    """A provider name the registry does not hold."""


class ChatReply(BaseModel):
    text: str
    finish_reason: str | None = None
    reasoning: str | None = None  # reasoning_content / reasoning / thinking, where sent apart
    refusal: str | None = None  # the message's refusal field
    tool_args: list[str] = Field(default_factory=list)  # arguments of tool calls, as sent
    usage: Usage
    duration_s: float
    model: str


class ChatClient(Protocol):
    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        response_format: dict[str, Any] | None = None,
        temperature: float | None = None,  # None: the settings' temperature
    ) -> ChatReply: ...


def make_client(settings: LLMSettings, api_key: str | None, tracker: BudgetTracker) -> ChatClient:
    """The client of `settings.provider`, its SDK imported now."""
    target = PROVIDERS.get(settings.provider)
    if target is None:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProvider(f"unknown LLM provider {settings.provider!r} (known: {known})")
    module, name = target.split(":")
    cls = getattr(importlib.import_module(module), name)
    client: ChatClient = cls(settings, api_key, tracker)
    return client

"""The `openai` provider (see agents/chat.py): any OpenAI-compatible endpoint via its SDK.

Retries: the SDK's own (429, 408, 409, 5xx, timeouts and connection errors, exponential
backoff from 0.5 s to 8 s, honouring Retry-After), bounded by `LLMSettings.max_retries`.
A call that still fails raises `AgentError` with a one-line reason and a kind. Usage and
cost are accounted per call; the job's `Budget` is checked before every call, and a
request never waits longer than the wall-clock budget has left.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import openai

from agents.chat import ChatReply
from agents.config import LLMSettings
from agents.errors import AgentError, AgentErrorKind
from agents.pricing import PriceTable
from agents.usage import BudgetTracker, Usage

log = logging.getLogger(__name__)

NO_KEY = "not-needed"  # local OpenAI-compatible servers often need no key; the SDK needs one


def _error_from(exc: openai.OpenAIError, retries: int) -> AgentError:
    after = f" after {retries} retries" if retries else ""
    if isinstance(exc, openai.APITimeoutError):
        return AgentError(AgentErrorKind.TIMEOUT, f"LLM request timed out{after}")
    if isinstance(exc, openai.APIConnectionError):
        return AgentError(AgentErrorKind.CONNECTION, f"cannot reach the LLM endpoint{after}: {exc}")
    if isinstance(exc, openai.RateLimitError):
        return AgentError(
            AgentErrorKind.RATE_LIMIT, f"LLM endpoint kept rate-limiting (429){after}"
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return AgentError(
            AgentErrorKind.AUTH, f"LLM endpoint refused the API key ({exc.status_code})"
        )
    if isinstance(exc, openai.APIStatusError):
        kind = AgentErrorKind.SERVER if exc.status_code >= 500 else AgentErrorKind.BAD_REQUEST
        return AgentError(kind, f"LLM endpoint answered {exc.status_code}{after}: {str(exc)[:200]}")
    if isinstance(exc, openai.APIResponseValidationError):
        return AgentError(
            AgentErrorKind.BAD_REPLY,
            f"LLM endpoint sent a reply that is not a chat completion: {exc}",
        )
    return AgentError(AgentErrorKind.ERROR, f"LLM call failed: {exc}")


class LLMClient:
    """One endpoint + model; `chat()` returns the text and accounts usage against the budget."""

    def __init__(
        self,
        settings: LLMSettings,
        api_key: str | None,
        tracker: BudgetTracker,
        prices: PriceTable | None = None,
    ) -> None:
        self.settings = settings
        self.tracker = tracker
        self.prices = prices or PriceTable.load()
        self._client = openai.OpenAI(
            api_key=api_key or NO_KEY,
            base_url=settings.base_url,
            max_retries=settings.max_retries,
            timeout=settings.request_timeout_s,
        )
        if self.prices.price_for(settings.model) is None:
            log.warning(
                "no price known for model %r: cost is reported as unknown and a $ budget "
                "cannot be enforced (set KWRIGHT_PRICES_FILE)",
                settings.model,
            )

    def _usage(self, raw: Any) -> Usage:
        if raw is None:
            return Usage(calls=1, cost_usd=None)
        details = getattr(raw, "completion_tokens_details", None)
        prompt_details = getattr(raw, "prompt_tokens_details", None)
        usage = Usage(
            calls=1,
            prompt_tokens=int(getattr(raw, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(raw, "completion_tokens", 0) or 0),
            reasoning_tokens=int(getattr(details, "reasoning_tokens", 0) or 0),
            cached_tokens=int(getattr(prompt_details, "cached_tokens", 0) or 0),
        )
        usage.cost_usd = self.prices.cost(
            self.settings.model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
        )
        return usage

    def chat(
        self, messages: list[dict[str, str]], *, response_format: dict[str, Any] | None = None
    ) -> ChatReply:
        self.tracker.check()
        s = self.settings
        timeout = s.request_timeout_s
        remaining = self.tracker.remaining_wall_s()
        if remaining is not None:
            timeout = max(1.0, min(timeout, remaining))
        kwargs: dict[str, Any] = {
            "model": s.model,
            "messages": messages,
            "max_completion_tokens": s.max_tokens,
        }
        if s.temperature is not None and s.reasoning_effort is None:
            kwargs["temperature"] = s.temperature
        if s.reasoning_effort is not None:
            kwargs["reasoning_effort"] = s.reasoning_effort
        if response_format is not None:
            kwargs["response_format"] = response_format
        started = time.perf_counter()
        try:
            response = self._client.with_options(timeout=timeout).chat.completions.create(**kwargs)
        except openai.OpenAIError as exc:
            raise _error_from(exc, s.max_retries) from exc
        except ValueError as exc:  # a 200 whose body is not JSON escapes the SDK as JSONDecodeError
            raise AgentError(
                AgentErrorKind.BAD_REPLY, f"LLM endpoint sent a body that is not JSON: {exc}"
            ) from exc
        duration = time.perf_counter() - started
        if not isinstance(response, openai.types.chat.ChatCompletion) or not response.choices:
            raise AgentError(AgentErrorKind.BAD_REPLY, "LLM endpoint sent a reply with no choices")
        usage = self._usage(response.usage)
        self.tracker.add(usage)
        choice = response.choices[0]
        content = getattr(getattr(choice, "message", None), "content", None)
        text = content if isinstance(content, str) else ""
        log.info(
            "LLM %s: %d+%d tokens in %.1f s (%s)",
            s.model,
            usage.prompt_tokens,
            usage.completion_tokens,
            duration,
            choice.finish_reason,
        )
        return ChatReply(
            text=text,
            finish_reason=choice.finish_reason,
            usage=usage,
            duration_s=duration,
            model=response.model or s.model,
        )

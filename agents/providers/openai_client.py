"""The `openai` provider (see agents/providers/chat.py): any OpenAI-compatible endpoint via its SDK.

Retries are done here, not by the SDK (its `max_retries` is 0): 429, 408, 409, 5xx,
timeouts and connection errors are retried up to `LLMSettings.max_retries` times with
exponential backoff from 0.5 s to 8 s, or after the server's `Retry-After`
(`retry-after-ms`) honoured up to `LLMSettings.max_retry_after_s` (`--max-retry-after`,
default 60 s) and never past the job's
wall-clock budget: a wait that would outlast it ends the retries at once. A call that
still fails raises `AgentError` with a one-line reason and a kind. Usage and cost are
accounted per call; the job's `Budget` is checked before every call, and a request never
waits longer than the wall-clock budget has left.

The reply keeps what models send besides `content`: `reasoning_content` (DeepSeek, vLLM;
`reasoning` on OpenRouter/Ollama, `thinking` on older Ollama), `refusal`, and the
arguments of tool calls, so the Coder can find a kernel wherever it was put.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from typing import Any

import openai

from agents.config import LLMSettings
from agents.errors import AgentError, AgentErrorKind
from agents.pricing import PriceTable
from agents.providers.chat import ChatReply
from agents.usage import BudgetTracker, Usage

log = logging.getLogger(__name__)

NO_KEY = "not-needed"  # local OpenAI-compatible servers often need no key; the SDK needs one
INITIAL_BACKOFF_S, MAX_BACKOFF_S = 0.5, 8.0
_RETRY_STATUSES = {408, 409, 429}
_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


def retryable(exc: openai.OpenAIError) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUSES or exc.status_code >= 500
    return False


def retry_after_s(exc: openai.OpenAIError) -> float | None:
    """The server's Retry-After (or retry-after-ms) in seconds, where it sent one."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            delay = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            delay = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(delay):
            return max(0.0, delay)
        return math.inf
    return None


def _text_of(value: Any) -> str | None:
    """A message field as text: a string, or content parts joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text") if isinstance(p, dict) else getattr(p, "text", None) for p in value]
        return "".join(p for p in parts if isinstance(p, str)) or None
    return None


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
            max_retries=0,  # retried in chat(): Retry-After capped, never past the budget
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
        self,
        messages: list[dict[str, str]],
        *,
        response_format: dict[str, Any] | None = None,
        temperature: float | None = None,
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
        temperature = temperature if temperature is not None else s.temperature
        if temperature is not None and s.reasoning_effort is None:
            kwargs["temperature"] = temperature
        if s.reasoning_effort is not None:
            kwargs["reasoning_effort"] = s.reasoning_effort
        if response_format is not None:
            kwargs["response_format"] = response_format
        started = time.perf_counter()
        response = self._create(kwargs, timeout)
        duration = time.perf_counter() - started
        if not isinstance(response, openai.types.chat.ChatCompletion) or not response.choices:
            raise AgentError(AgentErrorKind.BAD_REPLY, "LLM endpoint sent a reply with no choices")
        usage = self._usage(response.usage)
        self.tracker.add(usage)
        choice = response.choices[0]
        message = getattr(choice, "message", None)
        text = _text_of(getattr(message, "content", None)) or ""
        extra = getattr(message, "model_extra", None) or {}
        reasoning = next(
            (t for f in _REASONING_FIELDS if (t := _text_of(extra.get(f))) and t.strip()), None
        )
        refusal = _text_of(getattr(message, "refusal", None))
        tool_args: list[str] = []
        for call in getattr(message, "tool_calls", None) or []:
            fn = getattr(call, "function", None)
            args = getattr(fn, "arguments", None)
            if isinstance(args, dict | list):  # some local servers send an object
                args = json.dumps(args)
            if isinstance(args, str) and args.strip():
                tool_args.append(args)
        legacy = getattr(message, "function_call", None)
        if isinstance(getattr(legacy, "arguments", None), str):
            tool_args.append(legacy.arguments)  # type: ignore[union-attr]
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
            reasoning=reasoning,
            refusal=refusal if refusal and refusal.strip() else None,
            tool_args=tool_args,
            usage=usage,
            duration_s=duration,
            model=response.model or s.model,
        )

    def _create(self, kwargs: dict[str, Any], timeout: float) -> Any:
        """One completion, retried on transient failures (see the module docstring)."""
        retries = self.settings.max_retries
        attempt = 0
        while True:
            try:
                return self._client.with_options(timeout=timeout).chat.completions.create(**kwargs)
            except openai.OpenAIError as exc:
                if not retryable(exc) or attempt >= retries:
                    raise _error_from(exc, attempt) from exc
                after = retry_after_s(exc)
                if after is not None and after > 0:
                    wait = min(after, self.settings.max_retry_after_s)
                else:
                    wait = min(INITIAL_BACKOFF_S * 2.0**attempt, MAX_BACKOFF_S)
                    wait *= 1 - 0.25 * random.random()
                remaining = self.tracker.remaining_wall_s()
                if remaining is not None and wait >= remaining:
                    log.warning(
                        "LLM endpoint asks to wait %.1f s; the job has %.1f s left: giving up",
                        wait,
                        remaining,
                    )
                    raise _error_from(exc, attempt) from exc
                log.info("LLM call failed (%s); retry %d in %.1f s", exc, attempt + 1, wait)
                time.sleep(wait)
                attempt += 1
                if remaining is not None:
                    left = self.tracker.remaining_wall_s()
                    if left is not None:
                        timeout = max(1.0, min(timeout, left))
            except ValueError as exc:  # a 200 whose body is not JSON escapes the SDK
                raise AgentError(
                    AgentErrorKind.BAD_REPLY, f"LLM endpoint sent a body that is not JSON: {exc}"
                ) from exc

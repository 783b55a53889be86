"""The LLM Coder: renders the round's prompt, asks the model, extracts the candidate."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agents.llm.extract import extract_candidate
from agents.prompts import as_markdown, coder_messages
from agents.protocols import CoderContext, Proposal

if TYPE_CHECKING:
    from agents.providers.chat import ChatClient, ChatReply

log = logging.getLogger(__name__)


def reply_markdown(reply: ChatReply) -> str:
    """The whole reply as reply.md holds it: the content, then what came beside it."""
    parts = [reply.text]
    if reply.refusal:
        parts.append(f"<!-- refusal -->\n{reply.refusal}")
    for args in reply.tool_args:
        parts.append(f"<!-- tool call arguments -->\n{args}")
    if reply.reasoning:
        parts.append(f"<!-- reasoning_content -->\n{reply.reasoning}")
    if reply.finish_reason not in (None, "stop"):
        parts.append(f"<!-- finish_reason: {reply.finish_reason} -->")
    return "\n\n".join(p for p in parts if p)


class LLMCoder:
    name = "llm"

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def propose(self, ctx: CoderContext) -> Proposal:
        messages = coder_messages(ctx)
        prompt = as_markdown(messages)
        # AgentError/BudgetExceeded end the round upstream; a search spreads temperatures
        if ctx.temperature is None:
            reply = self.client.chat(messages)
        else:
            reply = self.client.chat(messages, temperature=ctx.temperature)
        extraction = extract_candidate(
            reply.text,
            reply.finish_reason,
            backend=ctx.config.backend,
            reasoning=reply.reasoning,
            refusal=reply.refusal,
            tool_args=reply.tool_args,
            allow_torch_ops=ctx.config.policy == "kernelbench",
        )
        if extraction.failure:
            log.info("round %d: no candidate: %s", ctx.round, extraction.failure)
        elif extraction.note:
            log.info("round %d: %s", ctx.round, extraction.note)
        notes: dict[str, object] = {
            "finish_reason": reply.finish_reason,
            "prompt_chars": len(prompt),
        }
        notes.update(extraction.as_notes())
        if reply.refusal:
            notes["refusal"] = reply.refusal
        return Proposal(
            source=extraction.source,
            failure=extraction.failure,
            prompt=prompt,
            reply=reply_markdown(reply),
            usage=reply.usage,
            notes=notes,
        )

"""The LLM Coder: renders the round's prompt, asks the model, extracts the candidate."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agents.extract import extract_candidate
from agents.prompts import as_markdown, coder_messages
from agents.protocols import CoderContext, Proposal

if TYPE_CHECKING:
    from agents.chat import ChatClient

log = logging.getLogger(__name__)


class LLMCoder:
    name = "llm"

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def propose(self, ctx: CoderContext) -> Proposal:
        messages = coder_messages(ctx)
        prompt = as_markdown(messages)
        reply = self.client.chat(messages)  # AgentError/BudgetExceeded end the round upstream
        extraction = extract_candidate(reply.text, reply.finish_reason)
        if extraction.failure:
            log.info("round %d: no candidate: %s", ctx.round, extraction.failure)
        return Proposal(
            source=extraction.source,
            failure=extraction.failure,
            prompt=prompt,
            reply=reply.text,
            usage=reply.usage,
            notes={"finish_reason": reply.finish_reason, "prompt_chars": len(prompt)},
        )

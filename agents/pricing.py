"""What LLM calls cost: a price table in USD per million tokens, configurable.

The defaults are public list prices (USD per 1M tokens, standard tier) and go stale; set
`KWRIGHT_PRICES_FILE` to a JSON file `{"model": {"input": .., "output": ..}}` to override
or extend them. An unknown model has an unknown cost (None), never 0.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from sandbox.settings import host_settings

log = logging.getLogger(__name__)


class ModelPrice(BaseModel):
    input: float = Field(ge=0)  # USD per 1M prompt tokens
    output: float = Field(ge=0)  # USD per 1M completion tokens (reasoning tokens included)
    cached_input: float | None = Field(default=None, ge=0)


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "o3": ModelPrice(input=2.0, output=8.0, cached_input=0.5),
    "o4-mini": ModelPrice(input=1.1, output=4.4, cached_input=0.275),
    "gpt-4.1": ModelPrice(input=2.0, output=8.0, cached_input=0.5),
    "gpt-4.1-mini": ModelPrice(input=0.4, output=1.6, cached_input=0.1),
    "gpt-4o": ModelPrice(input=2.5, output=10.0, cached_input=1.25),
    "gpt-4o-mini": ModelPrice(input=0.15, output=0.6, cached_input=0.075),
    "gpt-5": ModelPrice(input=1.25, output=10.0, cached_input=0.125),
    "gpt-5-mini": ModelPrice(input=0.25, output=2.0, cached_input=0.025),
}


class PriceTable(BaseModel):
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        table = cls()
        source = path or host_settings().prices_file
        if source is None:
            return table
        try:
            extra = json.loads(source.read_text(encoding="utf-8"))
            table.prices.update({k: ModelPrice.model_validate(v) for k, v in extra.items()})
        except (OSError, ValueError, ValidationError) as exc:
            raise ValueError(f"{source}: not a price table ({exc})") from exc
        return table

    def price_for(self, model: str) -> ModelPrice | None:
        if model in self.prices:
            return self.prices[model]
        # "openai/gpt-4o-2024-08-06" -> "gpt-4o": strip a provider prefix and a date suffix
        name = model.rsplit("/", 1)[-1]
        for known in sorted(self.prices, key=len, reverse=True):
            if name == known or name.startswith(known + "-2"):
                return self.prices[known]
        return None

    def cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> float | None:
        price = self.price_for(model)
        if price is None:
            return None
        cached_rate = price.cached_input if price.cached_input is not None else price.input
        fresh = max(0, prompt_tokens - cached_tokens)
        return (
            fresh * price.input + cached_tokens * cached_rate + completion_tokens * price.output
        ) / 1e6

"""What a model call costs, from a dated data file of published prices.

A model missing from the file has an unknown cost (None), never zero: a dollar budget
cannot be enforced for it, so the caller refuses to start instead of spending blind.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crashfix.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

MILLION = 1_000_000


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)
    output: float = Field(ge=0)


class PriceList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checked: str
    models: dict[str, ModelPrice]

    def price(self, model: str) -> ModelPrice | None:
        """The price of `model` in any spelling of a listed model's id: exact, a dated snapshot
        (`claude-sonnet-5-5-20261015`), an alias (`-latest`), a cloud provider's id
        (`anthropic.claude-sonnet-5-5-20261015-v1:0`, `claude-sonnet-5-5@20261015`), any letter case."""
        if model in self.models:
            return self.models[model]
        base = model_family(model)
        return next((price for name, price in self.models.items() if model_family(name) == base), None)


_PROVIDER = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic[./]")  # Bedrock's (regional) and gateways' prefixes
_SUFFIX = re.compile(r"(?:@\d{8}|-v\d+(?::\d+)?|-latest|-\d{8})$")


def model_family(model: str) -> str:
    """A model id without provider prefix, snapshot date, version or alias suffix: what its price is listed under."""
    name = _PROVIDER.sub("", model.strip().lower())
    while True:
        shorter = _SUFFIX.sub("", name)
        if shorter == name:
            return name
        name = shorter


@dataclass(frozen=True)
class Usage:
    """Token counts of one call, as the API reports them (input excludes cached tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cache_write_tokens + other.cache_write_tokens,
                     self.cache_read_tokens + other.cache_read_tokens)

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read: uncached, written to and read from the cache."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


def cost(usage: Usage, price: ModelPrice | None) -> float | None:
    if price is None:
        return None
    return (usage.input_tokens * price.input + usage.cache_write_tokens * price.cache_write
            + usage.cache_read_tokens * price.cache_read + usage.output_tokens * price.output) / MILLION


def worst_case_cost(prompt_tokens: int, max_output_tokens: int, price: ModelPrice) -> float:
    """The most a call can cost: every prompt token at the dearer of input and cache write, full output."""
    return (prompt_tokens * max(price.input, price.cache_write) + max_output_tokens * price.output) / MILLION


def load_prices(path: Path | None = None) -> PriceList:
    """The bundled price list, or `path` (a project may pin its own negotiated prices)."""
    try:
        if path is None:
            text = resources.files("crashfix").joinpath("data/model_prices.toml").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return PriceList.model_validate(tomllib.loads(text))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as error:
        where = path or "the bundled model_prices.toml"
        raise ConfigError(f"cannot read model prices from {where}: {error}".splitlines()[0]) from None

"""Limits on one fix run that fail closed: a model call starts only if it cannot cross any of them.

Before each call the caller gives an upper bound on the prompt's tokens; the budget
answers with the `max_tokens` and the timeout the call may use, shrinking them to what
is left, or raises `BudgetExhausted` naming the limit. Dollars are priced from the
dated price list; a model without a price cannot run under a dollar limit at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from crashfix.config import BudgetSettings
from crashfix.errors import ConfigError, CrashfixError
from crashfix.fixer.agent.pricing import MILLION, ModelPrice, Usage, cost, worst_case_cost

MIN_OUTPUT_TOKENS = 1024
MIN_CALL_SECONDS = 20.0


class BudgetExhausted(CrashfixError):
    """A limit would be crossed by the next step; `limit` names which (turns, tokens, dollars, time)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message, "raise [fix.budget] limits in .github/crashfix.toml, or label `reanalyze`")
        self.limit = limit


@dataclass(frozen=True)
class CallPlan:
    max_tokens: int
    timeout: float
    thinking_tokens: int


@dataclass
class Budget:
    settings: BudgetSettings
    model: str
    price: ModelPrice | None
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    reserved_usd: float = 0.0  # calls whose usage is unknown (broken streams), charged at their worst case

    def __post_init__(self) -> None:
        self.started = self.started or self.clock()
        if self.settings.max_cost_usd > 0 and self.price is None:
            raise ConfigError(f"no price is known for the model {self.model!r}, so the dollar budget cannot be "
                              "enforced", "use a model from crashfix/data/model_prices.toml, or set "
                              "[fix.budget] max_cost_usd = 0 to run without a dollar limit")

    @property
    def spent_usd(self) -> float | None:
        """Dollars so far; None when the model's price is unknown (never a made-up zero)."""
        priced = cost(self.usage, self.price)
        return None if priced is None else priced + self.reserved_usd

    @property
    def deadline(self) -> float:
        return self.started + self.settings.max_wall_seconds

    def seconds_left(self) -> float:
        return self.deadline - self.clock()

    def plan(self, prompt_tokens_bound: int) -> CallPlan:
        """What the next call may use, or BudgetExhausted if no useful call fits."""
        limits = self.settings
        if self.turns >= limits.max_turns:
            raise BudgetExhausted("turns", f"the turn budget is spent ({self.turns} of {limits.max_turns} calls)")
        room = limits.max_output_tokens - self.usage.output_tokens
        max_tokens = min(limits.response_max_tokens, room)
        if max_tokens < MIN_OUTPUT_TOKENS:
            raise BudgetExhausted("tokens", f"the output-token budget is spent ({self.usage.output_tokens} of "
                                            f"{limits.max_output_tokens})")
        if limits.max_cost_usd > 0 and self.price is not None:
            max_tokens = self._fit_dollars(prompt_tokens_bound, max_tokens)
        seconds = self.seconds_left()
        if seconds < MIN_CALL_SECONDS:
            raise BudgetExhausted("time", f"the wall-clock budget is spent ({limits.max_wall_seconds:.0f} s)")
        thinking = limits.thinking_tokens
        if thinking and max_tokens - thinking < MIN_OUTPUT_TOKENS:
            thinking = max(0, max_tokens - MIN_OUTPUT_TOKENS)
            thinking = thinking if thinking >= 1024 else 0  # the API's minimum thinking budget
        return CallPlan(max_tokens=max_tokens, timeout=seconds, thinking_tokens=thinking)

    def _fit_dollars(self, prompt_tokens: int, max_tokens: int) -> int:
        assert self.price is not None
        left = self.settings.max_cost_usd - (self.spent_usd or 0.0)
        if worst_case_cost(prompt_tokens, max_tokens, self.price) <= left:
            return max_tokens
        prompt_cost = worst_case_cost(prompt_tokens, 0, self.price)
        affordable = int((left - prompt_cost) * MILLION / self.price.output) if self.price.output else max_tokens
        if affordable < MIN_OUTPUT_TOKENS:
            spent = self.spent_usd or 0.0
            raise BudgetExhausted("dollars", f"the next call could cost more than the ${left:.2f} left of the "
                                             f"${self.settings.max_cost_usd:.2f} budget (spent ${spent:.2f})")
        return min(max_tokens, affordable)

    def record(self, usage: Usage) -> None:
        self.turns += 1
        self.usage = self.usage + usage

    def record_unknown(self, prompt_tokens: int, max_tokens: int) -> None:
        """A call that failed after it may have been billed: count it at its worst case (fail closed)."""
        self.turns += 1
        if self.price is not None:  # the prompt at its dearest; the output is counted as tokens below
            self.reserved_usd += worst_case_cost(prompt_tokens, 0, self.price)
        self.usage = self.usage + Usage(output_tokens=max_tokens)

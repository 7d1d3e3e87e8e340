"""Budgets fail closed: no call is planned that could cross turns, tokens, dollars or time."""

from __future__ import annotations

import pytest

from crashfix.config import BudgetSettings
from crashfix.errors import ConfigError
from crashfix.fixer.agent.budget import Budget, BudgetExhausted
from crashfix.fixer.agent.pricing import Usage, cost, load_prices, worst_case_cost

PRICES = load_prices()
SONNET = PRICES.price("claude-sonnet-5-5")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budget(clock: Clock | None = None, **limits: float) -> Budget:
    settings = BudgetSettings.model_validate({"max_cost_usd": 0, **limits})
    return Budget(settings, "claude-sonnet-5-5", SONNET, clock=clock or Clock())


def test_prices_are_dated_and_match_the_published_sonnet_price() -> None:
    assert PRICES.checked.startswith("2026-")
    assert SONNET is not None and (SONNET.input, SONNET.output) == (2.0, 10.0)
    assert PRICES.price("claude-sonnet-5-5-20261015") == SONNET  # a dated snapshot of a listed model
    assert PRICES.price("gpt-unknown") is None
    use = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_write_tokens=0, cache_read_tokens=1_000_000)
    assert cost(use, SONNET) == pytest.approx(2.0 + 1.0 + 0.2)
    assert cost(use, None) is None


def test_turn_limit() -> None:
    spent = budget(max_turns=2)
    spent.record(Usage(10, 10))
    spent.plan(100)
    spent.record(Usage(10, 10))
    with pytest.raises(BudgetExhausted) as error:
        spent.plan(100)
    assert error.value.limit == "turns"


def test_output_tokens_shrink_then_stop() -> None:
    spent = budget(max_output_tokens=5000, response_max_tokens=4000)
    assert spent.plan(100).max_tokens == 4000
    spent.record(Usage(10, 3000))
    assert spent.plan(100).max_tokens == 2000
    spent.record(Usage(10, 1500))
    with pytest.raises(BudgetExhausted, match="output-token budget"):
        spent.plan(100)


def test_dollars_fail_closed_on_the_worst_case() -> None:
    assert SONNET is not None
    spent = budget(max_cost_usd=0.10, response_max_tokens=8000)
    # 8000 output tokens (0.08) + 10,000 prompt tokens at the cache-write price (0.025) would cross 0.10
    plan = spent.plan(10_000)
    assert worst_case_cost(10_000, plan.max_tokens, SONNET) <= 0.10
    assert plan.max_tokens < 8000
    spent.record(Usage(input_tokens=20_000, output_tokens=4000))  # 0.04 + 0.04
    with pytest.raises(BudgetExhausted) as error:
        spent.plan(10_000)
    assert error.value.limit == "dollars"


def test_unknown_price_refuses_a_dollar_budget_and_reports_unknown_cost() -> None:
    with pytest.raises(ConfigError, match="no price is known"):
        Budget(BudgetSettings(max_cost_usd=1.0), "mystery-model", None, clock=Clock())
    free = Budget(BudgetSettings(max_cost_usd=0), "mystery-model", None, clock=Clock())
    free.record(Usage(100, 100))
    assert free.spent_usd is None


def test_wall_clock_bounds_the_call_timeout() -> None:
    clock = Clock()
    spent = budget(clock, max_wall_seconds=300)
    assert spent.plan(100).timeout == pytest.approx(300)
    clock.now += 250
    assert spent.plan(100).timeout == pytest.approx(50)
    clock.now += 40
    with pytest.raises(BudgetExhausted, match="wall-clock"):
        spent.plan(100)


def test_a_broken_call_is_charged_at_its_worst_case() -> None:
    spent = budget(max_cost_usd=1.0)
    spent.record_unknown(10_000, 4000)
    assert spent.turns == 1 and spent.spent_usd == pytest.approx(0.025 + 0.04)


def test_thinking_budget_never_eats_the_whole_answer() -> None:
    spent = budget(max_output_tokens=3000, response_max_tokens=3000, thinking_tokens=2500)
    plan = spent.plan(100)
    assert plan.max_tokens == 3000 and plan.thinking_tokens <= plan.max_tokens - 1024

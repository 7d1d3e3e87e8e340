"""A model call ends by the wall-clock budget, and an answer lost after its 200 is charged, not retried blind.

The SDK's `timeout` bounds each read, not the whole answer: a stream that keeps trickling
would run past the budget. And a connection that drops mid-answer may already be billed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.config import BudgetSettings
from crashfix.fixer.agent.budget import Budget, BudgetExhausted
from crashfix.fixer.agent.claude import ClaudeClient, ModelRequest, ModelStreamBroken
from crashfix.fixer.agent.pricing import load_prices
from crashfix.fixer.agent.session import FixSession
from crashfix.fixer.checkout.workspace import Workspace
from tests.fakes.anthropic_server import FakeAnthropic, Turn, text, tool_use

KEY = "sk-ant-test-deadline-0000000000"
MODEL = "claude-sonnet-5-5"


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=KEY) as server:
        yield server


def request() -> ModelRequest:
    return ModelRequest(model=MODEL, system="s", tools=[], messages=[{"role": "user", "content": "hi"}],
                        max_tokens=2000)


def test_a_trickling_answer_is_cut_at_the_deadline(fake: FakeAnthropic) -> None:
    fake.stream_interval = 0.3  # every event arrives well within the per-read timeout
    fake.enqueue(Turn([text("word " * 40)]))
    client = ClaudeClient(KEY, fake.url)
    started = time.monotonic()
    with pytest.raises(ModelStreamBroken, match="wall-clock budget ran out"):
        client.call(request(), timeout=1.5)
    assert time.monotonic() - started < 2.5  # the whole stream would take several seconds
    client.close()


def test_a_connection_dropped_mid_answer_is_not_retried_by_the_client(fake: FakeAnthropic) -> None:
    fake.break_stream_next(after_events=3, drop=True)
    client = ClaudeClient(KEY, fake.url, retries=4, sleep=lambda seconds: None)
    with pytest.raises(ModelStreamBroken, match="broke off after it had started"):
        client.call(request(), timeout=30)
    assert len(fake.message_requests()) == 1  # one request: each retry could be billed
    client.close()


def test_the_session_charges_a_dropped_answer_and_plans_the_next_call_within_budget(fake: FakeAnthropic,
                                                                                   tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.cpp").write_text("int a;\n")
    fake.break_stream_next(after_events=3, drop=True, count=5)
    fake.enqueue(Turn([tool_use("finish", {"status": "cannot_fix"})]))
    client = ClaudeClient(KEY, fake.url, retries=4, sleep=lambda seconds: None)
    settings = BudgetSettings.model_validate({"max_cost_usd": 0.40, "max_turns": 40})
    budget = Budget(settings, MODEL, load_prices().price(MODEL))
    session = FixSession(client, Workspace(tmp_path), budget, MODEL)
    with pytest.raises((ModelStreamBroken, BudgetExhausted)):
        session.propose("Fix it.")
    requests = len(fake.message_requests())
    assert budget.turns == requests  # every request sent was charged
    assert budget.spent_usd is not None and budget.spent_usd <= settings.max_cost_usd
    client.close()

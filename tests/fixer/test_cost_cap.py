"""A cost cap per issue across `reanalyze` retries: `max_cost_per_issue_usd`, summed from the sticky
comment's hidden record. Past it: one comment (the sticky one, updated) and no model call; below it,
what is left bounds the next run's own budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.config import BudgetSettings
from crashfix.fixer.cost_cap import cap_reason, remaining_budget, spent
from crashfix.issues.progress import PROGRESS_MARKER, read_state, state_block
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import TOKEN, file_crash, fix_environment, game_repository, git, run_cli
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK, event

pytestmark = pytest.mark.tools


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        fake.set_permission("maintainer", "maintain")
        yield fake
        assert not fake.server_errors, fake.server_errors[0]



def stickies(github: FakeGitHub, number: int) -> list[str]:
    return [c["body"] for c in github.comments[number] if PROGRESS_MARKER in c["body"]]


def set_cap(checkout: Path, dollars: float) -> None:
    config = checkout / ".github" / "crashfix.toml"
    config.write_text(config.read_text().replace("[fix.budget]\n", f"[fix.budget]\nmax_cost_per_issue_usd = {dollars}\n"))
    git(checkout, "-c", "user.name=dev", "-c", "user.email=d@e", "commit", "-qam", f"cap {dollars}")


def test_the_cap_holds_across_reanalyze_runs(github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path,
                                             crash_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, checkout = game_repository(tmp_path)
    number = file_crash(github, tmp_path, crash_text)
    anthropic.enqueue(Turn([tool_use("finish", {**FIXED, "status": "cannot_fix", "confidence": "low"})]))
    first = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], first) == 0
    [body] = stickies(github, number)
    state = read_state(body)
    assert state is not None and isinstance(state["total_cost_usd"], float) and state["total_cost_usd"] > 0
    spent_so_far = state["total_cost_usd"]

    set_cap(checkout, spent_so_far)  # the cap is now exactly what the first attempt spent
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))  # never asked for
    again = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "labeled", "maintainer", "reanalyze"))
    for _ in range(2):  # a second reanalyze past the cap: still one comment, still no model call
        github.label_issue(number, "reanalyze", "maintainer")
        assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], again) == 0
    assert len(anthropic.message_requests()) == 1 and github.pulls == {}
    [body] = stickies(github, number)
    assert "the cost cap for this issue is reached" in body and "no model call was made" in body
    assert "max_cost_per_issue_usd" in body
    labels = {label["name"] for label in github.issues[number]["labels"]}
    assert "crashfix:needs-human" in labels and "reanalyze" not in labels
    final = read_state(body)
    assert final is not None and final["attempts"] == 3 and final["total_cost_usd"] == pytest.approx(spent_so_far)


def test_what_is_left_of_the_cap_bounds_the_next_run(github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path,
                                                     crash_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, checkout = game_repository(tmp_path)
    number = file_crash(github, tmp_path, crash_text)
    earlier = {"status": "needs-human", "attempts": 4, "total_cost_usd": 4.995, "cost_usd": 1.2}
    github.seed_comment(number, f"{PROGRESS_MARKER}\n### earlier\n{state_block(earlier)}", user="crashfix-bot")
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    env = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], env) == 0
    assert anthropic.message_requests() == []  # the first call could cost more than the $0.005 left
    [body] = stickies(github, number)
    assert "could cost more than the $0.01 left" in body or "could cost more than the $0.00 left" in body
    state = read_state(body)
    assert state is not None and state["attempts"] == 5 and state["total_cost_usd"] == pytest.approx(4.995)


def test_the_record_is_read_defensively() -> None:
    budget = BudgetSettings(max_cost_per_issue_usd=5.0)
    assert spent(None) == (0.0, 0)
    assert spent({"total_cost_usd": "7", "attempts": True}) == (0.0, 1)  # not numbers: counted as nothing
    assert spent({"cost_usd": 2.5, "attempts": 2}) == (2.5, 2)  # a record from before the totals were kept
    assert spent({"total_cost_usd": -3.0}) == (0.0, 1)
    assert cap_reason({"total_cost_usd": 4.99}, budget) is None
    assert "$5.01 spent over 3 attempt(s)" in (cap_reason({"total_cost_usd": 5.01, "attempts": 3}, budget) or "")
    assert remaining_budget({"total_cost_usd": 4.0}, budget) == pytest.approx(1.0)
    assert remaining_budget({"total_cost_usd": 9.0}, budget) == 0.0
    off = BudgetSettings(max_cost_per_issue_usd=0)
    assert cap_reason({"total_cost_usd": 1e9}, off) is None and remaining_budget(None, off) is None
    assert BudgetSettings().max_cost_per_issue_usd == 5.0  # the default the issue asks for

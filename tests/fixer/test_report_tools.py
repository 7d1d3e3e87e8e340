"""The tool servers' part of the PR body and of the sticky comment's hidden record (crashfix/fixer/report_tools.py)."""

from __future__ import annotations

from crashfix.fixer.models import FixOutcome, FixProposal, ToolServerCall, ToolServerUse
from crashfix.fixer.report import pr_body, render_state
from crashfix.issues.progress import read_state

PROPOSAL = FixProposal(status="fixed", root_cause="null target", explanation="frame 0", confidence="high",
                       risk="low", guard_only=False)


def outcome(use: ToolServerUse | None) -> FixOutcome:
    return FixOutcome(status="fix-proposed", issue_number=7, signature="abc123", proposal=PROPOSAL, tool_servers=use)


def test_calls_are_listed_with_their_time_and_a_failing_servers_words_cannot_act() -> None:
    calls = [ToolServerCall(server="serena", tool="find_symbol", seconds=0.25, status="ok", result_chars=1234),
             ToolServerCall(server="serena", tool="read_memory", seconds=1.5, status="ok", result_chars=90_000,
                            trimmed=True),
             ToolServerCall(server="kb", tool="lookup", seconds=30.0, status="timeout")]
    calls += [ToolServerCall(server="kb", tool="lookup`|x", seconds=0.01, status="error") for _ in range(147)]
    use = ToolServerUse(servers={"serena": "3 tool(s) offered",
                                 "windbg": "did not start: cdb said @octocat fixes #12 <!-- hidden -->"},
                        calls=calls)
    body = pr_body(outcome(use))
    assert "<summary>Tool servers: 150 call(s), 33.2 s</summary>" in body
    assert "| 1 | `serena__find_symbol` | 0.25 s | ok, 1,234 chars |" in body
    assert "| 2 | `serena__read_memory` | 1.50 s | ok, 90,000 chars (cut) |" in body
    assert "| 3 | `kb__lookup` | 30.00 s | timed out |" in body
    assert "| 4 | `kb__lookup__x` | 0.01 s | error result |" in body  # no backtick or pipe breaks the table
    assert "_90 more call(s) not listed._" in body
    assert "`@octocat`" in body and "`fixes #12`" in body and "hidden" not in body  # inert, still readable
    state = read_state(render_state(outcome(use)))
    assert state is not None
    assert state["tool_servers"] == {"serena": {"calls": 2, "errors": 0, "seconds": 1.75},
                                     "windbg": {"calls": 0, "errors": 0, "seconds": 0.0},
                                     "kb": {"calls": 148, "errors": 148, "seconds": 31.47}}
    listed = state["tool_server_calls"]
    assert isinstance(listed, list) and len(listed) == 100 and listed[0] == ["serena__find_symbol", 0.25, "ok", 1234]


def test_a_run_without_tool_servers_says_nothing_about_them() -> None:
    assert "Tool servers" not in pr_body(outcome(None))
    state = read_state(render_state(outcome(None)))
    assert state is not None and "tool_servers" not in state

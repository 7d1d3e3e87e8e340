"""What the PR body and the sticky comment's hidden state say about the tool servers a run used.

Every call is listed with its time and how it ended, so a reviewer sees what the model
consulted (and how long it waited) before it proposed the change. Server lines can hold
what a failing server printed: they pass through the caller's neutraliser like model text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crashfix.fixer.models import FixOutcome, ToolServerCall

MAX_ROWS = 60
MAX_STATE_CALLS = 100
_UNSAFE = re.compile(r"[^\w.?-]")
_SAID = {"ok": "ok", "error": "error result", "timeout": "timed out", "failed": "server failed",
         "refused": "refused"}


def _name(call: ToolServerCall) -> str:
    return f"{_UNSAFE.sub('_', call.server)}__{_UNSAFE.sub('_', call.tool)}"


def tool_server_appendix(outcome: FixOutcome, clean: Callable[[str, int], str]) -> str:
    """A collapsed table of the calls, for the PR body; empty when no tool server was configured."""
    use = outcome.tool_servers
    if use is None:
        return ""
    calls = use.calls
    seconds = sum(call.seconds for call in calls)
    lines = [f"<details><summary>Tool servers: {len(calls)} call(s), {seconds:.1f} s</summary>", ""]
    lines += [f"- **{_UNSAFE.sub('_', name)}**: {clean(line, 300)}" for name, line in use.servers.items()]
    if calls:
        lines += ["", "| # | Tool | Time | Result |", "|---|---|---|---|"]
        for number, call in enumerate(calls[:MAX_ROWS], 1):
            size = f", {call.result_chars:,} chars" + (" (cut)" if call.trimmed else "") if call.result_chars else ""
            lines.append(f"| {number} | `{_name(call)}` | {call.seconds:.2f} s | {_SAID[call.status]}{size} |")
        if len(calls) > MAX_ROWS:
            lines.append(f"\n_{len(calls) - MAX_ROWS} more call(s) not listed._")
    lines += ["", "</details>"]
    return "\n".join(lines)


def tool_server_state(outcome: FixOutcome) -> dict[str, object]:
    """Fields of the sticky comment's hidden record: per server the totals, and the calls in order."""
    use = outcome.tool_servers
    if use is None:
        return {}
    totals: dict[str, dict[str, float]] = {name: {"calls": 0, "errors": 0, "seconds": 0.0} for name in use.servers}
    for call in use.calls:
        total = totals.setdefault(call.server, {"calls": 0, "errors": 0, "seconds": 0.0})
        total["calls"] += 1
        total["errors"] += call.status != "ok"
        total["seconds"] = round(total["seconds"] + call.seconds, 3)
    return {"tool_servers": totals,
            "tool_server_calls": [[_name(call), call.seconds, call.status, call.result_chars]
                                  for call in use.calls[:MAX_STATE_CALLS]]}

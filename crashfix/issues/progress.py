"""The fixer's sticky progress comment on a crash issue, as the rest of crashfix reads it.

One comment per issue, found by its marker, carries a hidden JSON record of the last fix
attempt (status, cost, totals over attempts). The fixer writes it and reads it back for a
re-analysis; `crashfix stats` reads it to say what the loop cost and achieved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

PROGRESS_MARKER = "<!-- crashfix:progress -->"
_STATE_RE = re.compile(r"<!-- crashfix:state\n(?P<json>.*?)\n-->", re.S)


def state_block(state: Mapping[str, object]) -> str:
    """The record as a hidden HTML comment; `<` and `>` escaped so no value can close it early."""
    data = json.dumps(state, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<!-- crashfix:state\n{data}\n-->"


def read_state(body: str) -> dict[str, object] | None:
    """The record in a comment body, or None when there is none or it is not a JSON object."""
    match = _STATE_RE.search(body or "")
    if not match:
        return None
    try:
        found = json.loads(match.group("json"))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None

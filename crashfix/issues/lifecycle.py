"""A crash issue's life beyond counting, as its hidden record keeps it.

- `revisions`: occurrences per revision (the full commit when the repository has it);
- `uptime`: per host, hours the server ran each revision (so crashes per hour of uptime);
- `fix`: the commit that should have fixed the crash, and what became of it: `awaiting`
  (recorded when a merged pull request closed the issue, or from a `fixed-in:<commit>` label),
  `verified` (the server ran builds containing it long enough without the crash), or
  `ineffective` (the crash came back on a build containing it); earlier fixes in `past_fixes`;
- `regression`: for a crash first seen after clean uptime on an earlier revision, that range
  and the commits in it that touch files of the crash's stack (the suspects).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from crashfix.analysis.models import Strict

MAX_REVISIONS = 40
MAX_UPTIME_REVISIONS = 12
MAX_HOSTS = 16
MAX_PAST_FIXES = 5

FixStatus = Literal["awaiting", "verified", "ineffective"]


class FixWatch(Strict):
    """A fix under watch: which commit, where crashfix learned it, and what the crashes since say."""

    commit: str = Field(description="The full commit id of the fix.")
    source: Literal["closed", "label"] = Field(description="closed: the commit a merged pull request closed the "
                                               "issue with; label: a `fixed-in:<commit>` label set by hand.")
    url: str | None = None
    closed_at: str | None = Field(default=None, description="The close that named the commit (source closed).")
    recorded_at: str
    status: FixStatus = "awaiting"
    with_fix: int = Field(default=0, description="Occurrences on revisions that contain the fix.")
    without_fix: int = Field(default=0, description="Occurrences on revisions that do not contain it yet.")
    unknown: int = Field(default=0, description="Occurrences whose revision could not be compared with the fix.")
    without_comment_at: str | None = None
    verified_at: str | None = None
    verified_hours: float | None = None
    ineffective_at: str | None = None
    ineffective_revision: str | None = None


class SuspectCommit(Strict):
    sha: str
    title: str
    date: str | None = None
    files: list[str] = Field(default_factory=list, description="The stack's files it changed.")


class RegressionRange(Strict):
    """The crash first appeared on `bad` after `good_hours` of uptime on `good` without it."""

    good: str
    good_hours: float
    bad: str
    commits_in_range: int
    suspects: list[SuspectCommit] = Field(default_factory=list, description="Newest first, capped.")
    more_suspects: int = 0


def count_revision(revisions: dict[str, int], revision: str) -> None:
    """One more occurrence on `revision`; past MAX_REVISIONS the rarest give way."""
    revisions[revision] = revisions.get(revision, 0) + 1
    while len(revisions) > MAX_REVISIONS:
        rarest = min((n, key) for key, n in revisions.items() if key != revision)[1]
        del revisions[rarest]


def note_uptime(uptime: dict[str, dict[str, float]], host: str, hours: dict[str, float]) -> None:
    """This host's hours per revision (the newest figures replace the old); capped in revisions and hosts."""
    kept = dict(sorted(hours.items(), key=lambda item: -item[1])[:MAX_UPTIME_REVISIONS])
    # Rounded down: a record must never claim more uptime than the host saw (0.000559 h is not 0.0006 h).
    uptime[host] = {revision: math.floor(value * 10_000) / 10_000 for revision, value in kept.items()}
    while len(uptime) > MAX_HOSTS:
        del uptime[next(name for name in uptime if name != host)]


def total_uptime(uptime: dict[str, dict[str, float]]) -> dict[str, float]:
    """Hours per revision over every host."""
    total: dict[str, float] = {}
    for hours in uptime.values():
        for revision, value in hours.items():
            total[revision] = total.get(revision, 0.0) + value
    return total


def retire(fix: FixWatch, past: list[FixWatch]) -> list[FixWatch]:
    """Keep a replaced fix in the history (newest last, capped)."""
    return [*past, fix][-MAX_PAST_FIXES:]

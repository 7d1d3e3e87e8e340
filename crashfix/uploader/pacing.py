"""GitHub's content-creation limits, kept by the uploader itself.

GitHub allows at most 80 content-creating requests a minute and 500 an hour (issues
and comments alike) and answers more with secondary rate limits that can lock the
account out. The uploader counts its own creations in the spool, so the budget holds
across restarts and across the filing processes of one host; what does not fit waits
in the spool (queued, never dropped) until the window has room again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

MINUTE = 60.0
HOUR = 3600.0


class ContentBudget:
    """A sliding window over the creations recorded in the spool's `content_writes` table."""

    def __init__(self, db: sqlite3.Connection, clock: Callable[[], float], per_minute: int = 80,
                 per_hour: int = 500) -> None:
        self.db = db
        self.clock = clock
        self.per_minute = per_minute
        self.per_hour = per_hour

    def wait(self) -> float:
        """Seconds until one more creation fits both windows (0.0: now)."""
        now = self.clock()
        self.db.execute("DELETE FROM content_writes WHERE at < ?", (now - HOUR,))
        waits = [0.0]
        for limit, window in ((self.per_minute, MINUTE), (self.per_hour, HOUR)):
            rows = self.db.execute("SELECT at FROM content_writes WHERE at >= ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                                   (now - window, limit - 1)).fetchone()
            if rows is not None:  # `limit` creations in the window: wait until the oldest of them leaves it
                waits.append(rows[0] + window - now)
        return max(waits)

    def spend(self) -> None:
        """One creation is about to be sent (counted before the request: a lost answer still counts)."""
        self.db.execute("INSERT INTO content_writes (at) VALUES (?)", (self.clock(),))

    def used(self, window: float) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM content_writes WHERE at >= ?", (self.clock() - window,)).fetchone()
        return int(row[0])


class ContentDeferred(Exception):
    """The content budget is spent: this filing waits `wait` seconds in the spool."""

    def __init__(self, wait: float, budget: ContentBudget) -> None:
        super().__init__(f"GitHub's content limit ({budget.per_minute} a minute, {budget.per_hour} an hour) is "
                         f"reached; the next creation fits in {wait:.0f} s")
        self.wait = wait

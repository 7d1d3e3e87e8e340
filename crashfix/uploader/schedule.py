"""When the filing process has fix-watch work: a round every `fix_watch_interval_seconds` once there are
crash issues. Kept apart (and light) so the long-running watcher asks without loading the filer's modules."""

from __future__ import annotations

from crashfix.uploader.spool import Spool

NEXT_AT = "fix_watch_next_at"


def watch_due(spool: Spool, now: float) -> bool:
    """Whether the filing process should run a round: there are crash issues, and the interval has passed."""
    if float(spool.get_meta(NEXT_AT) or 0) > now:
        return False
    return spool.db.execute("SELECT 1 FROM issues LIMIT 1").fetchone() is not None

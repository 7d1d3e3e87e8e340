"""`crashfix stats`: did it work? Fixes verified or not, the time to a verified fix, crashes per uptime hour.

All from the crash issues' hidden records: the fix under watch (and earlier ones), occurrences
per revision, each host's hours of uptime per revision (the newest figure a host wrote into any
record wins: uptime only grows) and the revision each signature was first seen on.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from crashfix.issues.record import IssueRecord, parse_iso
from crashfix.stats.models import Duration, FixFigures, RevisionStat

MAX_REVISIONS = 20


def loop_figures(records: list[IssueRecord], percentile: Callable[[list[float], float], float]) -> dict[str, Any]:
    """The `CrashStats` fields these figures fill."""
    return {"fixes": fix_figures(records), "crash_to_verified": crash_to_verified(records, percentile),
            "revisions": revision_stats(records)}


def fix_figures(records: list[IssueRecord]) -> FixFigures:
    states: Counter[str] = Counter()
    for record in records:
        if record.fix is not None:
            states[record.fix.status] += 1
        states["ineffective"] += sum(1 for past in record.past_fixes if past.status == "ineffective")
    return FixFigures(verified=states["verified"], ineffective=states["ineffective"], awaiting=states["awaiting"])


def crash_to_verified(records: list[IssueRecord], percentile: Callable[[list[float], float], float]) -> Duration:
    """First sighting -> verification, over the issues whose fix is verified (`percentile`: the nearest rank)."""
    times = [max(0.0, parse_iso(record.fix.verified_at) - parse_iso(record.first_seen)) for record in records
             if record.fix is not None and record.fix.status == "verified" and record.fix.verified_at]
    return Duration(count=len(times), median_seconds=statistics.median(times) if times else None,
                    p90_seconds=percentile(times, 90) if times else None,
                    counted="from the crash's first sighting to its fix's verification (uptime on builds with the "
                            "fix without the crash)")


def revision_stats(records: list[IssueRecord]) -> list[RevisionStat]:
    """Crashes, uptime and new signatures per revision; most crashes first (then most uptime)."""
    crashes: Counter[str] = Counter()
    first: Counter[str] = Counter()
    uptime: dict[tuple[str, str], float] = {}
    for record in records:
        crashes.update({revision: count for revision, count in record.revisions.items() if revision != "unknown"})
        if record.first_revision and record.first_revision != "unknown":
            first[record.first_revision] += 1
        for host, hours in record.uptime.items():
            for revision, value in hours.items():
                uptime[(host, revision)] = max(uptime.get((host, revision), 0.0), value)
    hours_by_revision: dict[str, float] = {}
    for (_, revision), value in uptime.items():
        hours_by_revision[revision] = hours_by_revision.get(revision, 0.0) + value
    found = []
    for revision in set(crashes) | set(hours_by_revision):
        up = hours_by_revision.get(revision)
        found.append(RevisionStat(revision=revision, crashes=crashes[revision], new_signatures=first[revision],
                                  uptime_hours=round(up, 2) if up else None,
                                  per_hour=round(crashes[revision] / up, 3) if up else None))
    found.sort(key=lambda stat: (-stat.crashes, -(stat.uptime_hours or 0), stat.revision))
    return found[:MAX_REVISIONS]

"""Suspect commits for a new crash: what changed, in the files of its stack, since the last clean build.

When a signature is first seen on revision R and the host ran an earlier revision P for at least
`suspect_after_hours` of uptime without it, P..R is its regression range. One comparison
(P...R: its commits and the files changed) and one commit listing per changed file of the
stack (`commits?sha=R&path=F`) find the commits of the range that touched the crash's files;
they are listed on the issue newest first, and the fixer is shown their diffs of those files.

A stack frame's path (`D:\\build\\src\\server\\game\\Player.cpp`, `/srv/src/...`) names a
repository file when it ends with that file's path: the range's changed files are the
candidates, so no checkout is needed on the server host.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crashfix.analysis.models import CrashReport
from crashfix.issues.lifecycle import RegressionRange, SuspectCommit
from crashfix.issues.record import now_iso
from crashfix.uploader.provenance import Commits
from crashfix.uploader.uptime import UptimeLog

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)

MAX_FILES = 8  # commit listings per new crash, at most


def frame_files(report: CrashReport) -> list[str]:
    """The stack's project source paths (normalised: forward slashes, lower case), innermost first, once each."""
    seen: dict[str, None] = {}
    for frame in report.frames:
        if frame.file and (frame.in_project or frame.index == report.blamed_frame_index):
            seen.setdefault(frame.file.replace("\\", "/").lower(), None)
    return list(seen)


def touches(frames: list[str], repository_path: str) -> bool:
    """Whether a repository path is one of the stack's files (its whole path is the tail of a frame's)."""
    wanted = repository_path.lower().lstrip("/")
    return any(frame == wanted or frame.endswith("/" + wanted) for frame in frames)


def last_clean_revision(uptime: UptimeLog, commits: Commits, bad: str, min_hours: float,
                        before: float) -> tuple[str, float] | None:
    """The revision (full commit) the host ran last, before `before`, for at least `min_hours`; with its hours."""
    totals: dict[str, float] = {}
    last: dict[str, float] = {}
    for run in uptime.runs():
        if run.revision is None or run.started >= before:
            continue
        sha = commits.resolve(run.revision)
        if sha is None or sha == bad:
            continue
        totals[sha] = totals.get(sha, 0.0) + run.hours
        last[sha] = max(last.get(sha, 0.0), run.last_seen)
    clean = [sha for sha, hours in totals.items() if hours >= min_hours]
    if not clean:
        return None
    good = max(clean, key=lambda sha: last[sha])
    return good, totals[good]


def _iso(when: float | None) -> str | None:
    return now_iso(when) if when is not None else None


def regression_range(repo: RepoAPI, commits: Commits, uptime: UptimeLog, report: CrashReport, bad: str,
                     crashed_at: float, min_hours: float, limit: int) -> RegressionRange | None:
    """The range P..R and its suspect commits, or None when there is no clean earlier revision to start from."""
    clean = last_clean_revision(uptime, commits, bad, min_hours, crashed_at)
    if clean is None:
        return None
    good, hours = clean
    comparison = commits.compare(good, bad)
    if comparison is None or comparison.status not in ("ahead", "diverged"):
        return None  # the crashing build is not newer than the clean one (a rollback): no range
    frames = frame_files(report)
    changed = [path for path in comparison.files if touches(frames, path)][:MAX_FILES]
    order = {commit.sha: position for position, commit in enumerate(comparison.commits)}
    titles = {commit.sha: commit for commit in comparison.commits}
    touched: dict[str, list[str]] = {}
    for path in changed:
        for commit in repo.commits_touching(bad, path):
            if commit.sha in order:
                touched.setdefault(commit.sha, []).append(path)
    newest_first = sorted(touched, key=lambda sha: -order[sha])
    suspects = [SuspectCommit(sha=sha, title=titles[sha].title[:200], files=touched[sha],
                              date=_iso(titles[sha].date)) for sha in newest_first[:limit]]
    log.info("regression range %s..%s (%d commits): %d touch the stack's files", good[:12], bad[:12],
             comparison.total_commits, len(newest_first))
    return RegressionRange(good=good, good_hours=round(hours, 4), bad=bad, commits_in_range=comparison.total_commits,
                           suspects=suspects, more_suspects=max(0, len(newest_first) - limit))

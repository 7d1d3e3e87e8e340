"""Which build crashed: every occurrence carries the commit of the build that crashed, when it can be known.

In order: the crash text's own word (a `Revision:` line, a `rev. <hash>` banner: the analysis
reads them), else the revision the host's server ran when it crashed (the uptime log), else
what the host's build says now (`revision_file`, `revision_command`), else unknown.

Revisions are often short commit ids (TrinityCore prints 12 hex digits). The filer resolves
each once through the API to the full commit and keeps the answer in the spool, and keeps
comparisons (does revision R contain fix F?) there too: both are facts about commits that
never change, so an occurrence costs API calls only for a revision never seen before.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from crashfix.analysis.models import CrashReport
from crashfix.github.records import GitHubAuthError
from crashfix.uploader.uptime import RevisionReader, UptimeLog

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI
    from crashfix.github.commit_records import CommitData, Comparison

log = logging.getLogger(__name__)
T = TypeVar("T")

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
SHORT_SHA = re.compile(r"^[0-9a-f]{7,39}$")
RETRY_UNKNOWN_SECONDS = 86400.0  # a commit not (yet) in the repository is asked about again a day later


def clean(revision: str | None) -> str | None:
    """`e34c629a654c+` (a build with local changes) -> `e34c629a654c`; blank -> None."""
    text = (revision or "").strip().rstrip("+").strip()
    return text[:80] or None


class Provenance:
    """The watcher's side: the revision of each crash as it is analysed (no GitHub needed)."""

    def __init__(self, reader: RevisionReader, slack: float) -> None:
        self.reader = reader
        self.slack = slack

    def of(self, report: CrashReport, crash_time: float, uptime: UptimeLog) -> tuple[str | None, str | None]:
        """(revision, where it came from: "crash" or "host"), or (None, None)."""
        said = clean(report.build.revision if report.build else None)
        if said:
            return said, "crash"
        running = uptime.revision_at(crash_time, self.slack)
        if running is None and self.reader.configured:
            running = self.reader.read()
        return (clean(running), "host") if clean(running) else (None, None)


class Commits:
    """The filer's side: revisions resolved to full commits, and containment, through the API, cached."""

    def __init__(self, repo: RepoAPI, db: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self.repo = repo
        self.db = db
        self.clock = clock
        self.refused: str | None = None  # the token may not read commits: said once, then not asked again

    def _commit(self, ref: str) -> CommitData | None:
        return None if self.refused else self._guarded(lambda: self.repo.commit(ref))

    def _compare(self, base: str, head: str) -> Comparison | None:
        return None if self.refused else self._guarded(lambda: self.repo.compare(base, head))

    def _guarded(self, call: Callable[[], T]) -> T | None:
        """A read of commits; a token that may not read them (no Contents: read) turns provenance off, once."""
        try:
            return call()
        except GitHubAuthError as error:
            if error.status != 403:
                raise
            self.refused = error.one_line()
            log.warning("revisions stay as the builds name them, and fixes are not judged: %s (give the token "
                        "Contents: read as well)", error.message)
            return None

    def resolve(self, revision: str | None) -> str | None:
        """The full commit id of a revision the repository has; None when it has none (or it is no commit id)."""
        ref = clean(revision)
        if ref is None:
            return None
        ref = ref.lower()
        if not (FULL_SHA.match(ref) or SHORT_SHA.match(ref)):
            return None
        row = self.db.execute("SELECT sha, checked_at FROM commits WHERE ref = ?", (ref,)).fetchone()
        if row is not None and (row["sha"] or self.clock() - row["checked_at"] < RETRY_UNKNOWN_SECONDS):
            return row["sha"]
        if self.refused:
            return None
        found = self._commit(ref)
        if self.refused:
            return None
        sha = found.sha if found is not None and FULL_SHA.match(found.sha) else None
        if sha is None:
            log.info("revision %s is not a commit of %s", ref, self.repo.full_name)
        self.db.execute("INSERT INTO commits (ref, sha, checked_at) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET "
                        "sha = excluded.sha, checked_at = excluded.checked_at", (ref, sha, self.clock()))
        return sha

    def contains(self, revision: str, fix: str) -> bool | None:
        """Whether the build of `revision` contains commit `fix` (GitHub's compare: `ahead` or `identical`);
        None when GitHub knows either commit not."""
        row = self.db.execute("SELECT status FROM comparisons WHERE base = ? AND head = ?", (fix, revision)).fetchone()
        if row is None:
            found = self._compare(fix, revision)
            if found is None:
                return None
            self.db.execute("INSERT OR REPLACE INTO comparisons (base, head, status) VALUES (?, ?, ?)",
                            (fix, revision, found.status))
            status = found.status
        else:
            status = row["status"]
        return status in ("ahead", "identical")

    def compare(self, base: str, head: str) -> Comparison | None:
        """A comparison with its commits and files (for a regression range); kept for `contains` too."""
        found = self._compare(base, head)
        if found is not None:
            self.db.execute("INSERT OR REPLACE INTO comparisons (base, head, status) VALUES (?, ?, ?)",
                            (base, head, found.status))
        return found

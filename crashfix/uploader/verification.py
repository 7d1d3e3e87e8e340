"""The fix watch: did the fix stop the crash in production? Recurrence on the builds that contain it says.

A crash issue's fix is recorded (in its hidden record, `lifecycle.FixWatch`) when a merged pull
request closed the issue (its `closed` event names the commit) or someone labels it
`fixed-in:<commit>` (the label wins while it is there). From then on, each transition:

- occurrence on a revision that contains the fix (GitHub's compare, fix...revision: `ahead` or
  `identical`) -> the fix is `ineffective`: the issue is reopened (if closed), labelled
  `crashfix:fix-ineffective` (`crashfix:verified-fixed` removed), and a comment names the
  revision, the occurrence and the fix. The reopen by the uploader's account starts a new fix run.
- occurrence on a revision without the fix (or one GitHub cannot compare) -> counted as "on
  builds without the fix"; the issue stays closed; at most one comment per comment interval.
- `verify_after_hours` of server uptime on revisions containing the fix (all hosts' records
  summed) without such an occurrence -> `verified`: label `crashfix:verified-fixed`, one comment
  naming the hours per revision. A later occurrence on a build with the fix still makes it ineffective.
- the issue closed again by another merged pull request (or relabelled) -> the new fix is under
  watch; the old one is kept in `past_fixes`.

Without a recorded fix, a closed crash seen on a build made after the close is reopened as a
`regression` (the build date rule crashfix had before).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from crashfix.analysis.models import CrashReport
from crashfix.config import UploaderSettings
from crashfix.github.records import IssueData
from crashfix.issues.body import SourceLinks, regression_comment, seconds_since
from crashfix.issues.fix_text import ineffective_comment, without_fix_comment
from crashfix.issues.lifecycle import FixWatch, retire
from crashfix.issues.record import IssueRecord, now_iso
from crashfix.uploader.provenance import FULL_SHA, Commits
from crashfix.uploader.spool import Spool

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)

LABEL_COLORS = {"crashfix:fix-ineffective": ("b60205", "The crash came back on a build containing its fix"),
                "crashfix:verified-fixed": ("0e8a16", "No recurrence on builds containing the fix")}


@dataclass
class Seen:
    """One counted occurrence, as the fix watch judges it: its revision (full commit when known) and a
    line describing it (file, host, time)."""

    revision: str | None
    commit: str | None
    report: CrashReport
    describe: str


@dataclass
class Verdict:
    """What an issue should undergo after new occurrences."""

    reopen: bool = False
    comment: str | None = None
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    kind: str | None = None  # "ineffective", "without-fix", "regression"


class FixTracker:
    """Learns fixes from GitHub and judges occurrences against them (see the module docstring)."""

    def __init__(self, repo: RepoAPI, spool: Spool, settings: UploaderSettings, commits: Commits,
                 links: SourceLinks, clock: Callable[[], float]) -> None:
        self.repo = repo
        self.spool = spool
        self.settings = settings
        self.commits = commits
        self.links = links
        self.clock = clock
        self.reads = 0  # closing events read through the API
        self._told: set[str] = set()

    # --- learning a fix -------------------------------------------------------------------

    def learn(self, issue: IssueData, record: IssueRecord) -> bool:
        """Bring `record.fix` up to date with the issue's `fixed-in:` label or its close; True when it changed."""
        labelled = self._label_fix(issue)
        if labelled is not None:
            if record.fix is not None and record.fix.commit == labelled and record.fix.source == "label":
                return False
            return self._record(record, labelled, "label", None)
        if record.fix is not None and record.fix.source == "label":
            return False  # the label was removed: the fix stays recorded as it was
        if issue.state != "closed" or issue.state_reason not in (None, "completed") or issue.closed_at is None:
            return False
        closed = now_iso(issue.closed_at)
        if record.fix is not None and record.fix.closed_at == closed:
            return False
        sha = self._closing_commit(issue.number, issue.closed_at)
        if sha is None:
            return False
        if record.fix is not None and record.fix.commit == sha:
            record.fix.closed_at = closed
            return True
        return self._record(record, sha, "closed", closed)

    def _label_fix(self, issue: IssueData) -> str | None:
        prefix = self.settings.fix_label_prefix.casefold()
        for label in issue.labels:
            if label.casefold().startswith(prefix) and len(label) > len(prefix):
                sha = self.commits.resolve(label[len(prefix):])
                if sha is not None:
                    return sha
                if label not in self._told:
                    self._told.add(label)
                    log.warning("#%s: the label %s names no commit of %s", issue.number, label, self.repo.full_name)
        return None

    def _closing_commit(self, number: int, closed_at: float) -> str | None:
        """The commit the issue's latest close names (read from its events once per close)."""
        row = self.spool.db.execute("SELECT closed_at, sha FROM closes WHERE number = ?", (number,)).fetchone()
        if row is not None and abs(row["closed_at"] - closed_at) < 1:
            return row["sha"]
        event = self.repo.closing_event(number)
        self.reads += 1
        sha = event.commit if event is not None and event.commit and FULL_SHA.match(event.commit) else None
        self.spool.db.execute("INSERT OR REPLACE INTO closes (number, closed_at, sha) VALUES (?, ?, ?)",
                              (number, closed_at, sha))
        return sha

    def _record(self, record: IssueRecord, sha: str, source: str, closed: str | None) -> bool:
        if record.fix is not None:
            record.past_fixes = retire(record.fix, record.past_fixes)
        url = f"{self.links.web_url}/commit/{sha}" if self.links.web_url else None
        record.fix = FixWatch(commit=sha, source=source, url=url, closed_at=closed,  # type: ignore[arg-type]
                              recorded_at=now_iso(self.clock()))
        log.info("fix %s recorded for %s (%s)", sha[:12], record.signature.id,
                 "a merged pull request closed its issue" if source == "closed" else "labelled by hand")
        return True

    def remember(self, number: int, record: IssueRecord) -> None:
        """The spool's index of fixes under watch follows the record."""
        if record.fix is None:
            self.spool.db.execute("DELETE FROM fixes WHERE number = ?", (number,))
            return
        self.spool.db.execute(
            "INSERT INTO fixes (number, sha, status) VALUES (?, ?, ?) ON CONFLICT(number) DO UPDATE SET "
            "reported_hours = CASE WHEN fixes.sha = excluded.sha THEN fixes.reported_hours ELSE 0 END, "
            "sha = excluded.sha, status = excluded.status", (number, record.fix.commit, record.fix.status))

    # --- judging occurrences --------------------------------------------------------------

    def judge(self, issue: IssueData, record: IssueRecord, fresh: Iterable[Seen]) -> Verdict:
        """Count new occurrences against the fix under watch; what the issue should undergo."""
        seen = list(fresh)
        fix = record.fix
        if fix is None or fix.status == "ineffective":
            return self._by_build_date(issue, seen) if issue.state == "closed" else Verdict()
        hit: Seen | None = None
        last_without: tuple[Seen, bool | None] | None = None
        for occurrence in seen:
            contains = self.commits.contains(occurrence.commit, fix.commit) if occurrence.commit else None
            if contains:
                fix.with_fix += 1
                hit = hit or occurrence
            elif contains is False:
                fix.without_fix += 1
                last_without = (occurrence, contains)
            else:
                fix.unknown += 1
                last_without = (occurrence, contains)
        if hit is not None:
            return self._ineffective(issue, fix, hit)
        if last_without is None or issue.state != "closed" or (
                seconds_since(fix.without_comment_at, self.clock()) < self.settings.comment_interval_seconds):
            return Verdict()
        occurrence, contains = last_without
        text = without_fix_comment(fix, occurrence.commit or occurrence.revision, occurrence.describe,
                                   self.links.web_url, contains)
        return Verdict(comment=text, kind="without-fix")

    def _ineffective(self, issue: IssueData, fix: FixWatch, hit: Seen) -> Verdict:
        fix.status = "ineffective"
        fix.ineffective_at = now_iso(self.clock())
        fix.ineffective_revision = hit.commit
        label = self.settings.ineffective_label
        log.info("#%s: the fix %s did not hold: seen again on %s, which contains it", issue.number, fix.commit[:12],
                 (hit.commit or "?")[:12])
        verified = self.settings.verified_label
        remove = (verified,) if any(name.casefold() == verified.casefold() for name in issue.labels) else ()
        return Verdict(reopen=issue.state == "closed", add=(label,), remove=remove, kind="ineffective",
                       comment=ineffective_comment(fix, hit.commit or "", hit.describe, self.links.web_url, label))

    def _by_build_date(self, issue: IssueData, seen: list[Seen]) -> Verdict:
        """No fix recorded: a crash on a build made after the issue was closed as completed is a regression."""
        if issue.closed_at is None or issue.state_reason not in (None, "completed"):
            return Verdict()
        for occurrence in seen:
            built = build_time(occurrence.report)
            if built is not None and built > issue.closed_at:
                build = occurrence.report.build
                text = regression_comment(build_name(occurrence.report), build.date if build else None,
                                          now_iso(issue.closed_at))
                return Verdict(reopen=True, comment=text, add=(self.settings.regression_label,), kind="regression")
        return Verdict()


def build_name(report: CrashReport) -> str:
    build = report.build
    if build is None:
        return "unknown"
    return (build.revision or build.version or build.date or "unknown").rstrip("+") or "unknown"


def build_time(report: CrashReport) -> float | None:
    """When the crashing build was made, if the input says (TrinityCore's Revision line does)."""
    build = report.build
    if build is None or not build.date:
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(build.date, pattern)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    return None

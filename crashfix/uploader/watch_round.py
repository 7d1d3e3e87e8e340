"""The filer's periodic round for the fix watch, and the host's uptime in the records it writes.

Every `fix_watch_interval_seconds` (asked after each filing pass, and by the watcher, which starts the
filing process for it) the filing process:
1. lists the crash issues updated since its last round (one listing, 100 a page) and records
   each new fix: a merged pull request's closing commit (one events read per close, at most
   `MAX_CLOSES` per round) or a `fixed-in:<commit>` label;
2. for each fix awaiting verification, reads its issue once, adds this host's uptime per
   revision, and compares the fix with each revision the servers ran (once per pair, cached):
   enough hours on revisions containing it without the crash verifies it.
Nothing is judged while crashes wait in the spool: one of them may be the recurrence.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crashfix.analysis.models import CrashReport
from crashfix.github.records import GitHubError, GitHubNotFound, IssueData
from crashfix.issues.body import update_body
from crashfix.issues.fix_text import hours, verified_comment
from crashfix.issues.lifecycle import RegressionRange, note_uptime, total_uptime
from crashfix.issues.record import IssueRecord, find_signature, now_iso, parse_record
from crashfix.uploader.provenance import FULL_SHA, clean
from crashfix.uploader.schedule import NEXT_AT
from crashfix.uploader.suspects import regression_range
from crashfix.uploader.uptime import UptimeLog

if TYPE_CHECKING:
    from crashfix.uploader.filing import Filer

log = logging.getLogger(__name__)

SYNC_MARGIN = 120.0
MAX_CLOSES = 100  # issues whose closing event is read in one round (a first round over an old repository)
SYNCED_AT = "fix_watch_synced_at"


class WatchRound:
    def __init__(self, filer: Filer) -> None:
        self.filer = filer

    @property
    def uptime(self) -> UptimeLog:
        return UptimeLog(self.filer.spool.db)

    def local_uptime(self) -> dict[str, float]:
        """This host's hours per revision, keyed by the full commit where the repository has it."""
        hours: dict[str, float] = {}
        for revision, value in self.uptime.hours_by_revision().items():
            key = self.filer.commits.resolve(revision) or clean(revision) or revision
            hours[key] = hours.get(key, 0.0) + value
        return hours

    def note_uptime(self, record: IssueRecord) -> dict[str, float]:
        local = self.local_uptime()
        if local:
            note_uptime(record.uptime, self.filer.host_id, local)
        return local

    def regression_range(self, report: CrashReport, commit: str | None, crashed_at: float) -> RegressionRange | None:
        """Suspect commits for a new crash on `commit`; None without a clean earlier revision (or without access)."""
        settings = self.filer.settings
        if commit is None or settings.max_suspect_commits == 0:
            return None
        try:
            return regression_range(self.filer.repo, self.filer.commits, self.uptime, report, commit, crashed_at,
                                    settings.suspect_after_hours, settings.max_suspect_commits)
        except GitHubError as error:
            if error.transient:
                raise
            log.warning("no suspect commits for this crash: %s", error.one_line())
            return None

    # --- the round --------------------------------------------------------------------------

    def run(self) -> None:
        filer = self.filer
        started = filer.clock()
        self.learn_recent()
        self.verify()
        filer.spool.set_meta(NEXT_AT, str(started + filer.settings.fix_watch_interval_seconds))

    def learn_recent(self) -> None:
        """Record the fixes of crash issues closed (or labelled) since the last round."""
        filer = self.filer
        last = filer.spool.get_meta(SYNCED_AT)
        since = float(last) - SYNC_MARGIN if last else None
        started = filer.clock()
        labels = tuple(filer.settings.labels[:1])
        reads_before = filer.fixes.reads
        for issue in filer.repo.issues(labels=labels, since=since):
            if filer.fixes.reads - reads_before >= MAX_CLOSES:
                started = issue.updated_at  # the rest next round, from here
                break
            if find_signature(issue.body) is None or not filer.index.is_ours(issue):
                continue
            record = parse_record(issue.body)
            if record is None or record.duplicate_of is not None:
                continue
            if filer.fixes.learn(issue, record):
                self._write(issue, record, drop=(filer.settings.ineffective_label,))
            else:
                filer.fixes.remember(issue.number, record)
        filer.spool.set_meta(SYNCED_AT, str(started))

    def verify(self) -> None:
        """Verify the awaiting fixes that have enough uptime on builds containing them."""
        filer = self.filer
        if filer.spool.pending_count():
            log.info("fix verification waits: crashes are waiting to be filed")
            return
        local = self.local_uptime()
        rows = filer.spool.db.execute("SELECT number, reported_hours FROM fixes WHERE status = 'awaiting'").fetchall()
        for row in rows:
            try:
                issue = filer.repo.issue(row["number"])
            except GitHubNotFound:
                filer.spool.db.execute("DELETE FROM fixes WHERE number = ?", (row["number"],))
                continue
            record = parse_record(issue.body) if filer.index.is_ours(issue) else None
            if record is None or record.fix is None or record.fix.status != "awaiting":
                filer.spool.db.execute("DELETE FROM fixes WHERE number = ?", (row["number"],))
                if record is not None:
                    filer.fixes.remember(issue.number, record)  # verified or ineffective meanwhile
                continue
            self._judge_uptime(issue, record, local, float(row["reported_hours"]))

    def _judge_uptime(self, issue: IssueData, record: IssueRecord, local: dict[str, float], reported: float) -> None:
        filer, fix = self.filer, record.fix
        assert fix is not None
        if local:
            note_uptime(record.uptime, filer.host_id, local)
        with_fix = {revision: hours for revision, hours in total_uptime(record.uptime).items()
                    if hours > 0 and FULL_SHA.match(revision) and filer.commits.contains(revision, fix.commit)}
        total = sum(with_fix.values())
        mine = sum(hours for revision, hours in local.items() if revision in with_fix)
        window = filer.settings.verify_after_hours
        if total >= window:
            if not filer._spend(required=False):
                return  # GitHub's content limit: next round
            fix.status, fix.verified_at, fix.verified_hours = "verified", now_iso(filer.clock()), round(total, 4)
            label = filer.settings.verified_label
            self._write(issue, record, add=(label,))
            filer.repo.comment(issue.number, verified_comment(fix, with_fix, filer.links.web_url, label))
            log.info("#%s: fix %s verified after %s of uptime on builds containing it", issue.number,
                     fix.commit[:12], hours(total))
        elif mine - reported >= window / 12:  # the record shows this host's hours now and then, not every round
            self._write(issue, record)
            filer.spool.db.execute("UPDATE fixes SET reported_hours = ? WHERE number = ?", (mine, issue.number))

    def _write(self, issue: IssueData, record: IssueRecord, add: tuple[str, ...] = (),
               drop: tuple[str, ...] = ()) -> None:
        filer = self.filer
        filer.repo.edit_issue(issue.number, body=update_body(issue.body, record, filer.links))
        for label in add:
            filer.repo.ensure_label(label, *filer.label_colors(label))
        if add:
            filer.repo.add_labels(issue.number, add)
        for label in drop:
            if any(name.casefold() == label.casefold() for name in issue.labels):
                filer.repo.remove_label(issue.number, label)
        filer.fixes.remember(issue.number, record)

"""One GitHub issue per crash signature: find it, create it, count repeats, reopen regressions.

Finding never relies on search (GitHub search lags behind writes and is tightly rate
limited): the spool remembers which issue carries which signature, and an incremental
listing of the issues updated since the last look keeps that map current, including
issues whose `crash` label someone removed.

Counting is idempotent: each crash has a filing sequence number from its uploader,
and the issue's record keeps each uploader's highest counted number, so a crash
retried after a kill or a dropped connection is never counted twice.

Two uploaders filing the same new signature at once both list the issues afterwards
(a listing, unlike search, sees every created issue): the lowest number wins, and the
other uploader moves its counts there and closes its own issue as a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from crashfix.analysis.models import CrashReport
from crashfix.config import UploaderSettings
from crashfix.github.records import GitHubUnavailable, IssueData
from crashfix.issues.body import (
    SourceLinks,
    duplicate_comment,
    regression_comment,
    render_body,
    repeat_comment,
    seconds_since,
    title_for,
    update_body,
)
from crashfix.issues.dumps import shared_dump_path
from crashfix.issues.record import (
    Baseline,
    IssueRecord,
    count_day,
    find_signature,
    now_iso,
    parse_record,
    trimmed_report,
)
from crashfix.notify import EventKind, Notifier, NotifyEvent
from crashfix.uploader.spool import CrashRow, Spool

if TYPE_CHECKING:  # the filer only calls it; importing it would load PyGithub
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)

LABEL_COLORS = {"crash": ("b60205", "A crash filed by crashfix"),
                "regression": ("d93f0b", "A fixed crash that came back"),
                "crashfix:low-quality": ("c5def5", "Crash signature without symbols: may group unrelated crashes")}
SYNC_MARGIN = 120.0
RACE_WINDOW = 600.0


@dataclass
class Occurrence:
    row: CrashRow
    report: CrashReport
    seq: int


class Filer:
    """Files analysed crashes of one signature at a time into one repository."""

    def __init__(self, repo: RepoAPI, spool: Spool, settings: UploaderSettings, host: str,
                 clock: Callable[[], float], notifier: Notifier | None = None) -> None:
        self.repo = repo
        self.notifier = notifier
        self.spool = spool
        self.settings = settings
        self.host = host
        self.clock = clock
        self.links = SourceLinks(repo.html_url, settings.source_roots)

    # --- the issue index -------------------------------------------------------------

    def sync(self) -> None:
        """Refresh the spool's signature -> issue map from the issues updated since the last look."""
        last = self.spool.get_meta("issues_synced_at")
        started = self.clock()
        since = float(last) - SYNC_MARGIN if last else None
        for issue in self.repo.issues(since=since):
            self._remember(issue)
        self.spool.set_meta("issues_synced_at", str(started))

    def prepare(self, signatures: list[str]) -> None:
        """One listing per filing round, when any signature is not in the map yet."""
        if any(self._canonical_from_spool(signature) is None for signature in signatures):
            self.sync()

    def _remember(self, issue: IssueData) -> str | None:
        signature = find_signature(issue.body)
        if signature is not None:
            record = parse_record(issue.body)
            self.spool.remember_issue(issue.number, signature, issue.state,
                                      record.duplicate_of if record else None)
        return signature

    def _canonical_from_spool(self, signature: str) -> int | None:
        known = self.spool.issues_for_signature(signature)
        originals = [n for n, _, duplicate in known if duplicate is None]
        if originals:
            return originals[0]
        return known[0][2] if known else None

    def locate(self, signature: str) -> int | None:
        """The issue number for a signature, from the map (refreshed by `prepare`)."""
        return self._canonical_from_spool(signature)

    def _follow(self, issue: IssueData) -> IssueData:
        """From a duplicate to the issue it points at (a few hops at most)."""
        for _ in range(5):
            record = parse_record(issue.body)
            if record is None or record.duplicate_of is None or record.duplicate_of == issue.number:
                return issue
            issue = self.repo.issue(record.duplicate_of)
        return issue

    # --- filing ----------------------------------------------------------------------

    def file(self, signature: str, rows: list[CrashRow]) -> int:
        """Count these crashes on their signature's issue (creating it); returns the issue number."""
        seqs = self.spool.assign_file_seqs([row.id for row in rows])
        occurrences = [Occurrence(row, CrashReport.model_validate_json(row.report or "{}"), seqs[row.id])
                       for row in rows]
        number = self.locate(signature)
        if number is None:
            issue = self._create(signature, occurrences)
            issue = self._converge(signature, issue, occurrences)
        else:
            issue = self._count(number, occurrences)
        self.spool.mark_filed([row.id for row in rows], issue.number, self.clock(), f"issue #{issue.number}")
        return issue.number

    def _new_record(self, occurrences: list[Occurrence]) -> IssueRecord:
        first = occurrences[0]
        assert first.report.signature is not None
        seen = now_iso(first.row.found_at)
        return IssueRecord(signature=first.report.signature, report=trimmed_report(first.report),
                           first_seen=seen, last_seen=seen)

    def _apply(self, record: IssueRecord, occurrences: list[Occurrence]) -> list[Occurrence]:
        """Count the occurrences this issue has not counted yet; returns them."""
        host_id = self.spool.host_id
        counted = record.watermarks.get(host_id, 0)
        fresh = [o for o in occurrences if o.seq > counted]
        for occurrence in fresh:
            record.occurrences += 1
            build = _build_name(occurrence.report)
            record.builds[build] = record.builds.get(build, 0) + 1
            record.hosts[self.host] = record.hosts.get(self.host, 0) + 1
            seen = now_iso(occurrence.row.found_at)
            count_day(record, seen)
            record.last_seen = max(record.last_seen, seen)
            record.first_seen = min(record.first_seen, seen)
            shared = shared_dump_path(occurrence.row.files, self.settings.share_paths)
            record.dump_path = shared or record.dump_path
        if fresh:
            record.watermarks[host_id] = max(counted, *(o.seq for o in fresh))
        return fresh

    def _labels_for(self, record: IssueRecord) -> tuple[str, ...]:
        labels = tuple(self.settings.labels)
        if record.signature.quality == "low":
            labels += (self.settings.low_quality_label,)
        for label in labels:
            color, description = LABEL_COLORS.get(label, ("ededed", "crashfix"))
            self.repo.ensure_label(label, color, description)
        return labels

    def _create(self, signature: str, occurrences: list[Occurrence]) -> IssueData:
        record = self._new_record(occurrences)
        self._apply(record, occurrences)
        record.commented = Baseline(occurrences=record.occurrences, builds=list(record.builds),
                                    hosts=list(record.hosts))
        record.last_comment_at = record.last_seen
        first = occurrences[0]
        body = render_body(record, self.links, first.row.raw, _raw_title(first.report))
        labels = self._labels_for(record)
        try:
            issue = self.repo.create_issue(title_for(record.report), body, labels)
        except GitHubUnavailable as error:
            if not error.maybe_applied:
                raise
            # The request may have reached GitHub: look before creating a second issue.
            self.sync()
            found = self.locate(signature)
            if found is None:
                raise
            log.info("issue for %s was created although the connection failed: #%s", signature, found)
            return self._count(found, occurrences)
        self.spool.remember_issue(issue.number, signature, issue.state, None)
        log.info("filed %s as #%s (%s)", signature, issue.number, issue.title)
        self._notify("new-signature", issue, f"{record.occurrences} crash(es) on {self.host}, first seen "
                                             f"{record.first_seen.replace('T', ' ').replace('Z', ' UTC')}")
        return issue

    def _notify(self, kind: EventKind, issue: IssueData, detail: str) -> None:
        """A chat message, if configured; sent in the background, never failing the filing."""
        if self.notifier is not None:
            self.notifier.send(NotifyEvent(kind=kind, repository=self.repo.full_name, issue_number=issue.number,
                                           title=issue.title.removeprefix("Crash: "), url=issue.html_url,
                                           detail=detail))

    def _converge(self, signature: str, ours: IssueData, occurrences: list[Occurrence]) -> IssueData:
        """If another uploader filed the same signature meanwhile, keep the older issue."""
        older = [
            issue for issue in self.repo.issues(since=ours.created_at - RACE_WINDOW)
            if find_signature(issue.body) == signature and issue.state == "open" and issue.number < ours.number
            and not _is_duplicate(issue)
        ]
        if not older:
            return ours
        canonical = min(older, key=lambda issue: issue.number)
        log.info("#%s and #%s carry the same signature; keeping #%s", ours.number, canonical.number, canonical.number)
        counted = self._count(canonical.number, occurrences)
        record = parse_record(ours.body)
        if record is not None:
            record.duplicate_of = canonical.number
            self.repo.edit_issue(ours.number, body=update_body(ours.body, record, self.links), state="closed",
                                 state_reason="not_planned")
        else:
            self.repo.edit_issue(ours.number, state="closed", state_reason="not_planned")
        self.repo.comment(ours.number, duplicate_comment(canonical.number))
        self.spool.remember_issue(ours.number, signature, "closed", canonical.number)
        return counted

    def _count(self, number: int, occurrences: list[Occurrence]) -> IssueData:
        """Add repeats to an existing issue: counts, maybe a comment, maybe a regression reopen."""
        issue = self._follow(self.repo.issue(number))
        record = parse_record(issue.body)
        if record is None:  # someone removed our record: start a new one, keep their text
            record = self._new_record(occurrences)
        fresh = self._apply(record, occurrences)
        if not fresh:
            return issue
        now = self.clock()
        regression = self._regression(issue, fresh)
        comment = None
        if regression is None and issue.state == "open" and self._comment_due(record, now):
            comment = repeat_comment(record, now)
            record.last_comment_at = now_iso(now)
            record.commented = Baseline(occurrences=record.occurrences, builds=list(record.builds),
                                        hosts=list(record.hosts))
        body = update_body(issue.body, record, self.links)
        updated = self.repo.edit_issue(issue.number, body=body, state="open" if regression else None)
        if regression is not None:
            self.repo.ensure_label(self.settings.regression_label, *LABEL_COLORS["regression"])
            self.repo.add_labels(issue.number, (self.settings.regression_label,))
            self.repo.comment(issue.number, regression)
            self.spool.remember_issue(issue.number, record.signature.id, "open", None)
            log.info("#%s reopened as a regression", issue.number)
            self._notify("regression", updated, regression)
        elif comment is not None:
            self.repo.comment(issue.number, comment)
        return updated

    def _comment_due(self, record: IssueRecord, now: float) -> bool:
        return seconds_since(record.last_comment_at, now) >= self.settings.comment_interval_seconds

    def _regression(self, issue: IssueData, fresh: list[Occurrence]) -> str | None:
        """A comment explaining the reopen, when a fixed crash is seen on a build newer than the fix."""
        if issue.state != "closed" or issue.closed_at is None or issue.state_reason not in (None, "completed"):
            return None
        for occurrence in fresh:
            built = _build_time(occurrence.report)
            if built is not None and built > issue.closed_at:
                build = occurrence.report.build
                return regression_comment(_build_name(occurrence.report),
                                          build.date if build else None, now_iso(issue.closed_at))
        return None


def _is_duplicate(issue: IssueData) -> bool:
    record = parse_record(issue.body)
    return record is not None and record.duplicate_of is not None


def _build_name(report: CrashReport) -> str:
    build = report.build
    if build is None:
        return "unknown"
    return (build.revision or build.version or build.date or "unknown").rstrip("+") or "unknown"


def _build_time(report: CrashReport) -> float | None:
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


def _raw_title(report: CrashReport) -> str:
    names = {"cdb": "CDB analysis", "wheaty": "Crash log", "gdb": "gdb backtrace", "sanitizer": "Sanitizer report",
             "minidump": "Minidump", "breakpad": "Stackwalk output", "backtrace": "Backtrace",
             "assertion": "Assertion", "system-log": "System log"}
    return names.get(report.format.value, "Raw analysis")

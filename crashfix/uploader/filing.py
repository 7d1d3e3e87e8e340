"""One GitHub issue per crash signature: find it, create it, count repeats, reopen regressions.

Finding never relies on search (GitHub search lags behind writes and is tightly rate
limited): the spool remembers which issue carries which signature, and an incremental
listing of the issues updated since the last look keeps that map current (see
`index`: only the uploader's own issues, and the duplicate decisions maintainers took).

Counting is idempotent: the issue's record keeps, per host, the crash files it counted
(see `issues.counted`), so a crash retried after a kill or a dropped connection, or
found again after the spool was lost, is never counted twice. Creations (issues,
comments) stay within GitHub's content limits (see `pacing`); what does not fit waits.

Two uploaders filing the same new signature at once both list the issues afterwards
(a listing, unlike search, sees every created issue): the lowest number wins, and the
other uploader moves its counts there and closes its own issue as a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from crashfix.analysis.analyze import rules_for
from crashfix.analysis.blame import SkipRules
from crashfix.analysis.models import CrashReport
from crashfix.config import UploaderSettings
from crashfix.github.records import GitHubUnavailable, IssueData
from crashfix.issues.body import (
    SourceLinks,
    code,
    duplicate_comment,
    render_body,
    repeat_comment,
    replace_raw,
    seconds_since,
    title_for,
    update_body,
)
from crashfix.issues.counted import is_counted, note_counted
from crashfix.issues.dumps import shared_dump_path
from crashfix.issues.lifecycle import count_revision
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
from crashfix.uploader.host import host_id as machine_host_id
from crashfix.uploader.index import IssueIndex
from crashfix.uploader.pacing import ContentBudget, ContentDeferred
from crashfix.uploader.provenance import Commits, clean
from crashfix.uploader.spool import CrashRow, Spool
from crashfix.uploader.verification import LABEL_COLORS as FIX_LABEL_COLORS
from crashfix.uploader.verification import FixTracker, Seen, Verdict, build_name
from crashfix.uploader.watch_round import WatchRound

if TYPE_CHECKING:  # the filer only calls it; importing it would load PyGithub
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)

LABEL_COLORS = {"crash": ("b60205", "A crash filed by crashfix"),
                "regression": ("d93f0b", "A fixed crash that came back"),
                "crashfix:low-quality": ("c5def5", "Crash signature without symbols: may group unrelated crashes"),
                **FIX_LABEL_COLORS}
RACE_WINDOW = 600.0
SYNC_EVERY = 600.0


@dataclass
class Occurrence:
    row: CrashRow
    report: CrashReport
    seq: int
    commit: str | None = None  # the crashing build's full commit id, when the repository has it

    @property
    def file_time(self) -> float:
        return self.row.crash_time if self.row.crash_time is not None else self.row.found_at

    @property
    def revision(self) -> str:
        """How the record counts its build: the full commit, else the revision as named, else `unknown`."""
        return self.commit or clean(self.row.revision) or "unknown"

    def seen(self, host: str) -> Seen:
        when = now_iso(self.file_time).replace("T", " ").replace("Z", " UTC")
        name = PurePath(self.row.files[0]).name if self.row.files else self.row.stem
        return Seen(self.row.revision, self.commit, self.report, f"{code(name)} on {code(host)}, {when}")


class Filer:
    """Files analysed crashes of one signature at a time into one repository."""

    def __init__(self, repo: RepoAPI, spool: Spool, settings: UploaderSettings, host: str,
                 clock: Callable[[], float], notifier: Notifier | None = None, *, host_id: str | None = None,
                 rules: SkipRules | None = None) -> None:
        self.repo = repo
        self.notifier = notifier
        self.spool = spool
        self.settings = settings
        self.host = host
        self.host_id = host_id or machine_host_id(settings)
        self.clock = clock
        self.links = SourceLinks(repo.html_url, settings.source_roots)
        self.index = IssueIndex(repo, spool, settings, clock, self.links, rules or rules_for(None))
        self.budget = ContentBudget(spool.db, clock, settings.content_per_minute, settings.content_per_hour)
        self.commits = Commits(repo, spool.db, clock)
        self.fixes = FixTracker(repo, spool, settings, self.commits, self.links, clock)
        self.round = WatchRound(self)

    def prepare(self, signatures: list[str]) -> None:
        """One listing per filing round when a signature is not in the map yet, or the last is a while ago
        (maintainers' duplicate decisions and reopenings are seen that way too)."""
        last = float(self.spool.get_meta("issues_synced_at") or 0)
        if (self.clock() - last > SYNC_EVERY
                or any(self.index.locate(signature) is None for signature in signatures)):
            self.index.sync()

    def watch_round(self) -> None:
        """The fix watch's periodic round (see `watch_round`)."""
        self.round.run()

    @staticmethod
    def label_colors(label: str) -> tuple[str, str]:
        return LABEL_COLORS.get(label, ("ededed", "crashfix"))

    def _spend(self, required: bool = True) -> bool:
        """Take one creation from GitHub's content budget; when spent, wait (required) or skip."""
        wait = self.budget.wait()
        if wait > 0:
            if required:
                raise ContentDeferred(wait, self.budget)
            return False
        self.budget.spend()
        return True

    # --- filing ----------------------------------------------------------------------

    def file(self, signature: str, rows: list[CrashRow]) -> int:
        """Count these crashes on their signature's issue (creating it); returns the issue number."""
        seqs = self.spool.assign_file_seqs([row.id for row in rows])
        occurrences = [Occurrence(row, CrashReport.model_validate_json(row.report or "{}"), seqs[row.id],
                                  self.commits.resolve(row.revision)) for row in rows]
        chain: list[IssueData] = []
        report_signature = occurrences[0].report.signature
        for _ in range(5):  # an issue found unusable is forgotten: look again
            number = self.index.locate(signature)
            if number is None and report_signature is not None:
                number = self.index.locate_group(report_signature)
            chain = self.index.resolve(number) if number is not None else []
            if chain or number is None:
                break
        if not chain:
            issue = self._create(signature, occurrences)
            issue = self._converge(signature, issue, occurrences)
        else:
            issue = self._count(chain[-1], occurrences, before=chain[:-1])
        self.spool.mark_filed([row.id for row in rows], issue.number, self.clock(), f"issue #{issue.number}",
                              {row.id: row.content_hash for row in rows})
        return issue.number

    def _new_record(self, occurrences: list[Occurrence]) -> IssueRecord:
        first = occurrences[0]
        assert first.report.signature is not None
        seen = now_iso(first.row.found_at)
        return IssueRecord(signature=first.report.signature, report=trimmed_report(first.report),
                           first_seen=seen, last_seen=seen, first_revision=first.revision)

    def _apply(self, record: IssueRecord, occurrences: list[Occurrence],
               before: tuple[IssueRecord, ...] = ()) -> list[Occurrence]:
        """Count the occurrences this issue (nor one whose crashes now count here) has not counted yet."""
        def counted(occurrence: Occurrence) -> bool:
            return any(occurrence.seq <= earlier.watermarks.get(self.spool.host_id, 0)  # version 1: per-spool numbers
                       or is_counted(earlier.counted, self.host_id, occurrence.row.content_hash, occurrence.file_time)
                       for earlier in (record, *before))

        fresh = [o for o in occurrences if not counted(o)]
        for occurrence in fresh:
            record.occurrences += 1
            build = build_name(occurrence.report)
            record.builds[build] = record.builds.get(build, 0) + 1
            count_revision(record.revisions, occurrence.revision)
            record.hosts[self.host] = record.hosts.get(self.host, 0) + 1
            seen = now_iso(occurrence.row.found_at)
            count_day(record, seen)
            record.last_seen = max(record.last_seen, seen)
            record.first_seen = min(record.first_seen, seen)
            note_counted(record.counted, self.host_id, occurrence.row.content_hash, occurrence.file_time)
            shared = shared_dump_path(occurrence.row.files, self.settings.share_paths)
            record.dump_path = shared or record.dump_path
        if fresh:
            self.round.note_uptime(record)
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
        record.regression = self.round.regression_range(first.report, first.commit, first.file_time)
        body = render_body(record, self.links, first.row.raw, _raw_title(first.report))
        self._spend()
        labels = self._labels_for(record)
        try:
            issue = self.repo.create_issue(title_for(record.report), body, labels)
        except GitHubUnavailable as error:
            if not error.maybe_applied:
                raise
            # The request may have reached GitHub: look before creating a second issue.
            self.index.sync()
            found = self.index.locate(signature)
            chain = self.index.resolve(found) if found is not None else []
            if not chain:
                raise
            log.info("issue for %s was created although the connection failed: #%s", signature, chain[-1].number)
            return self._count(chain[-1], occurrences, before=chain[:-1])
        self.spool.issue_map.remember(issue.number, signature, issue.state, None, checked_at=issue.updated_at)
        self.spool.issue_map.keep_signature(issue.number, record.signature.model_dump_json())
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
            and not _is_duplicate(issue) and self.index.is_ours(issue)
        ]
        if not older:
            return ours
        canonical = min(older, key=lambda issue: issue.number)
        log.info("#%s and #%s carry the same signature; keeping #%s", ours.number, canonical.number, canonical.number)
        counted = self._count(canonical, occurrences)
        record = parse_record(ours.body)
        if record is not None:
            record.duplicate_of = canonical.number
            self.repo.edit_issue(ours.number, body=update_body(ours.body, record, self.links), state="closed",
                                 state_reason="duplicate")
        else:
            self.repo.edit_issue(ours.number, state="closed", state_reason="duplicate")
        self.spool.issue_map.remember(ours.number, signature, "closed", canonical.number)
        if self._spend(required=False):  # the record says it already; the comment is for people
            self.repo.comment(ours.number, duplicate_comment(canonical.number))
        return counted

    def _count(self, issue: IssueData, occurrences: list[Occurrence],
               before: list[IssueData] | None = None) -> IssueData:
        """Add repeats to an existing issue: counts, maybe a comment, maybe a regression reopen.

        `before`: issues closed as duplicates on the way here, whose records may have counted some already.
        """
        record = parse_record(issue.body)
        if record is None:  # someone removed our record: start a new one, keep their text
            record = self._new_record(occurrences)
        earlier = tuple(found for found in (parse_record(i.body) for i in before or []) if found is not None)
        fresh = self._apply(record, occurrences, earlier)
        if not fresh:
            return issue
        self.fixes.learn(issue, record)  # a close (or a `fixed-in:` label) not seen yet
        verdict = self.fixes.judge(issue, record, [occurrence.seen(self.host) for occurrence in fresh])
        return self._apply_verdict(issue, record, verdict)

    def _apply_verdict(self, issue: IssueData, record: IssueRecord, verdict: Verdict) -> IssueData:
        """Write the counts, and what the fix watch decided: a reopen, labels, a comment (or a repeat comment)."""
        now = self.clock()
        if verdict.reopen:
            self._spend()  # the reopen is explained by a comment: both wait for room
        elif verdict.comment is not None and not self._spend(required=False):
            verdict.comment = None  # no room now: the next crash on a build without the fix says it
        if verdict.kind == "without-fix" and verdict.comment is not None and record.fix is not None:
            record.fix.without_comment_at = now_iso(now)
        comment = None
        if (verdict.comment is None and not verdict.reopen and issue.state == "open"
                and self._comment_due(record, now) and self._spend(required=False)):  # else the next one says it all
            comment = repeat_comment(record, now)
            record.last_comment_at = now_iso(now)
            record.commented = Baseline(occurrences=record.occurrences, builds=list(record.builds),
                                        hosts=list(record.hosts))
        body = update_body(issue.body, record, self.links)
        updated = self.repo.edit_issue(issue.number, body=body, state="open" if verdict.reopen else None)
        for label in verdict.add:
            self.repo.ensure_label(label, *self.label_colors(label))
        if verdict.add:
            self.repo.add_labels(issue.number, verdict.add)
        for label in verdict.remove:
            self.repo.remove_label(issue.number, label)
        if verdict.comment is not None or comment is not None:
            self.repo.comment(issue.number, verdict.comment or comment or "")
        if verdict.reopen:
            log.info("#%s reopened (%s)", issue.number, verdict.kind)
            self._notify("regression", updated, verdict.comment or "")
        self.fixes.remember(issue.number, record)
        return updated

    def refresh(self, row: CrashRow, report: CrashReport, raw: str | None) -> str:
        """A filed crash file grew: show its final content on the issue if it says more; never count it again."""
        if row.issue_number is None or report.signature is None:
            return "not filed"
        chain = self.index.resolve(row.issue_number)
        issue = chain[-1] if chain else None
        record = parse_record(issue.body) if issue is not None else None
        if issue is None or record is None:
            return f"#{row.issue_number} is not readable: left as it is"
        if report.signature.id != record.signature.id:
            log.warning("%s grew after it was filed on #%s and now signs differently (%s); it stays counted there",
                        row.stem, issue.number, report.signature.id)
            return f"signs differently now ({report.signature.id}); stays counted on #{issue.number}"
        note_counted(record.counted, self.host_id, row.content_hash, row.crash_time or row.found_at)
        body = issue.body
        if len(report.frames) > len(record.report.frames):
            record.report = trimmed_report(report)
            if raw:
                body = replace_raw(body, raw, _raw_title(report))
        self.repo.edit_issue(issue.number, body=update_body(body, record, self.links))
        log.info("%s grew after filing: #%s shows its final content (%d frames)", row.stem, issue.number,
                 len(record.report.frames))
        return f"#{issue.number} shows the final content ({len(record.report.frames)} frames)"

    def _comment_due(self, record: IssueRecord, now: float) -> bool:
        return seconds_since(record.last_comment_at, now) >= self.settings.comment_interval_seconds


def _is_duplicate(issue: IssueData) -> bool:
    record = parse_record(issue.body)
    return record is not None and record.duplicate_of is not None


def _raw_title(report: CrashReport) -> str:
    names = {"cdb": "CDB analysis", "wheaty": "Crash log", "gdb": "gdb backtrace", "sanitizer": "Sanitizer report",
             "minidump": "Minidump", "breakpad": "Stackwalk output", "backtrace": "Backtrace",
             "assertion": "Assertion", "system-log": "System log"}
    return names.get(report.format.value, "Raw analysis")

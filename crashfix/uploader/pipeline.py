"""The uploader: new crash files -> spool -> analysis -> one issue per signature.

Each step commits to the spool before the next begins, so a crash survives a killed
process, an unreachable GitHub or a broken CDB: found crashes are analysed on the next
pass, analysed ones are filed when GitHub answers, and nothing is filed twice.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crashfix.analysis.blame import SkipRules
from crashfix.analysis.models import CrashReport
from crashfix.config import UploaderSettings
from crashfix.github.records import GitHubError, GitHubRateLimited
from crashfix.uploader.analysing import Analyser, Analysis
from crashfix.uploader.pacing import ContentDeferred
from crashfix.uploader.provenance import Provenance
from crashfix.uploader.schedule import NEXT_AT, watch_due
from crashfix.uploader.spool import CrashRow, FileInfo, Spool
from crashfix.uploader.uptime import RevisionReader, ServerWatch, UptimeLog
from crashfix.uploader.watcher import CompletenessTracker, matches, primary_first, scan

if TYPE_CHECKING:  # the filer (and PyGithub behind it) loads only in the filing process
    from crashfix.uploader.filing import Filer

log = logging.getLogger(__name__)


def content_hash(path: Path, limit: int | None = None) -> str:
    """sha256 of the file, or of its first `limit` bytes (was the old content a prefix of the new?)."""
    digest = hashlib.sha256()
    left = limit
    with path.open("rb") as handle:
        while left is None or left > 0:
            chunk = handle.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            digest.update(chunk)
            if left is not None:
                left -= len(chunk)
    return digest.hexdigest()


@dataclass
class RoundResult:
    """What one filing pass did."""

    filed: int = 0
    pending: int = 0
    error: GitHubError | None = None


class Uploader:
    def __init__(self, settings: UploaderSettings, spool: Spool, connect: Callable[[], Filer],
                 environ: Mapping[str, str], rules: SkipRules, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.spool = spool
        self._connect = connect
        self._filer: Filer | None = None
        self.environ = environ
        self.rules = rules
        self.clock = clock
        self.analyser = Analyser(settings, environ, rules, clock)
        self.patterns = tuple(settings.dump_patterns) + tuple(settings.text_patterns)
        reader = RevisionReader(settings.server, environ)
        self.server = ServerWatch(settings.server, reader)
        self.provenance = Provenance(reader, slack=2 * settings.server.sample_seconds + 5)

    # --- the server: which build runs, for how long ------------------------------------------

    def sample_server(self) -> None:
        """Note the server process's runs (see `uptime`), when a sample is due."""
        now = self.clock()
        if self.server.due(now):
            self.server.sample(now, UptimeLog(self.spool.db))

    def watch_round(self) -> None:
        """The fix watch's round, when due; a GitHub failure is logged and the round tried again later."""
        if not watch_due(self.spool, self.clock()):
            return
        try:
            self._filer_now().watch_round()
        except GitHubError as error:
            retry = min(self.settings.fix_watch_interval_seconds, 300.0)
            log.warning("the fix watch could not run: %s; trying again in %.0f s", error.one_line(), retry)
            self.spool.set_meta(NEXT_AT, str(self.clock() + retry))

    # --- discovery ------------------------------------------------------------------------

    def is_known(self, path: Path) -> bool:
        try:
            stat = path.stat()
        except OSError:
            return True
        return self.spool.known_file(str(path), stat.st_size, stat.st_mtime)

    def discover(self, group: list[Path]) -> int | None:
        """Record one crash (its files) in the spool; None if already there (or only grown)."""
        infos = []
        for path in group:
            try:
                stat = path.stat()
                if self.spool.known_file(str(path), stat.st_size, stat.st_mtime):
                    continue
                info = FileInfo(str(path), stat.st_size, stat.st_mtime, content_hash(path))
                if not self._grown(info):
                    infos.append(info)
            except OSError as error:
                log.warning("cannot read %s: %s", path, error.strerror or error)
        if not infos:
            return None
        crash_id = self.spool.record_crash(str(group[0].parent), group[0].stem, infos, self.clock())
        if crash_id is not None:
            log.info("new crash %s (%s)", group[0].stem, ", ".join(p.name for p in group))
        return crash_id

    def _grown(self, info: FileInfo) -> bool:
        """A file of a spooled crash got longer and kept its old content: same crash, analysed anew."""
        entry = self.spool.file_entry(info.path)
        if entry is None or entry.crash_id is None or entry.content_hash == info.content_hash:
            return False
        if info.size <= entry.size or content_hash(Path(info.path), entry.size) != entry.content_hash:
            return False  # rewritten, not appended: a new crash in the same file
        self.spool.grew(entry.crash_id, info, self.clock())
        log.info("%s grew to %d bytes: analysed again from its new content", Path(info.path).name, info.size)
        return True

    def _recheck(self, row: CrashRow) -> CrashRow | None:
        """Before analysing: files that changed since they were spooled make a fresh analysis."""
        for name in row.files:
            path = Path(name)
            try:
                stat = path.stat()
                if not self.spool.known_file(name, stat.st_size, stat.st_mtime):
                    self._grown(FileInfo(name, stat.st_size, stat.st_mtime, content_hash(path)))
            except OSError:
                continue
        return self.spool.get(row.id)

    # --- analysis -------------------------------------------------------------------------

    def analyse_due(self) -> int:
        done = 0
        for stale in self.spool.due("found", self.clock()):
            row = self._recheck(stale)
            if row is None or row.state != "found":
                continue
            outcome = self.analyser.analyse(row)
            if self._settle(row, outcome):
                done += 1
        return done

    def _settle(self, row: CrashRow, outcome: Analysis) -> bool:
        """Write the analysis's verdict to the spool; True when the crash is ready to file."""
        now = self.clock()
        if outcome.vanished:
            log.warning("%s: %s", row.stem, outcome.problem)
            self.spool.set_vanished(row.id, outcome.problem or "vanished", now)
            return False
        if outcome.report is None:
            if outcome.retry:
                delay = outcome.wait if outcome.wait is not None else self._backoff(row.attempts)
                log.info("%s: %s", row.stem, outcome.problem)
                self.spool.retry_later([row.id], "analyse", outcome.problem or "", now, delay)
            else:
                log.error("cannot analyse %s: %s", row.stem, outcome.problem)
                self.spool.set_unreadable(row.id, outcome.problem or "unreadable", now)
            return False
        report = outcome.report
        signature = report.signature
        assert signature is not None
        if report.kind != "crash":
            log.info("%s is a %s, not a crash: not filed", row.stem, report.kind)
            self.spool.set_unreadable(row.id, f"not a crash ({report.kind}): not filed", now)
            return False
        detail = f"{report.format.value}: {signature.crash_class} | {signature.text}"
        if outcome.notes:
            detail += " (" + "; ".join(outcome.notes) + ")"
        revision, source = self.provenance.of(report, row.crash_time or row.found_at, UptimeLog(self.spool.db))
        self.spool.set_revision(row.id, revision, source)  # before it may be filed: the filer is another process
        if revision:
            detail += f" (revision {revision}, from the {source})"
        self.spool.set_analysed(row.id, report.model_dump_json(), outcome.raw, signature.id, signature.quality,
                                now, detail)
        log.info("analysed %s: %s", row.stem, detail)
        return True

    # --- filing ---------------------------------------------------------------------------

    def _filer_now(self) -> Filer:
        if self._filer is None:
            self._filer = self._connect()
        return self._filer

    def file_due(self) -> RoundResult:
        result = RoundResult()
        groups = list(self.spool.due_by_signature(self.clock()).items())
        position = 0
        while position < len(groups):
            signature, rows = groups[position]
            try:
                filer = self._filer_now()
                if position == 0:
                    filer.prepare([name for name, _ in groups])
                filer.file(signature, rows)
                result.filed += len(rows)
            except ContentDeferred as deferred:  # this signature needs a new issue and the budget is spent
                self.spool.retry_later([row.id for row in rows], "file", str(deferred), self.clock(), deferred.wait)
                result.pending += len(rows)
                result.error = GitHubRateLimited(str(deferred), deferred.wait)
                log.info("%s waits %.0f s: %s", signature, deferred.wait, deferred)
            except GitHubError as error:
                if self._defer(error, groups, position, result):
                    break
            position += 1
        if result.error is None:
            self.refresh_due()
            self.watch_round()
        return result

    def _defer(self, error: GitHubError, groups: list[tuple[str, list[CrashRow]]], position: int,
               result: RoundResult) -> bool:
        """Put a failed group (or all the rest, when every one would fail alike) back in the queue."""
        signature, rows = groups[position]
        result.error = error
        limit_wait = error.wait if isinstance(error, GitHubRateLimited) else None
        everyone_fails = (self._filer is None or not error.transient or error.status is None
                          or limit_wait is not None)
        deferred = [row for _, later in groups[position:] for row in later] if everyone_fails else rows
        delay = limit_wait if limit_wait is not None else self._backoff(max(row.attempts for row in deferred))
        self.spool.retry_later([row.id for row in deferred], "file", error.one_line(), self.clock(), delay)
        result.pending += len(deferred)
        log.warning("could not file %s: %s; retrying in %.0f s", signature, error.one_line(), delay)
        return everyone_fails  # GitHub unreachable or refusing the token: the rest would fail alike

    def refresh_due(self) -> int:
        """Filed crashes whose file grew since: their issue shows the final content (never a second count)."""
        done = 0
        for row in self.spool.regrown():
            outcome = self.analyser.analyse(row)
            report: CrashReport | None = outcome.report
            try:
                detail = self._filer_now().refresh(row, report, outcome.raw) if report is not None else (
                    outcome.problem or "not analysable")
            except GitHubError as error:  # it stays counted; only the issue shows less than it could
                log.warning("could not update #%s for %s: %s", row.issue_number, row.stem, error.one_line())
                self.spool.set_refreshed(row.id, None, None, self.clock(), f"not shown: {error.one_line()}",
                                         row.regrown)
                continue
            self.spool.set_refreshed(row.id, report.model_dump_json() if report is not None else None, outcome.raw,
                                     self.clock(), detail, row.regrown)
            done += 1
        return done

    def _backoff(self, attempts: int) -> float:
        base = self.settings.retry_initial_seconds * (2 ** min(attempts, 10))
        return min(self.settings.retry_max_seconds, base) * random.uniform(0.8, 1.2)

    def pending(self) -> int:
        counts = self.spool.counts()
        return counts["found"] + counts["analysed"]

    # --- the short-lived ways to run --------------------------------------------------------

    def run_once(self, directories: list[Path]) -> tuple[int, str]:
        """Process what is there now, drain the queue; (exit code, summary)."""
        tracker = CompletenessTracker(self.settings.settle_seconds, self.patterns)
        started = self.clock()
        self.sample_server()
        for path in scan(directories, self.settings.recursive):
            if not self.is_known(path):
                tracker.observe(path, started)
        while tracker.files and self.clock() - started < self.settings.once_give_up_seconds:
            for group in tracker.poll(self.clock()):
                self.discover(group)
            if tracker.files:
                time.sleep(min(0.1, self.settings.settle_seconds / 4))
        self.analyse_due()
        error: GitHubError | None = None
        while True:
            result = self.file_due()
            error = result.error or error
            if self.pending() == 0:
                break
            if error is not None and not error.transient:
                break
            due = self.spool.next_due() or self.clock()
            if due - started > self.settings.once_give_up_seconds:
                break
            time.sleep(max(0.0, due - self.clock()))
            self.analyse_due()
        return self._summary(error)

    def _summary(self, error: GitHubError | None) -> tuple[int, str]:
        counts = self.spool.counts()
        unfiled = counts["found"] + counts["analysed"]
        message = f"{counts['filed']} filed, {unfiled} waiting, {counts['unreadable']} unreadable or not crashes"
        if counts["vanished"]:
            message += f", {counts['vanished']} vanished before analysis (filed if their files reappear)"
        if unfiled:
            reason = error.message if error else "analysis is waiting for a file to finish"
            if error is not None and error.hint and not error.transient:
                reason += f" ({error.hint})"
            return 1, f"{message}: {unfiled} crash(es) could not be filed: {reason}. They stay in the spool."
        return 0, message

    def file_one(self, path: Path) -> tuple[int, str]:
        """`crashfix file PATH`: this crash and its same-named siblings, now."""
        crash_id = self.spool_one(path)
        if crash_id is None:
            return 0, f"{path.name} is already in the spool (see crashfix status)"
        self.analyse_due()
        result = self.file_due()
        row = self.spool.get(crash_id)
        if row is not None and row.state == "filed":
            return 0, f"filed {path.name} as issue #{row.issue_number}"
        reason = result.error.message if result.error else (row.last_error if row else None) or "unknown reason"
        return 1, f"{path.name} was not filed: {reason}. It stays in the spool; crashfix watch retries it."

    def spool_one(self, path: Path) -> int | None:
        siblings = [p for p in path.parent.glob(glob.escape(path.stem) + ".*") if matches(p, self.patterns)]
        return self.discover(sorted(siblings or [path], key=primary_first))


def host_name(settings: UploaderSettings) -> str:
    return settings.host_name or socket.gethostname()

"""The uploader: new crash files -> spool -> analysis -> one issue per signature.

Each step commits to the spool before the next begins, so a crash survives a killed
process, an unreachable GitHub or a broken CDB: found crashes are analysed on the next
pass, analysed ones are filed when GitHub answers, and nothing is filed twice.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crashfix.analysis.analyze import analyze_path, analyze_text, finish
from crashfix.analysis.blame import SkipRules
from crashfix.analysis.models import CrashReport, SourceFormat
from crashfix.analysis.textclean import decode
from crashfix.config import UploaderSettings
from crashfix.errors import ParseError
from crashfix.github.records import GitHubError, GitHubRateLimited
from crashfix.uploader import cdb
from crashfix.uploader.filing import Filer
from crashfix.uploader.spool import CrashRow, FileInfo, Spool
from crashfix.uploader.watcher import DUMP_SUFFIXES, CompletenessTracker, DirectoryWatcher, matches, primary_first, scan

log = logging.getLogger(__name__)

RAW_LIMIT = 60_000
YOUNG_DUMP_SECONDS = 600.0
HEARTBEAT_SECONDS = 10.0
PRUNE_SECONDS = 3600.0


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Analysis:
    report: CrashReport | None
    raw: str | None = None
    notes: list[str] = field(default_factory=list)
    retry: bool = False
    problem: str | None = None


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
        self.patterns = tuple(settings.dump_patterns) + tuple(settings.text_patterns)

    # --- discovery ------------------------------------------------------------------------

    def is_known(self, path: Path) -> bool:
        try:
            stat = path.stat()
        except OSError:
            return True
        return self.spool.known_file(str(path), stat.st_size, stat.st_mtime)

    def discover(self, group: list[Path]) -> int | None:
        """Record one crash (its files) in the spool; None if already there."""
        infos = []
        for path in group:
            try:
                stat = path.stat()
                if self.spool.known_file(str(path), stat.st_size, stat.st_mtime):
                    continue
                infos.append(FileInfo(str(path), stat.st_size, stat.st_mtime, content_hash(path)))
            except OSError as error:
                log.warning("cannot read %s: %s", path, error.strerror or error)
        if not infos:
            return None
        crash_id = self.spool.record_crash(str(group[0].parent), group[0].stem, infos, self.clock())
        if crash_id is not None:
            log.info("new crash %s (%s)", group[0].stem, ", ".join(p.name for p in group))
        return crash_id

    # --- analysis -------------------------------------------------------------------------

    def analyse_due(self) -> int:
        done = 0
        for row in self.spool.due("found", self.clock()):
            outcome = self.analyse(row)
            now = self.clock()
            if outcome.report is None:
                if outcome.retry:
                    self.spool.retry_later([row.id], "analyse", outcome.problem or "", now, self._backoff(row.attempts))
                else:
                    log.error("cannot analyse %s: %s", row.stem, outcome.problem)
                    self.spool.set_unreadable(row.id, outcome.problem or "unreadable", now)
                continue
            report = outcome.report
            signature = report.signature
            assert signature is not None
            if report.kind != "crash":
                log.info("%s is a %s, not a crash: not filed", row.stem, report.kind)
                self.spool.set_unreadable(row.id, f"not a crash ({report.kind}): not filed", now)
                continue
            detail = f"{report.format.value}: {signature.crash_class} | {signature.text}"
            if outcome.notes:
                detail += " (" + "; ".join(outcome.notes) + ")"
            self.spool.set_analysed(row.id, report.model_dump_json(), outcome.raw, signature.id, signature.quality,
                                    now, detail)
            log.info("analysed %s: %s", row.stem, detail)
            done += 1
        return done

    def analyse(self, row: CrashRow) -> Analysis:
        """CDB on the dump when available, else the crash log, else the minidump itself."""
        paths = [Path(p) for p in row.files]
        dumps = [p for p in paths if p.suffix.lower() in DUMP_SUFFIXES]
        texts = [p for p in paths if p not in dumps]
        notes: list[str] = []
        if dumps:
            outcome = cdb.analyse_dump(dumps[0], self.settings.cdb, self.environ)
            if outcome.text is not None:
                try:
                    report = analyze_text(outcome.text, SourceFormat.CDB, self.rules)
                    return Analysis(self._with_log_facts(report, texts), outcome.text[:RAW_LIMIT], notes)
                except ParseError as error:
                    notes.append(f"CDB output unusable: {error.message}")
            elif outcome.problem:
                notes.append(outcome.problem)
                log.info("%s: %s", row.stem, outcome.problem)
        problems: list[str] = []
        for text in texts:
            try:
                report = analyze_path(text, None, self.rules)
                raw = decode(text.read_bytes()[: RAW_LIMIT * 2])[:RAW_LIMIT]
                return Analysis(report, raw, notes)
            except (ParseError, OSError) as error:
                problems.append(f"{text.name}: {getattr(error, 'message', error)}")
        for dump in dumps:
            try:
                return Analysis(analyze_path(dump, SourceFormat.MINIDUMP, self.rules), None,
                                notes + ["read the minidump directly (no CDB, no crash log)"])
            except ParseError as error:
                problems.append(f"{dump.name}: {error.message}")
                young = self.clock() - _mtime(dump) < YOUNG_DUMP_SECONDS
                if young and "truncated" in error.message:
                    return Analysis(None, retry=True, problem=f"{dump.name} looks unfinished; will look again")
        return Analysis(None, problem="; ".join(notes + problems) or "no readable crash file")

    def _with_log_facts(self, report: CrashReport, texts: list[Path]) -> CrashReport:
        """CDB does not know the build; TrinityCore's crash log beside the dump does."""
        if report.build is not None and report.assertion is not None:
            return report
        for text in texts:
            try:
                log_report = analyze_path(text, None, self.rules)
            except (ParseError, OSError):
                continue
            report.build = report.build or log_report.build
            report.assertion = report.assertion or log_report.assertion
            return finish(report, self.rules)
        return report

    # --- filing ---------------------------------------------------------------------------

    def file_due(self) -> RoundResult:
        result = RoundResult()
        groups = list(self.spool.due_by_signature(self.clock()).items())
        for position, (signature, rows) in enumerate(groups):
            try:
                if self._filer is None:
                    self._filer = self._connect()
                if position == 0:
                    self._filer.prepare([name for name, _ in groups])
                self._filer.file(signature, rows)
                result.filed += len(rows)
            except GitHubError as error:
                result.error = error
                limit_wait = error.wait if isinstance(error, GitHubRateLimited) else None
                everyone_fails = (self._filer is None or not error.transient or error.status is None
                                  or limit_wait is not None)
                deferred = [row for _, later in groups[position:] for row in later] if everyone_fails else rows
                delay = limit_wait if limit_wait is not None else self._backoff(max(row.attempts for row in deferred))
                self.spool.retry_later([row.id for row in deferred], "file", error.one_line(), self.clock(), delay)
                result.pending += len(deferred)
                log.warning("could not file %s: %s; retrying in %.0f s", signature, error.one_line(), delay)
                if everyone_fails:  # GitHub unreachable or refusing the token: the rest would fail alike
                    break
        return result

    def _backoff(self, attempts: int) -> float:
        base = self.settings.retry_initial_seconds * (2 ** min(attempts, 10))
        return min(self.settings.retry_max_seconds, base) * random.uniform(0.8, 1.2)

    def pending(self) -> int:
        counts = self.spool.counts()
        return counts["found"] + counts["analysed"]

    # --- the two ways to run -----------------------------------------------------------

    def run_once(self, directories: list[Path]) -> tuple[int, str]:
        """Process what is there now, drain the queue; (exit code, summary)."""
        tracker = CompletenessTracker(self.settings.settle_seconds, self.patterns)
        started = self.clock()
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
        if unfiled:
            reason = error.message if error else "analysis is waiting for a file to finish"
            if error is not None and error.hint and not error.transient:
                reason += f" ({error.hint})"
            return 1, f"{message}: {unfiled} crash(es) could not be filed: {reason}. They stay in the spool."
        return 0, message

    def file_one(self, path: Path) -> tuple[int, str]:
        """`crashfix file PATH`: this crash and its same-named siblings, now."""
        siblings = [p for p in path.parent.glob(glob.escape(path.stem) + ".*") if matches(p, self.patterns)]
        crash_id = self.discover(sorted(siblings or [path], key=primary_first))
        if crash_id is None:
            return 0, f"{path.name} is already in the spool (see crashfix status)"
        self.analyse_due()
        result = self.file_due()
        row = self.spool.get(crash_id)
        if row is not None and row.state == "filed":
            return 0, f"filed {path.name} as issue #{row.issue_number}"
        reason = result.error.message if result.error else (row.last_error if row else None) or "unknown reason"
        return 1, f"{path.name} was not filed: {reason}. It stays in the spool; crashfix watch retries it."

    def run_forever(self, directories: list[Path], stop: threading.Event) -> None:
        """Watch until `stop` is set: events, a periodic rescan, retries when due."""
        watcher = DirectoryWatcher(directories, self.settings.recursive)
        watcher.start()
        tracker = CompletenessTracker(self.settings.settle_seconds, self.patterns)
        next_rescan = 0.0
        next_heartbeat = 0.0
        next_prune = 0.0
        try:
            while not stop.is_set():
                now = self.clock()
                for path in watcher.drain():
                    if not self.is_known(path):
                        tracker.observe(path, now)
                if now >= next_rescan:
                    for path in scan(directories, self.settings.recursive):
                        if path not in tracker.files and not self.is_known(path):
                            tracker.observe(path, now)
                    next_rescan = now + self.settings.rescan_interval_seconds
                for group in tracker.poll(now):
                    self.discover(group)
                self.analyse_due()
                self.file_due()
                if now >= next_heartbeat:
                    self.spool.set_meta("watcher", f"{os.getpid()} {now}")
                    next_heartbeat = now + HEARTBEAT_SECONDS
                if now >= next_prune:
                    pruned = self.spool.prune(now, self.settings.retention_days * 86400)
                    if pruned:
                        log.info("pruned %d filed crash(es) older than %g days", pruned, self.settings.retention_days)
                    next_prune = now + PRUNE_SECONDS
                deadlines = [next_rescan, next_heartbeat]
                for candidate in (tracker.next_deadline(now), self.spool.next_due()):
                    if candidate is not None:
                        deadlines.append(candidate)
                timeout = max(0.01, min(deadlines) - self.clock())
                watcher.wakeup.wait(timeout)
                watcher.wakeup.clear()
        finally:
            watcher.stop()
            self.spool.set_meta("watcher", "")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def host_name(settings: UploaderSettings) -> str:
    return settings.host_name or socket.gethostname()

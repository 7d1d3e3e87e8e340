"""Turning a spooled crash's files into a CrashReport: CDB, the crash log, the minidump.

Whether the answer is final matters as much as the answer. Files that are gone are
waited for (`vanished`), files that cannot be opened right now are retried, and a
crash text that was still being written when it settled (a crash handler printing a
backtrace frame by frame) is analysed again when it changes, until it is complete or
older than the grace period. Only content read whole that cannot be analysed is final.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crashfix.analysis.analyze import MAX_TEXT_BYTES, analyze_bytes, analyze_path, analyze_text, finish
from crashfix.analysis.blame import SkipRules
from crashfix.analysis.models import CrashReport, SourceFormat
from crashfix.analysis.parsers import MIN_CONFIDENCE, rank_text_formats
from crashfix.analysis.textclean import clean_text, decode
from crashfix.config import UploaderSettings
from crashfix.errors import ParseError
from crashfix.uploader import cdb
from crashfix.uploader.spool import CrashRow
from crashfix.uploader.watcher import DUMP_SUFFIXES

log = logging.getLogger(__name__)

RAW_LIMIT = 60_000
YOUNG_DUMP_SECONDS = 600.0
SIGNATURE_FRAMES = 3  # a stack shorter than a signature's frames may still be growing


@dataclass
class Analysis:
    report: CrashReport | None
    raw: str | None = None
    notes: list[str] = field(default_factory=list)
    retry: bool = False
    problem: str | None = None
    vanished: bool = False
    wait: float | None = None  # retry after this long rather than the usual backoff


def unfinished(report: CrashReport) -> str | None:
    """Why a crash text may still be being written, from what its analysis found; None if it looks whole.

    The signal: no frames at all, a `truncated` warning, no frame to blame, or fewer frames
    from the blamed one down than a signature uses. Only asked of young crash texts.
    """
    if not report.frames:
        return "no stack yet"
    if any(warning.code == "truncated" for warning in report.warnings):
        return "cut short"
    if report.blamed_frame_index is None:
        return "no frame to blame yet"
    if report.signature is not None and len(report.signature.frames) < SIGNATURE_FRAMES:
        return f"only {len(report.signature.frames)} frame(s) from the blamed one down"
    return None


def _looks_like_crash_text(data: bytes) -> bool:
    """Whether the start of a text is recognisably crash output (or nothing yet): worth waiting for."""
    text = clean_text(decode(data[:262_144]))
    return not text.strip() or any(score >= MIN_CONFIDENCE for score, _ in rank_text_formats(text))


class Analyser:
    def __init__(self, settings: UploaderSettings, environ: Mapping[str, str], rules: SkipRules,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.environ = environ
        self.rules = rules
        self.clock = clock

    def analyse(self, row: CrashRow) -> Analysis:
        """CDB on the dump when available, else the crash log, else the minidump itself."""
        paths = [Path(p) for p in row.files]
        present = [p for p in paths if p.exists()]
        if not present:
            return Analysis(None, vanished=True,
                            problem="its files vanished before analysis; it is filed if they reappear")
        dumps = [p for p in present if p.suffix.lower() in DUMP_SUFFIXES]
        texts = [p for p in present if p not in dumps]
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
            outcome_text = self._text(text, notes, problems)
            if outcome_text is not None:
                return outcome_text
        for dump in dumps:
            try:
                return Analysis(analyze_path(dump, SourceFormat.MINIDUMP, self.rules), None,
                                notes + ["read the minidump directly (no CDB, no crash log)"])
            except ParseError as error:
                problems.append(f"{dump.name}: {error.message}")
                if self._age(dump) < YOUNG_DUMP_SECONDS and "truncated" in error.message:
                    return Analysis(None, retry=True, problem=f"{dump.name} looks unfinished; will look again")
            except OSError as error:
                return Analysis(None, retry=True, problem=f"cannot read {dump.name} now ({error.strerror or error})")
        return Analysis(None, problem="; ".join(notes + problems) or "no readable crash file")

    def _text(self, text: Path, notes: list[str], problems: list[str]) -> Analysis | None:
        """One crash text: a report, a reason to wait for its writer, or None (try the next file)."""
        grace = self.settings.incomplete_grace_seconds - self._age(text)
        try:
            with text.open("rb") as handle:
                data = handle.read(MAX_TEXT_BYTES + 1)
        except OSError as error:
            if not text.exists():
                return None
            return Analysis(None, retry=True, problem=f"cannot read {text.name} now ({error.strerror or error})")
        try:
            report = analyze_bytes(data[:MAX_TEXT_BYTES], None, self.rules)
        except ParseError as error:
            if grace > 0 and _looks_like_crash_text(data):  # a server's own busy log is not waited on
                return Analysis(None, retry=True, wait=grace + 0.5,
                                problem=f"{text.name} looks unfinished ({error.message}); waiting for its writer")
            problems.append(f"{text.name}: {error.message}")
            return None
        if len(data) > MAX_TEXT_BYTES:
            report.warn("truncated", f"only the first {MAX_TEXT_BYTES // (1024 * 1024)} MB of the file were read")
        reason = unfinished(report) if report.kind == "crash" else None
        if reason is not None and grace > 0:
            return Analysis(None, retry=True, wait=grace + 0.5,
                            problem=f"{text.name} looks unfinished ({reason}); waiting for its writer")
        return Analysis(report, decode(data[: RAW_LIMIT * 2])[:RAW_LIMIT], notes)

    def _age(self, path: Path) -> float:
        try:
            return self.clock() - path.stat().st_mtime
        except OSError:
            return float("inf")

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

"""When an analysis is final: unfinished crash texts wait for their writer, vanished files for their return."""

from __future__ import annotations

import os
import time
from pathlib import Path

from crashfix.analysis.analyze import rules_for
from crashfix.uploader.analysing import Analyser
from crashfix.uploader.spool import CrashRow, FileInfo, Spool
from tests.uploader.helpers import gdb_crash, settings


def row_for(tmp_path: Path, path: Path) -> CrashRow:
    spool = Spool(tmp_path / "state" / "spool.sqlite3")
    digest = f"{path.name}-{time.monotonic_ns()}"  # a new content each time: a new crash row
    crash_id = spool.record_crash(str(path.parent), path.stem, [FileInfo(str(path), 1, 1.0, digest)], 1.0)
    row = spool.get(crash_id)  # type: ignore[arg-type]
    assert row is not None
    return row


def analyser(tmp_path: Path) -> Analyser:
    return Analyser(settings(tmp_path / "state", incomplete_grace_seconds=60.0), dict(os.environ), rules_for(None))


def test_an_unfinished_young_crash_text_waits_and_an_old_one_is_final(tmp_path: Path) -> None:
    crash = tmp_path / "crash.txt"
    crash.write_text(gdb_crash("Spell::Cast").split("#1")[0], encoding="utf-8")  # one frame so far
    waiting = analyser(tmp_path).analyse(row_for(tmp_path, crash))
    assert waiting.report is None and waiting.retry and "looks unfinished" in (waiting.problem or "")
    assert waiting.wait is not None and 55 < waiting.wait <= 60.5
    old = time.time() - 120
    os.utime(crash, (old, old))
    final = analyser(tmp_path).analyse(row_for(tmp_path, crash))
    assert final.report is not None and len(final.report.frames) == 1  # unchanged for the grace: filed as it is


def test_a_header_without_a_stack_waits_but_a_busy_server_log_does_not(tmp_path: Path) -> None:
    header = tmp_path / "crash.txt"
    header.write_text("Program terminated with signal SIGSEGV, Segmentation fault.\n", encoding="utf-8")
    assert analyser(tmp_path).analyse(row_for(tmp_path, header)).retry
    server_log = tmp_path / "Server.log"
    server_log.write_text("2026-12-01 10:00:00 World initialized in 12 seconds\n" * 50, encoding="utf-8")
    outcome = analyser(tmp_path).analyse(row_for(tmp_path, server_log))
    assert outcome.report is None and not outcome.retry and not outcome.vanished


def test_a_vanished_file_is_waited_for_not_given_up(tmp_path: Path) -> None:
    crash = tmp_path / "gone.txt"
    crash.write_text(gdb_crash("Spell::Cast"), encoding="utf-8")
    row = row_for(tmp_path, crash)
    crash.unlink()
    outcome = analyser(tmp_path).analyse(row)
    assert outcome.vanished and outcome.report is None

"""When a crash file is complete, and which files make one crash."""

from __future__ import annotations

import time
from pathlib import Path

from crashfix.uploader.watcher import CompletenessTracker, DirectoryWatcher, scan

PATTERNS = ("*.dmp", "*.txt", "*.log")


def test_a_growing_file_is_not_complete_until_it_stops_changing(tmp_path: Path) -> None:
    dump = tmp_path / "crash.dmp"
    dump.write_bytes(b"MDMP" + b"\0" * 100)
    tracker = CompletenessTracker(settle=1.0, patterns=PATTERNS)
    tracker.observe(dump, 0.0)
    for step in range(1, 6):  # the server keeps writing: size changes each check
        with dump.open("ab") as handle:
            handle.write(b"x" * 1000)
        assert tracker.poll(step * 0.6) == []
    assert tracker.poll(3.6) == []  # unchanged for 0.6 s only
    assert tracker.poll(4.2) == []  # complete; a moment's grace for its crash log
    assert tracker.poll(4.8) == [[dump]]
    assert tracker.poll(10.0) == []  # reported once


def test_a_text_crash_file_needs_no_grace(tmp_path: Path) -> None:
    log = tmp_path / "crash.txt"
    log.write_text("#0 ...", encoding="utf-8")
    tracker = CompletenessTracker(settle=1.0, patterns=PATTERNS)
    tracker.observe(log, 0.0)
    assert tracker.poll(0.9) == []
    assert tracker.poll(1.0) == [[log]]


def test_a_dump_and_its_crash_log_are_one_crash(tmp_path: Path) -> None:
    dump = tmp_path / "1a2b3c_worldserver.exe_[1-5_12-0-0].dmp"
    log = tmp_path / "1a2b3c_worldserver.exe_[1-5_12-0-0].txt"
    other = tmp_path / "other.txt"
    for path in (dump, log, other):
        path.write_text("x", encoding="utf-8")
    tracker = CompletenessTracker(settle=0.5, patterns=PATTERNS)
    for path in (log, dump, other, tmp_path / "notes.md"):
        tracker.observe(path, 0.0)
    groups = tracker.poll(0.5) + tracker.poll(1.0)
    assert sorted(groups) == sorted([[dump, log], [other]])


def test_a_late_sibling_joins_its_group(tmp_path: Path) -> None:
    dump = tmp_path / "c.dmp"
    dump.write_bytes(b"MDMP")
    tracker = CompletenessTracker(settle=1.0, patterns=PATTERNS)
    tracker.observe(dump, 0.0)
    assert tracker.poll(1.0) == []  # complete, but a sibling may still come
    log = tmp_path / "c.txt"
    log.write_text("crash log", encoding="utf-8")
    tracker.observe(log, 1.2)
    assert tracker.poll(1.6) == []
    assert tracker.poll(2.8) == [[dump, log]]  # with its log, the dump needs no more grace


def test_deleted_files_are_forgotten(tmp_path: Path) -> None:
    dump = tmp_path / "gone.dmp"
    dump.write_bytes(b"MDMP")
    tracker = CompletenessTracker(settle=0.5, patterns=PATTERNS)
    tracker.observe(dump, 0.0)
    dump.unlink()
    assert tracker.poll(1.0) == [] and not tracker.files


def test_rescan_finds_files_recursively_or_not(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.dmp").write_bytes(b"1")
    (tmp_path / "sub" / "b.dmp").write_bytes(b"2")
    assert {p.name for p in scan([tmp_path], recursive=False)} == {"a.dmp"}
    assert {p.name for p in scan([tmp_path], recursive=True)} == {"a.dmp", "b.dmp"}
    assert scan([tmp_path / "missing"], recursive=False) == []


def test_filesystem_events_wake_the_watcher(tmp_path: Path) -> None:
    watcher = DirectoryWatcher([tmp_path], recursive=False)
    watcher.start()
    try:
        time.sleep(0.2)
        (tmp_path / "new.dmp").write_bytes(b"MDMP")
        assert watcher.wakeup.wait(5), "no filesystem event within 5 s"
        time.sleep(0.2)
        assert tmp_path / "new.dmp" in watcher.drain()
    finally:
        watcher.stop()

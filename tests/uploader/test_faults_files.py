"""Crash files as real hosts produce them, through the real CLI: written slowly, deleted and
restored, re-found after the spool was lost or corrupted. Every crash counted once."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import gdb_crash, write_crashes
from tests.uploader.process_helpers import (
    config_file,
    crash_issues,
    crashfix,
    filed_before,
    occurrences,
    record_of,
    run,
    spool_rows,
    wait_for,
    watch_once,
)


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake


def slow_backtrace_lines(frames: int) -> list[str]:
    """A gdb backtrace as a crash handler prints it: a header, then one frame per line."""
    lines = ['Thread 1 "worldserver" received signal SIGSEGV, Segmentation fault.\n']
    for index in range(frames):
        lines.append(f"#{index}  0x000055d1c2{index:06x} in Game::Step{index} (this=0x{index:x}) at "
                     f"/srv/src/server/game/Step{index}.cpp:{100 + index}\n")
    return lines


def test_a_crash_log_written_a_line_every_half_second_is_one_crash_with_its_whole_stack(
        github: FakeGitHub, tmp_path: Path) -> None:
    folder, state = tmp_path / "crashes", tmp_path / "state"
    folder.mkdir()
    config = config_file(tmp_path, settle_seconds=0.25, rescan_interval_seconds=60.0)
    watcher = crashfix("watch", str(folder), "--config", str(config), "--state-dir", str(state), github=github)
    crash = folder / "worldserver_crash.txt"
    lines = slow_backtrace_lines(20)

    def write_slowly() -> None:
        with crash.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
                handle.flush()
                time.sleep(0.5)

    try:
        wait_for(lambda: (state / "spool.sqlite3").exists(), "the watcher started", process=watcher)
        writer = threading.Thread(target=write_slowly)
        writer.start()
        writer.join(60)

        def whole_stack_shown() -> bool:
            issues = crash_issues(github)
            return len(issues) == 1 and len(record_of(github, next(iter(issues))).report.frames) == 20

        wait_for(whole_stack_shown, "the issue shows all 20 frames", timeout=90, process=watcher)
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=30)
    [number] = crash_issues(github)
    record = record_of(github, number)
    assert record.occurrences == 1  # one crash, counted once
    assert [frame.function for frame in record.report.frames[:3]] == ["Game::Step0", "Game::Step1", "Game::Step2"]
    assert "Game::Step19" in github.issues[number]["body"]  # the raw text too is the final one
    [row] = spool_rows(state)
    assert row["state"] == "filed" and row["files"].count("worldserver_crash.txt") == 1
    assert "Traceback" not in err


def test_a_file_that_vanished_before_analysis_is_filed_when_it_reappears(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state = tmp_path / "crashes", tmp_path / "state"
    folder.mkdir()
    # two frames, freshly written: it could still be growing, so analysis waits (grace: 3 s) ...
    crash = folder / "short.txt"
    crash.write_text(gdb_crash("Spell::Cast").split("#2")[0], encoding="utf-8")
    backup = tmp_path / "short.txt.bak"
    shutil.copy2(crash, backup)
    config = config_file(tmp_path, incomplete_grace_seconds=3.0, rescan_interval_seconds=0.5)
    watcher = crashfix("watch", str(folder), "--config", str(config), "--state-dir", str(state), github=github)
    try:
        wait_for(lambda: (state / "spool.sqlite3").exists() and len(spool_rows(state)) == 1, "the crash is spooled",
                 process=watcher)
        crash.unlink()  # ... and the file is gone before it was analysed
        wait_for(lambda: spool_rows(state)[0]["state"] == "vanished", "the crash is waiting for its file",
                 process=watcher)
        assert not crash_issues(github)
        status = run("status", "--state-dir", str(state), github=github).stdout
        assert "vanished 1" in status and "filed if they reappear" in status
        shutil.copy2(backup, crash)  # restored: same content, same time
        wait_for(lambda: occurrences(github) == [1], "the restored crash is filed", process=watcher)
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.communicate(timeout=30)
    assert [row["state"] for row in spool_rows(state)] == ["filed"]


def test_losing_the_state_folder_does_not_count_crashes_twice(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state, config = filed_before(github, tmp_path, signatures=1, repeats=4)
    assert occurrences(github) == [4]
    shutil.rmtree(state)  # the spool (and its old per-spool host id) is gone
    write_crashes(folder, signatures=1, repeats=1, prefix="after")
    watch_once(github, folder, state, config)
    assert occurrences(github) == [5]  # the four old files recognised, the new one counted
    assert len(github.requests_to("POST", r"/issues$")) == 1


def test_a_corrupt_spool_is_moved_aside_and_nothing_is_counted_twice(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state, config = filed_before(github, tmp_path, signatures=2, repeats=2)
    spool = state / "spool.sqlite3"
    for leftover in (state / "spool.sqlite3-wal", state / "spool.sqlite3-shm"):
        leftover.unlink(missing_ok=True)
    spool.write_bytes(b"this is not a database, a disk sector went bad " * 200)
    write_crashes(folder, signatures=1, repeats=1, prefix="new")
    again = watch_once(github, folder, state, config)
    assert "internal error" not in again.stderr
    moved = list(state.glob("spool.sqlite3.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not a database")
    log_lines = [line for line in (state / "logs" / "crashfix.log").read_text().splitlines() if "corrupt" in line]
    assert len(log_lines) == 1 and moved[0].name in log_lines[0]
    assert occurrences(github) == [2, 3]  # the old four recognised; the new repeat of Spell::Effect0 counted once
    assert os.path.getsize(spool) > 0 and len(spool_rows(state)) == 5

"""The state folder's pieces: the lock, the content budget, the host id, faults and a corrupt spool."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crashfix.config import UploaderSettings
from crashfix.uploader.host import host_id, machine_id
from crashfix.uploader.lock import StateFolderBusy, WatchLock, holder
from crashfix.uploader.pacing import ContentBudget
from crashfix.uploader.spool import FileInfo, Spool
from crashfix.uploader.state import open_spool, state_error


def test_the_lock_names_its_holder_and_goes_with_it(tmp_path: Path) -> None:
    assert holder(tmp_path) is None
    held = WatchLock.acquire(tmp_path)
    assert holder(tmp_path) == os.getpid()
    with pytest.raises(StateFolderBusy) as refused:
        WatchLock.acquire(tmp_path)
    assert refused.value.exit_code == 75 and f"pid {os.getpid()}" in refused.value.one_line()
    held.release()
    assert holder(tmp_path) is None
    # another process holding it, killed: the operating system releases the lock
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                              "from crashfix.uploader.lock import WatchLock\n"
                              f"held = WatchLock.acquire(Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    assert holder(tmp_path) == child.pid
    child.kill()
    child.wait(10)
    assert holder(tmp_path) is None
    WatchLock.acquire(tmp_path).release()


def test_the_content_budget_keeps_both_windows(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    now = [1000.0]
    budget = ContentBudget(spool.db, lambda: now[0], per_minute=3, per_hour=5)
    for _ in range(3):
        assert budget.wait() == 0.0
        budget.spend()
        now[0] += 1
    assert budget.wait() == pytest.approx(57.0)  # the first of the three leaves the minute at 1060
    now[0] = 1061.0
    for _ in range(2):
        assert budget.wait() == 0.0
        budget.spend()
    assert budget.wait() == pytest.approx(1000.0 + 3600 - 1061)  # five in the hour: until the first leaves
    again = ContentBudget(Spool(tmp_path / "spool.sqlite3").db, lambda: now[0], per_minute=3, per_hour=5)
    assert again.wait() > 0  # kept in the spool: a restart does not reset it


def test_the_host_id_comes_from_the_machine_not_the_spool() -> None:
    settings = UploaderSettings()
    assert host_id(settings) == host_id(UploaderSettings(state_dir=Path("/elsewhere")))
    assert len(host_id(settings)) == 12 and (machine_id() or "") not in host_id(settings)
    assert host_id(UploaderSettings(host_id="realm-1")) == "realm-1"


@pytest.mark.parametrize(("error", "full"), [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (OSError(errno.EROFS, "Read-only file system"), False),
    (PermissionError(errno.EACCES, "Permission denied"), False),
    (sqlite3.OperationalError("attempt to write a readonly database"), False),
])
def test_host_faults_become_one_line_with_exit_74(error: BaseException, full: bool, tmp_path: Path) -> None:
    translated = state_error(tmp_path, error)
    assert translated is not None and translated.exit_code == 74 and translated.full is full
    assert str(tmp_path) in translated.one_line()


def test_a_bug_is_not_taken_for_a_host_fault(tmp_path: Path) -> None:
    assert state_error(tmp_path, sqlite3.OperationalError("no such column: nonsense")) is None
    assert state_error(tmp_path, ValueError("a bug")) is None


def test_a_corrupt_spool_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "spool.sqlite3").write_bytes(b"garbage" * 1000)
    spool = open_spool(tmp_path, clock=0.0)
    assert spool.counts()["found"] == 0
    [moved] = tmp_path.glob("spool.sqlite3.corrupt-*")
    assert moved.read_bytes().startswith(b"garbage")


def test_an_older_spool_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE crashes (id INTEGER PRIMARY KEY AUTOINCREMENT, content_hash TEXT NOT NULL UNIQUE,"
                     " directory TEXT NOT NULL, stem TEXT NOT NULL, files TEXT NOT NULL, state TEXT NOT NULL,"
                     " found_at REAL NOT NULL, analysed_at REAL, filed_at REAL, report TEXT, raw TEXT,"
                     " signature_id TEXT, quality TEXT, file_seq INTEGER, issue_number INTEGER,"
                     " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0, last_error TEXT);"
                     "INSERT INTO crashes (content_hash, directory, stem, files, state, found_at)"
                     " VALUES ('h', '/c', 'x', '[\"/c/x.txt\"]', 'found', 1.0);")
    db.commit()
    db.close()
    spool = Spool(path)
    [row] = spool.due("found", 10.0)
    assert row.crash_time is None and row.regrown == 0
    assert spool.record_crash("/c", "y", [FileInfo("/c/y.txt", 1, 2.0, "h2")], 3.0) is not None


def test_internal_errors_are_logged_in_the_state_folder_in_use(tmp_path: Path) -> None:
    from crashfix.cli import commands as cli

    cli.STATE_IN_USE[:] = [tmp_path / "given-state"]
    try:
        where = cli.log_internal_error(RuntimeError("a bug"))
    finally:
        cli.STATE_IN_USE.clear()
    assert where == tmp_path / "given-state" / "logs" / "internal-errors.log"
    assert "RuntimeError: a bug" in where.read_text()


def test_status_of_a_corrupt_spool_says_what_happens_next(tmp_path: Path) -> None:
    from crashfix.uploader.status import describe_status

    (tmp_path / "spool.sqlite3").write_bytes(b"garbage" * 1000)
    text = describe_status(tmp_path, 0.0)
    assert "unreadable" in text and "the next crashfix watch moves it aside" in text

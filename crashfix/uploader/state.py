"""The state folder (spool, logs, lock) and what goes wrong with it on a real host.

A full disk, a read-only or foreign-owned folder, a corrupt spool: these are the
host's faults, not crashfix bugs, so each is one line naming the folder and what to
do, with exit code 74 (EX_IOERR). A corrupt spool is moved aside and a fresh one
takes over; crashes counted before are recognised from the issues' records, so none
is counted twice.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import time
from pathlib import Path

from crashfix.errors import CannotWrite
from crashfix.uploader.spool import Spool

log = logging.getLogger(__name__)

SPOOL_NAME = "spool.sqlite3"
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


class StateFolderError(CannotWrite):
    """The state folder cannot be written; `full` faults may pass by themselves (exit 74, like preflight's)."""

    def __init__(self, message: str, hint: str, *, full: bool) -> None:
        super().__init__(message, hint)
        self.full = full


def state_error(folder: Path, error: BaseException) -> StateFolderError | None:
    """The host fault behind `error` as one line, or None when it is not one."""
    text = str(error).lower()
    number = getattr(error, "errno", None)
    if number in _FULL_ERRNOS or "disk is full" in text or "no space left" in text:
        return StateFolderError(
            f"the disk holding the state folder {folder} is full",
            "free some space there; crashfix watch keeps retrying and no crash is lost meanwhile", full=True)
    denied = (number in _DENIED_ERRNOS or "readonly" in text or "read-only" in text
              or "unable to open database" in text or "permission denied" in text)
    if denied or isinstance(error, (PermissionError, NotADirectoryError, FileExistsError)):
        reason = getattr(error, "strerror", None) or str(error)
        return StateFolderError(
            f"cannot write to the state folder {folder} ({reason})",
            "make it writable for the account that runs crashfix, or choose another with --state-dir or "
            "[uploader] state_dir", full=False)
    if isinstance(error, (sqlite3.OperationalError, OSError)) and ("i/o" in text or number == errno.EIO):
        return StateFolderError(f"cannot write to the state folder {folder} (disk I/O error)",
                                "check the disk; crashfix watch keeps retrying", full=True)
    return None


def raise_state_error(folder: Path, error: BaseException) -> None:
    """Re-raise a host fault as a StateFolderError; anything else unchanged (a bug stays a bug)."""
    translated = state_error(folder, error)
    if translated is None:
        raise error
    raise translated from None


def open_spool(folder: Path, clock: float | None = None, *, recover: bool = True) -> Spool:
    """The spool in `folder`, usable for writing; a corrupt one is moved aside and replaced (`recover`,
    only by the process holding the state folder's lock)."""
    path = folder / SPOOL_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            spool = _checked(path)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) or not recover:
                raise
            moved = move_aside(path, time.time() if clock is None else clock)
            log.warning("the spool %s was corrupt (%s): moved aside to %s; a fresh spool takes over, and crashes "
                        "already counted are recognised from their issues", path, error, moved.name)
            spool = Spool(path)
        spool.set_meta("opened_at", str(time.time()))  # a write now: a read-only or full folder shows here
        return spool
    except (OSError, sqlite3.OperationalError) as error:
        raise_state_error(folder, error)
        raise  # unreachable: raise_state_error always raises


def _checked(path: Path) -> Spool:
    spool = Spool(path)
    problems = [row[0] for row in spool.db.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        spool.close()
        raise sqlite3.DatabaseError("; ".join(problems)[:200])
    return spool


def move_aside(path: Path, now: float) -> Path:
    """`spool.sqlite3` -> `spool.sqlite3.corrupt-20261202-050500` (its WAL and index files alike)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(target.with_name(target.name + suffix))
    return target

"""One watcher per state folder: an operating-system file lock on `watch.lock`.

Two watchers on one spool file every new crash twice (each one's issue an `opened`
event that starts the fix workflow). The lock is the OS's, so it goes away with the
process however that ends (kill -9, a crash, a reboot); no stale lock to clean up.
The holder's pid is written at the start of the file; on Windows the locked byte
lies beyond it, so other processes can still read who holds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from crashfix.errors import CrashfixError
from crashfix.file_lock import try_lock, unlock

LOCK_NAME = "watch.lock"


class StateFolderBusy(CrashfixError):
    """Another crashfix process holds the state folder."""

    exit_code = 75  # EX_TEMPFAIL: try again once the other one has stopped

    def __init__(self, folder: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"another crashfix watch ({who}) is already using the state folder {folder}",
                         "stop it first, or give this one its own --state-dir")
        self.pid = pid


class WatchLock:
    """Held from `acquire` until `release` or the end of the process."""

    def __init__(self, folder: Path, handle: IO[bytes]) -> None:
        self.folder = folder
        self._handle: IO[bytes] | None = handle

    @classmethod
    def acquire(cls, folder: Path) -> WatchLock:
        """Take the folder's lock now, or raise StateFolderBusy naming the holder."""
        handle = (folder / LOCK_NAME).open("a+b")
        if not try_lock(handle):
            handle.close()
            raise StateFolderBusy(folder, holder(folder))
        held = cls(folder, handle)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
        except OSError:
            held.release()
            raise
        return held

    def release(self) -> None:
        if self._handle is None:
            return
        try:
            try:
                self._handle.seek(0)
                self._handle.truncate()  # no stale pid for `crashfix status` to show
            except OSError:
                pass
            unlock(self._handle)
        finally:
            self._handle.close()
            self._handle = None


def holder(folder: Path) -> int | None:
    """The pid holding the folder's lock, or None when nobody does (0 if the holder wrote no pid yet)."""
    path = folder / LOCK_NAME
    try:
        handle = path.open("rb")
    except OSError:
        return None
    with handle:
        if try_lock(handle):
            unlock(handle)
            return None
        handle.seek(0)
        first = handle.read(32).split(b"\n", 1)[0].strip()
    return int(first) if first.isdigit() else 0

"""A non-blocking OS lock on an open file: `flock` on POSIX, `msvcrt.locking` on Windows.

The uploader's state folder and the fixer's build folder each allow one holder; the OS drops
the lock when the holding process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import sys
from typing import IO

LOCKED_BYTE = 4096  # Windows locks are mandatory: lock a byte past any text the file holds


def try_lock(handle: IO[bytes]) -> bool:
    """Take the lock now, or say False when another process holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows hosts
            import msvcrt

            handle.seek(LOCKED_BYTE)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows hosts
        import msvcrt

        handle.seek(LOCKED_BYTE)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

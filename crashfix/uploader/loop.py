"""`crashfix watch`: the long-running loop, and the short-lived process that files for it.

The watcher itself only sees, spools and analyses crashes; GitHub is talked to from a
filing process it starts when something is due and that ends once the queue has been
quiet for a few seconds. PyGithub alone keeps ~22 MB resident once imported; in a
process that ends, the watcher stays small however much it has filed.

Faults of the state folder (a full disk, a folder turned read-only) do not end the
watcher: it says so in one line and tries again, and the crashes wait in their folder.
A spool found corrupt is moved aside and a fresh one takes over.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from subprocess import Popen

from crashfix import procs
from crashfix.uploader import lock
from crashfix.uploader.pipeline import Uploader
from crashfix.uploader.schedule import NEXT_AT, watch_due
from crashfix.uploader.spool import Spool
from crashfix.uploader.state import StateFolderError, state_error
from crashfix.uploader.watcher import CompletenessTracker, DirectoryWatcher, scan

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
PRUNE_SECONDS = 3600.0
FILER_LINGER_SECONDS = 5.0
FAULT_RETRY_SECONDS = 10.0
_LEVELS = {name: getattr(logging, name) for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}


class FilingProcess:
    """The filing process: started when filing is due, its log lines forwarded to the watcher's log."""

    def __init__(self, argv: Sequence[str], environ: Mapping[str, str]) -> None:
        self.argv = list(argv)
        self.environ = dict(environ)
        self.process: Popen[bytes] | None = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = procs.start(self.argv, env=self.environ)
        threading.Thread(target=_forward, args=(self.process,), name="filer-log", daemon=True).start()
        log.debug("filing process %s started", self.process.pid)

    def stop(self) -> None:
        if self.process is not None:
            procs.stop(self.process)


def _forward(process: Popen[bytes]) -> None:
    """`12:00:00 INFO    filed ...` from the filing process -> the watcher's log, at the same level."""
    assert process.stderr is not None
    for raw in process.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in _LEVELS:
            log.log(_LEVELS[parts[1]], "%s", parts[2])
        elif line:
            log.info("%s", line)


class Watch:
    """One `crashfix watch` run: events, a periodic rescan, retries when due, faults waited out."""

    def __init__(self, uploader: Uploader, directories: list[Path], reopen: Callable[[], Spool],
                 filer: FilingProcess | None = None) -> None:
        self.uploader = uploader
        self.directories = directories
        self.reopen = reopen
        self.filer = filer
        self.settings = uploader.settings
        self.tracker = CompletenessTracker(self.settings.settle_seconds, uploader.patterns)
        self.next_rescan = 0.0
        self.next_heartbeat = 0.0
        self.next_prune = 0.0
        self.fault: str | None = None

    def run(self, stop: threading.Event) -> None:
        watcher = DirectoryWatcher(self.directories, self.settings.recursive)
        watcher.start()
        try:
            while not stop.is_set():
                try:
                    timeout = self.step(watcher)
                    if self.fault is not None:
                        log.info("the state folder works again")
                        self.fault = None
                except sqlite3.DatabaseError as error:
                    timeout = self._fault(error)
                watcher.wakeup.wait(timeout)
                watcher.wakeup.clear()
        finally:
            watcher.stop()
            if self.filer is not None:
                self.filer.stop()
            try:
                self.uploader.spool.set_meta("watcher", "")
            except sqlite3.Error:
                pass

    def step(self, watcher: DirectoryWatcher) -> float:
        """One pass; returns how long to sleep before the next."""
        uploader, now = self.uploader, self.uploader.clock()
        if self.fault is not None:  # a write shows whether the state folder works again
            uploader.spool.set_meta("watcher", f"{os.getpid()} {now}")
        for path in watcher.drain():
            if not uploader.is_known(path):
                self.tracker.observe(path, now)
        if now >= self.next_rescan:
            for path in scan(self.directories, self.settings.recursive):
                if path not in self.tracker.files and not uploader.is_known(path):
                    self.tracker.observe(path, now)
            self.next_rescan = now + self.settings.rescan_interval_seconds
        for group in self.tracker.poll(now):
            uploader.discover(group)
        uploader.sample_server()
        uploader.analyse_due()
        if self.filer is None:
            uploader.file_due()
        elif not self.filer.running() and (uploader.spool.filing_due(uploader.clock())
                                           or watch_due(uploader.spool, uploader.clock())):
            self.filer.start()
        if now >= self.next_heartbeat:
            uploader.spool.set_meta("watcher", f"{os.getpid()} {now}")
            self.next_heartbeat = now + HEARTBEAT_SECONDS
        if now >= self.next_prune:
            pruned = uploader.spool.prune(now, self.settings.retention_days * 86400)
            if pruned:
                log.info("pruned %d crash(es) older than %g days", pruned, self.settings.retention_days)
            self.next_prune = now + PRUNE_SECONDS
        deadlines = [self.next_rescan, self.next_heartbeat]
        if uploader.server.enabled:
            deadlines.append(uploader.server.next_at)
        watch_next = float(uploader.spool.get_meta(NEXT_AT) or 0)
        if watch_next > now:  # the fix watch's next round (one that is due starts the filing process above)
            deadlines.append(watch_next)
        if self.filer is not None and self.filer.running():
            deadlines.append(now + 0.5)  # its filings may free the queue for the next one
        for candidate in (self.tracker.next_deadline(now), uploader.spool.next_due()):
            if candidate is not None:
                deadlines.append(candidate)
        return max(0.01, min(deadlines) - uploader.clock())

    def _fault(self, error: sqlite3.DatabaseError) -> float:
        """A state-folder fault: one line per episode, then try again; a corrupt spool is replaced."""
        folder = self.uploader.spool.path.parent
        if not isinstance(error, sqlite3.OperationalError):
            log.warning("the spool failed (%s): replacing it", error)
            self.uploader.spool.close()
            self.uploader.spool = self.reopen()
            self.uploader._filer = None
            return 0.01
        if "locked" in str(error):  # another process held the spool past the busy timeout: try again
            log.warning("the spool was busy (%s); trying again", error)
            return 1.0
        translated = state_error(folder, error)
        if translated is None:
            raise error
        return self._wait_out(translated)

    def _wait_out(self, translated: StateFolderError) -> float:
        if self.fault is None:
            log.error("%s; retrying every %.0f s", translated.one_line(), FAULT_RETRY_SECONDS)
        self.fault = translated.one_line()
        return FAULT_RETRY_SECONDS


def file_until_quiet(uploader: Uploader, parent: int) -> int:
    """The filing process: file what is due until nothing has been for FILER_LINGER_SECONDS."""
    folder = uploader.spool.path.parent
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < FILER_LINGER_SECONDS:
        if os.getppid() != parent or lock.holder(folder) != parent:
            log.warning("the watcher (pid %s) that started this filing process is gone: stopping", parent)
            return 0
        if uploader.spool.filing_due(uploader.clock()):
            result = uploader.file_due()
            if result.filed:
                quiet_since = time.monotonic()
        elif watch_due(uploader.spool, uploader.clock()):
            uploader.watch_round()
        time.sleep(0.2)
    return 0

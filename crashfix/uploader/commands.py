"""What `crashfix watch`, `crashfix file` and the filing process do, from settings to an exit code.

The CLI parses flags and the config file; everything here takes the resulting settings.
The state folder is locked before the spool is touched: one watcher per folder, and a
`crashfix file` beside a running watcher hands its crash to that watcher.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from crashfix import logs, paths
from crashfix.analysis.analyze import rules_for
from crashfix.config import AnalysisSettings, NotifySettings, UploaderSettings
from crashfix.errors import UsageError
from crashfix.uploader.lock import StateFolderBusy, WatchLock, holder
from crashfix.uploader.loop import FilingProcess, Watch, file_until_quiet
from crashfix.uploader.pipeline import Uploader, host_name
from crashfix.uploader.spool import Spool
from crashfix.uploader.state import StateFolderError, open_spool, raise_state_error

if TYPE_CHECKING:
    from crashfix.uploader.filing import Filer

log = logging.getLogger(__name__)

FULL_DISK_RETRY_SECONDS = 10.0


def state_folder(settings: UploaderSettings) -> Path:
    return settings.state_dir or paths.state_dir()


def start_logging(folder: Path, verbose: bool, *, patient: bool) -> Path | None:
    """The terminal and `<state>/logs/crashfix.log`; a write that fails later never prints a traceback.

    On a full disk a `patient` command (the watcher) logs to the terminal only and carries on.
    """
    logging.raiseExceptions = False  # a full disk must not turn every log line into a traceback on stderr
    try:
        return logs.setup(folder, verbose=verbose)
    except OSError as error:
        logs.setup(None, verbose=verbose)
        try:
            raise_state_error(folder, error)
        except StateFolderError as fault:
            if not (patient and fault.full):
                raise
        return None


def build_uploader(settings: UploaderSettings, analysis: AnalysisSettings, notify: NotifySettings | None,
                   spool: Spool, environ: Mapping[str, str]) -> Uploader:
    """Spool and a lazily connecting filer (PyGithub, the filer and the chat notifier load only when there is
    something to file: in the filing process, not in the watcher)."""
    if not settings.repo:
        raise UsageError("no repository to file into", hint="pass --repo OWNER/NAME or set [uploader] repo")
    repo_name = settings.repo
    rules = rules_for(analysis)

    def connect() -> Filer:
        from crashfix.github.connect import client_from
        from crashfix.notify import notifier_from
        from crashfix.uploader.filing import Filer

        notifier = notifier_from(dict(environ), notify)
        client = client_from(environ, write_interval=settings.write_interval_seconds)
        return Filer(client.repository(repo_name), spool, settings, host_name(settings), time.time, notifier,
                     rules=rules)

    return Uploader(settings, spool, connect, environ, rules)


def _lock_and_open(folder: Path, wait_on_full_disk: threading.Event | None) -> tuple[WatchLock, Spool]:
    """The folder's lock, then its spool; a full disk is waited out when `wait_on_full_disk` is given."""
    told = False
    while True:
        held: WatchLock | None = None
        try:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                held = WatchLock.acquire(folder)
            except OSError as error:
                raise_state_error(folder, error)
            assert held is not None
            return held, open_spool(folder)
        except StateFolderError as error:
            if held is not None:
                held.release()
            if wait_on_full_disk is None or not error.full:
                raise
            if not told:
                log.error("%s; retrying every %.0f s", error.one_line(), FULL_DISK_RETRY_SECONDS)
                told = True
            if wait_on_full_disk.wait(FULL_DISK_RETRY_SECONDS):
                raise


def run_watch(settings: UploaderSettings, analysis: AnalysisSettings, notify: NotifySettings | None,
              folders: list[Path], environ: Mapping[str, str], *, once: bool, filer_argv: list[str] | None,
              stop: threading.Event) -> tuple[int, str] | None:
    """`crashfix watch`: (exit code, summary) with --once; None when stopped."""
    folder = state_folder(settings)
    held, spool = _lock_and_open(folder, None if once else stop)
    try:
        uploader = build_uploader(settings, analysis, notify, spool, environ)
        if once:
            return uploader.run_once(folders)
        filer = FilingProcess(filer_argv, environ) if filer_argv else None
        log.info("watching %s for %s (pid %s); state folder: %s", ", ".join(map(str, folders)), settings.repo,
                 os.getpid(), folder)
        Watch(uploader, folders, lambda: open_spool(folder), filer).run(stop)
        return None
    finally:
        held.release()


def run_file(settings: UploaderSettings, analysis: AnalysisSettings, notify: NotifySettings | None, path: Path,
             environ: Mapping[str, str]) -> tuple[int, str]:
    """`crashfix file`: file now, or hand the crash to the watcher that holds the state folder."""
    folder = state_folder(settings)
    try:
        held, spool = _lock_and_open(folder, None)
    except StateFolderBusy as busy:
        return _hand_over(settings, analysis, notify, path, environ, busy.pid)
    try:
        return build_uploader(settings, analysis, notify, spool, environ).file_one(path)
    finally:
        held.release()


def _hand_over(settings: UploaderSettings, analysis: AnalysisSettings, notify: NotifySettings | None, path: Path,
               environ: Mapping[str, str], pid: int | None) -> tuple[int, str]:
    """A watcher runs on this state folder: spool the crash for it and wait a while for its issue."""
    folder = state_folder(settings)
    try:
        spool = open_spool(folder, recover=False)  # the watcher owns the folder: a corrupt spool is its to replace
    except sqlite3.DatabaseError as error:
        return 1, f"the spool is unreadable ({error}); the running watcher (pid {pid}) replaces it: try again soon"
    try:
        uploader = build_uploader(settings, analysis, notify, spool, environ)
        crash_id = uploader.spool_one(path)
        if crash_id is None:
            return 0, f"{path.name} is already in the spool (see crashfix status)"
        deadline = time.monotonic() + settings.once_give_up_seconds
        while time.monotonic() < deadline:
            row = spool.get(crash_id)
            if row is not None and row.state == "filed":
                return 0, f"filed {path.name} as issue #{row.issue_number} (by the running watcher, pid {pid})"
            if row is not None and row.state in ("unreadable", "vanished"):
                return 1, f"{path.name} was not filed: {row.last_error}"
            time.sleep(0.25)
        return 0, f"{path.name} is in the spool; the running watcher (pid {pid}) files it (see crashfix status)"
    finally:
        spool.close()


def run_filing_process(settings: UploaderSettings, analysis: AnalysisSettings, notify: NotifySettings | None,
                       environ: Mapping[str, str]) -> int:
    """The watcher's filing process (`crashfix watch --filing-process`, started by the watcher only)."""
    folder = state_folder(settings)
    parent = os.getppid()
    if holder(folder) != parent:
        print("crashfix: error: the filing process is started by crashfix watch, not by hand", file=sys.stderr)
        return 2
    try:
        spool = open_spool(folder, recover=False)
    except sqlite3.DatabaseError as error:
        log.warning("the spool is unreadable (%s): the watcher replaces it", error)
        return 1
    try:
        return file_until_quiet(build_uploader(settings, analysis, notify, spool, environ), parent)
    finally:
        spool.close()

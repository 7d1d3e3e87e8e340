"""Seeing new crash files, and knowing when they are complete.

Filesystem events (watchdog) wake the uploader at once; a periodic rescan catches
what events miss (network drives, events lost while the service was down). A file is
complete when its size and modification time have not changed for `settle` seconds
and, on Windows, nobody holds it open for writing (a server still writing a 2 GB dump
holds it open). Files sharing a stem in one folder (`x.dmp` and its crash log
`x.txt`) are reported together, once all of them are complete.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DUMP_SUFFIXES = (".dmp", ".mdmp")


def matches(path: Path, patterns: tuple[str, ...]) -> bool:
    """Whether a file name matches one of the crash file patterns (case-insensitive)."""
    name = path.name.lower()
    return any(fnmatch.fnmatch(name, pattern.lower()) for pattern in patterns)


def crash_key(path: Path) -> tuple[str, str]:
    """Files of one crash share folder and stem: `abc_worldserver.exe_[1-2_3].dmp` / `.txt`."""
    return (str(path.parent), path.stem)


def can_open_exclusively(path: Path) -> bool:
    """Windows: fails while a writer holds the file open. Elsewhere: can it be read at all."""
    if os.name == "nt":  # pragma: no cover - exercised on Windows runners
        import ctypes
        from ctypes import wintypes

        create_file = ctypes.windll.kernel32.CreateFileW  # type: ignore[attr-defined]
        create_file.restype = wintypes.HANDLE
        handle = create_file(str(path), 0x80000000, 0, None, 3, 0x80, None)  # GENERIC_READ, no sharing
        if handle in (wintypes.HANDLE(-1).value, None):
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return True
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


@dataclass
class _Tracked:
    size: int
    mtime: float
    stable_since: float
    complete_since: float | None = None


@dataclass
class CompletenessTracker:
    """Decides when candidate files are complete; pure bookkeeping, driven by `poll(now)`."""

    settle: float
    patterns: tuple[str, ...]
    files: dict[Path, _Tracked] = field(default_factory=dict)

    def observe(self, path: Path, now: float) -> None:
        if not matches(path, self.patterns):
            return
        try:
            stat = path.stat()
        except OSError:
            self.files.pop(path, None)
            return
        tracked = self.files.get(path)
        if tracked is None or (tracked.size, tracked.mtime) != (stat.st_size, stat.st_mtime):
            self.files[path] = _Tracked(stat.st_size, stat.st_mtime, now)

    def poll(self, now: float) -> list[list[Path]]:
        """Groups of files now complete; each file is reported once."""
        for path in list(self.files):
            self.observe(path, now)
            tracked = self.files.get(path)
            if tracked is None or tracked.complete_since is not None:
                continue
            if now - tracked.stable_since >= self.settle and can_open_exclusively(path):
                tracked.complete_since = now
        groups: dict[tuple[str, str], list[Path]] = {}
        for path in self.files:
            groups.setdefault(crash_key(path), []).append(path)
        ready = []
        for members in groups.values():
            states = [self.files[p] for p in members]
            if all(s.complete_since is not None for s in states):
                latest = max(s.complete_since for s in states if s.complete_since is not None)
                # A dump without its crash log yet: give the log (written right after) a moment.
                lonely_dump = all(p.suffix.lower() in DUMP_SUFFIXES for p in members)
                if not lonely_dump or now - latest >= self.settle / 2:
                    ready.append(sorted(members, key=primary_first))
                    for path in members:
                        del self.files[path]
        return ready

    def next_deadline(self, now: float) -> float | None:
        """When polling could next report something (for sleeping precisely)."""
        if not self.files:
            return None
        return now + min(self.settle / 2, 0.25)


def primary_first(path: Path) -> tuple[int, str]:
    """The dump leads its group; text files follow."""
    return (0 if path.suffix.lower() in DUMP_SUFFIXES else 1, path.name)


def scan(directories: Iterable[Path], recursive: bool) -> list[Path]:
    """Every regular file under the directories (the rescan)."""
    found: list[Path] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        iterator = directory.rglob("*") if recursive else directory.iterdir()
        try:
            found.extend(p for p in iterator if p.is_file())
        except OSError as error:
            log.warning("cannot list %s: %s", directory, error)
    return found


class DirectoryWatcher:
    """watchdog events into a queue; `start` returns at once, `stop` joins the observer."""

    def __init__(self, directories: list[Path], recursive: bool) -> None:
        self.directories = directories
        self.recursive = recursive
        self.events: queue.Queue[Path] = queue.Queue()
        self.wakeup = threading.Event()
        self._observer: Any = None

    def start(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        events, wakeup = self.events, self.wakeup

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    return
                for attribute in ("src_path", "dest_path"):
                    value = getattr(event, attribute, "")
                    if value:
                        events.put(Path(os.fsdecode(value)))
                wakeup.set()

        observer = Observer()
        for directory in self.directories:
            if directory.is_dir():
                observer.schedule(Handler(), str(directory), recursive=self.recursive)
            else:
                log.warning("%s does not exist (yet): only the periodic rescan will see it", directory)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def drain(self) -> list[Path]:
        paths = []
        while True:
            try:
                paths.append(self.events.get_nowait())
            except queue.Empty:
                return paths

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

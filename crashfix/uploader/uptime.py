"""Which build the game server runs, and for how long: hours of uptime per revision.

The watcher looks for the configured server process (`[uploader.server] process`) every
`sample_seconds` with psutil and records each process it sees in the spool's `server_runs`
table: its pid and start time (together, one run of the server), the revision it runs (read
once, when the run is first seen, from `revision_file` or `revision_command`) and when it
was last seen alive. A run counts from its own start time, as the operating system says it,
to the last time it was seen: the same pid and start time after a restart of the uploader
prove the server ran on meanwhile. So a crash rate is crashes per hour of uptime, and a fix
can be judged by how long the server ran a build containing it without the crash.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from crashfix import procs
from crashfix.config import ServerSettings
from crashfix.scrub import scrubbed_environment

log = logging.getLogger(__name__)

READ_LIMIT = 4096
_COMMIT = re.compile(r"(?<![0-9A-Za-z])([0-9a-f]{7,40})\+?(?![0-9A-Za-z])")


def parse_revision(text: str) -> str | None:
    """The first commit id in a revision file or a command's output, else its first line (capped)."""
    head = text[:READ_LIMIT]
    found = _COMMIT.search(head)
    if found:
        return found.group(1)
    first = next((line.strip() for line in head.splitlines() if line.strip()), "")
    return first[:80] or None


class RevisionReader:
    """The revision the host's build says it is: `revision_file`, else `revision_command`; None when neither
    is set or says anything (each failure is logged once until it works again)."""

    def __init__(self, settings: ServerSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.environ = environ
        self._told: str | None = None

    @property
    def configured(self) -> bool:
        return self.settings.revision_file is not None or bool(self.settings.revision_command)

    def read(self) -> str | None:
        problem = None
        revision = None
        if self.settings.revision_file is not None:
            revision, problem = self._from_file(self.settings.revision_file)
        elif self.settings.revision_command:
            revision, problem = self._from_command(self.settings.revision_command)
        if problem is not None and problem != self._told:
            log.warning("cannot tell which revision the server runs: %s", problem)
        self._told = problem
        return revision

    def _from_file(self, path: Path) -> tuple[str | None, str | None]:
        try:
            with path.open("rb") as handle:
                text = handle.read(READ_LIMIT).decode("utf-8", "replace")
        except OSError as error:
            return None, f"revision_file {path}: {error.strerror or error}"
        found = parse_revision(text)
        return found, None if found else f"revision_file {path} is empty"

    def _from_command(self, argv: tuple[str, ...]) -> tuple[str | None, str | None]:
        try:
            done = procs.run(argv, timeout=self.settings.command_timeout_seconds,
                             env=scrubbed_environment(self.environ))
        except OSError as error:
            return None, f"revision_command {argv[0]} cannot run: {error.strerror or error}"
        if not done.ok:
            why = "timed out" if done.timed_out else f"exited with {done.returncode}"
            return None, f"revision_command {' '.join(argv)} {why}"
        found = parse_revision(done.stdout.decode("utf-8", "replace"))
        return found, None if found else f"revision_command {' '.join(argv)} printed nothing"


@dataclass(frozen=True)
class Run:
    pid: int
    started: float
    revision: str | None
    last_seen: float

    @property
    def hours(self) -> float:
        return max(0.0, self.last_seen - self.started) / 3600


class UptimeLog:
    """The spool's `server_runs` table."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def extend(self, pid: int, started: float, now: float) -> bool:
        """The run is still alive at `now`; False when it is not recorded yet."""
        updated = self.db.execute("UPDATE server_runs SET last_seen = MAX(last_seen, ?) WHERE pid = ? AND started = ?",
                                  (now, pid, started))
        return updated.rowcount > 0

    def add(self, pid: int, started: float, revision: str | None, now: float) -> None:
        self.db.execute("INSERT OR IGNORE INTO server_runs (pid, started, revision, first_seen, last_seen) "
                        "VALUES (?, ?, ?, ?, ?)", (pid, started, revision, now, now))

    def runs(self) -> list[Run]:
        return [Run(row["pid"], row["started"], row["revision"], row["last_seen"]) for row in self.db.execute(
            "SELECT pid, started, revision, last_seen FROM server_runs ORDER BY started")]

    def hours_by_revision(self) -> dict[str, float]:
        """Hours of uptime per revision as the host named it (runs of an unknown revision left out)."""
        hours: dict[str, float] = {}
        for run in self.runs():
            if run.revision:
                hours[run.revision] = hours.get(run.revision, 0.0) + run.hours
        return hours

    def revision_at(self, when: float, slack: float) -> str | None:
        """The revision of the run that was up at `when` (a crash ends a run up to `slack` after its last sighting)."""
        row = self.db.execute(
            "SELECT revision FROM server_runs WHERE started <= ? AND last_seen + ? >= ? AND revision IS NOT NULL "
            "ORDER BY started DESC LIMIT 1", (when, slack, when)).fetchone()
        return row["revision"] if row else None


class ServerWatch:
    """Samples the server process into the uptime log; cheap enough to run every minute (one process scan
    only when the known run is gone)."""

    def __init__(self, settings: ServerSettings, reader: RevisionReader) -> None:
        self.settings = settings
        self.reader = reader
        self.wanted = _names(settings.process)
        self.known: list[tuple[int, float]] = []
        self.next_at = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.wanted)

    def due(self, now: float) -> bool:
        return self.enabled and now >= self.next_at

    def sample(self, now: float, uptime: UptimeLog) -> int:
        """Record the server's runs alive now in `uptime`; returns how many there are."""
        if not self.enabled:
            return 0
        self.next_at = now + self.settings.sample_seconds
        alive = [known for known in self.known if _alive(*known)]
        if len(alive) != len(self.known) or not alive:
            alive = self._scan()
        self.known = alive
        for pid, started in alive:
            if not uptime.extend(pid, started, now):
                revision = self.reader.read()
                uptime.add(pid, started, revision, now)
                log.info("server process %s (pid %s) runs revision %s", self.settings.process, pid,
                         revision or "unknown")
        return len(alive)

    def _scan(self) -> list[tuple[int, float]]:
        found = []
        for process in psutil.process_iter(["name", "create_time"]):
            name = (process.info.get("name") or "").casefold()
            if name in self.wanted and process.info.get("create_time"):
                found.append((process.pid, round(float(process.info["create_time"]), 2)))
        return found


def _names(process: str | None) -> frozenset[str]:
    """`worldserver.exe` matches `worldserver.exe` and `worldserver` (either host), case-insensitively."""
    if not process:
        return frozenset()
    name = process.casefold()
    stem = name[:-4] if name.endswith(".exe") else name
    return frozenset({name, stem, stem + ".exe", stem[:15]})  # Linux cuts process names at 15 characters


def _alive(pid: int, started: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.is_running() and abs(process.create_time() - started) < 0.05 and \
            process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False

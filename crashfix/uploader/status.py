"""`crashfix status`: what the uploader's spool says, for a person at the server."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from crashfix.issues.fix_text import hours
from crashfix.uploader.lock import holder
from crashfix.uploader.spool import Spool
from crashfix.uploader.state import state_error
from crashfix.uploader.uptime import UptimeLog

HEARTBEAT_STALE = 60.0


def _when(at: float, now: float) -> str:
    ago = now - at
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return f"{stamp} ({ago:.0f} s ago)" if ago < 3600 else stamp


def watcher_state(spool: Spool, folder: Path, now: float) -> str:
    """Who holds the state folder's lock (the OS knows), with the holder's last heartbeat."""
    pid = holder(folder)
    value = (spool.get_meta("watcher") or "").split()
    beat = float(value[1]) if len(value) == 2 else None
    if pid is not None:
        heartbeat = f", last heartbeat {now - beat:.0f} s ago" if beat is not None and now - beat < 3600 else ""
        stale = " — no heartbeat for a while: is it stuck?" if beat is None or now - beat > HEARTBEAT_STALE else ""
        return f"running (pid {pid or 'unknown'} holds the state folder{heartbeat}){stale}"
    if beat is not None:
        return f"not running (pid {value[0]} last seen {_when(beat, now)})"
    return "not running"


def server_lines(spool: Spool, now: float) -> list[str]:
    """The server's uptime per revision (newest run first) and the fixes under watch, when there are any."""
    runs = UptimeLog(spool.db).runs()
    lines = []
    if runs:
        latest = runs[-1]
        up = "up" if now - latest.last_seen < 600 else f"last seen {_when(latest.last_seen, now)}"
        lines.append(f"server:       pid {latest.pid}, revision {latest.revision or 'unknown'} ({up}, "
                     f"{hours(latest.hours)} this run)")
        per_revision = sorted(UptimeLog(spool.db).hours_by_revision().items(), key=lambda kv: -kv[1])[:5]
        lines.append("uptime:       " + ", ".join(f"{revision[:12]} {hours(value)}"
                                                  for revision, value in per_revision))
    fixes = spool.db.execute("SELECT status, COUNT(*) AS n FROM fixes GROUP BY status").fetchall()
    if fixes:
        lines.append("fixes:        " + ", ".join(f"{row['status']} {row['n']}" for row in fixes))
    return lines


def describe_status(state_dir: Path, now: float) -> str:
    path = state_dir / "spool.sqlite3"
    if not path.exists():
        return f"no spool at {path}: the uploader has not run with this state folder yet"
    try:
        spool = Spool(path)
    except sqlite3.DatabaseError as error:
        fault = state_error(state_dir, error) if isinstance(error, sqlite3.OperationalError) else None
        if fault is not None:
            return f"state folder: {state_dir}\nspool:        cannot be opened: {fault.one_line()}"
        pid = holder(state_dir)
        who = f"; the watcher (pid {pid}) replaces it" if pid else "; the next crashfix watch moves it aside"
        return f"state folder: {state_dir}\nspool:        unreadable ({error}){who} and starts a fresh one"
    try:
        counts = spool.counts()
        lines = [f"state folder: {state_dir}", f"watcher:      {watcher_state(spool, state_dir, now)}",
                 "queue:        " + ", ".join(f"{name} {count}" for name, count in counts.items())]
        activity = spool.last_activity()
        if activity:
            at, action, outcome, stem = activity
            lines.append(f"last activity: {_when(at, now)} {action} {outcome}: {stem}")
        lines += server_lines(spool, now)
        failing = spool.failing()
        if failing:
            lines.append(f"failing ({len(failing)}):")
            for row in failing:
                lines.append(f"  {row.stem}: {row.state}, {row.attempts} attempt(s); last error: {row.last_error}")
        return "\n".join(lines)
    finally:
        spool.close()

"""`crashfix status`: what the uploader's spool says, for a person at the server."""

from __future__ import annotations

import time
from pathlib import Path

from crashfix.procs import pid_alive
from crashfix.uploader.spool import Spool

HEARTBEAT_STALE = 60.0


def _when(at: float, now: float) -> str:
    ago = now - at
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return f"{stamp} ({ago:.0f} s ago)" if ago < 3600 else stamp


def watcher_state(spool: Spool, now: float) -> str:
    value = (spool.get_meta("watcher") or "").split()
    if len(value) != 2:
        return "not running"
    pid, beat = int(value[0]), float(value[1])
    if pid_alive(pid) and now - beat < HEARTBEAT_STALE:
        return f"running (pid {pid}, last heartbeat {now - beat:.0f} s ago)"
    return f"not running (pid {pid} last seen {_when(beat, now)})"


def describe_status(state_dir: Path, now: float) -> str:
    path = state_dir / "spool.sqlite3"
    if not path.exists():
        return f"no spool at {path}: the uploader has not run with this state folder yet"
    spool = Spool(path)
    try:
        counts = spool.counts()
        lines = [f"state folder: {state_dir}", f"watcher:      {watcher_state(spool, now)}",
                 "queue:        " + ", ".join(f"{name} {count}" for name, count in counts.items())]
        activity = spool.last_activity()
        if activity:
            at, action, outcome, stem = activity
            lines.append(f"last activity: {_when(at, now)} {action} {outcome}: {stem}")
        failing = spool.failing()
        if failing:
            lines.append(f"failing ({len(failing)}):")
            for row in failing:
                lines.append(f"  {row.stem}: {row.state}, {row.attempts} attempt(s); last error: {row.last_error}")
        return "\n".join(lines)
    finally:
        spool.close()

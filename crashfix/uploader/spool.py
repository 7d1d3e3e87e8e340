"""The uploader's durable spool: every crash is recorded here before any network call.

A crash moves found -> analysed -> filed (or `unreadable`, with the reason, for content
read whole that cannot be analysed; or `vanished` while its files are gone, until they
reappear). Each row is keyed by the content hash of its primary file, so a rescan, a
restart after `kill -9` or a copied file never files a crash twice; each carries its
attempt history and the next time it may be retried, so an outage only delays it. A
file that grows after it was recorded (its old content is a prefix of the new) stays
the same crash and is analysed again from its new content.

SQLite in WAL mode with synchronous=NORMAL: a committed step survives a killed process
(kill -9, a crash of crashfix itself); only a power cut may lose the last steps.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from crashfix.uploader.issue_map import IssueMap
from crashfix.uploader.spool_schema import SCHEMA, add_columns

STATES = ("found", "analysed", "filed", "unreadable", "vanished")


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    content_hash: str


@dataclass(frozen=True)
class FileEntry:
    size: int
    content_hash: str
    crash_id: int | None


@dataclass(frozen=True)
class CrashRow:
    id: int
    content_hash: str
    directory: str
    stem: str
    files: list[str]
    state: str
    found_at: float
    report: str | None
    raw: str | None
    signature_id: str | None
    quality: str | None
    file_seq: int | None
    issue_number: int | None
    attempts: int
    last_error: str | None
    crash_time: float | None = None
    regrown: int = 0  # how often it grew since it was filed and its issue last shown it
    revision: str | None = None  # the commit of the build that crashed, as the crash or the host said it
    revision_source: str | None = None  # "crash" (its text), "host" (the server's revision), or None


class Spool:
    """One SQLite file in the state directory; used by one thread at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            add_columns(self.db)
            if self.get_meta("host_id") is None:
                self.set_meta("host_id", uuid.uuid4().hex[:12])
        except sqlite3.Error:
            self.db.close()  # an open handle would keep Windows from moving a corrupt spool aside
            raise
        self.issue_map = IssueMap(self.db)

    def close(self) -> None:
        self.db.close()

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                        (key, value, value))

    @property
    def host_id(self) -> str:
        """This spool's own random id: counting once used it; old records still name it (see filing)."""
        return self.get_meta("host_id") or ""

    # --- discovery ----------------------------------------------------------------------

    def known_file(self, path: str, size: int, mtime: float) -> bool:
        """Seen before with the same size and time (no need to hash it again), unless its crash vanished."""
        row = self.db.execute(
            "SELECT f.size, f.mtime, c.state FROM files f LEFT JOIN crashes c ON c.id = f.crash_id WHERE f.path = ?",
            (path,)).fetchone()
        return (row is not None and row["size"] == size and abs(row["mtime"] - mtime) < 1e-3
                and row["state"] != "vanished")

    def file_entry(self, path: str) -> FileEntry | None:
        """What the spool last recorded for a path, and which crash it belongs to."""
        row = self.db.execute("SELECT size, content_hash, crash_id FROM files WHERE path = ?", (path,)).fetchone()
        return FileEntry(row["size"], row["content_hash"], row["crash_id"]) if row else None

    def record_crash(self, directory: str, stem: str, files: list[FileInfo], now: float) -> int | None:
        """Record a new crash (first file = primary); None when its content is already spooled.

        A new file of a stem already spooled (a crash log written after its dump) joins
        that crash instead of making a new one, and an unfiled crash is analysed again
        with it. Content seen before whose crash vanished revives that crash.
        """
        with self._transaction():
            fresh = [f for f in files if not self._hash_known(f.content_hash)]  # before a path's row changes
            for info in files:
                self.db.execute(
                    "INSERT INTO files (path, size, mtime, content_hash) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, "
                    "content_hash = excluded.content_hash",
                    (info.path, info.size, info.mtime, info.content_hash),
                )
            revived = self._revive(files, now)
            if revived is not None:
                return revived
            if not fresh:
                return None
            existing = self.db.execute(
                "SELECT id, files, state FROM crashes WHERE directory = ? AND stem = ? ORDER BY id LIMIT 1",
                (directory, stem)).fetchone()
            known_paths = json.loads(existing["files"]) if existing is not None else []
            if existing is not None and not any(f.path in known_paths for f in fresh):
                self._join(existing["id"], existing["state"], known_paths, fresh, now)
                return None
            cursor = self.db.execute(
                "INSERT INTO crashes (content_hash, directory, stem, files, state, found_at, crash_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (files[0].content_hash, directory, stem, json.dumps([f.path for f in files]), "found", now,
                 files[0].mtime),
            )
            crash_id = int(cursor.lastrowid or 0)
            self._link_files(crash_id, files)
            self._attempt(crash_id, now, "found", "ok", ", ".join(Path(f.path).name for f in files))
            return crash_id

    def _join(self, crash_id: int, state: str, known_paths: list[str], fresh: list[FileInfo], now: float) -> None:
        """A sibling file joins its crash; what is not filed yet is analysed again with it."""
        self.db.execute("UPDATE crashes SET files = ? WHERE id = ?",
                        (json.dumps(known_paths + [f.path for f in fresh]), crash_id))
        self._link_files(crash_id, fresh)
        if state != "filed":
            self._reset(crash_id)
        self._attempt(crash_id, now, "found", "joined", ", ".join(Path(f.path).name for f in fresh))

    def _revive(self, files: list[FileInfo], now: float) -> int | None:
        """A vanished crash whose content is back (same place or elsewhere) is analysed again."""
        for info in files:
            row = self.db.execute("SELECT id, files FROM crashes WHERE content_hash = ? AND state = 'vanished'",
                                  (info.content_hash,)).fetchone()
            if row is None:
                continue
            paths = json.loads(row["files"])
            if info.path not in paths:
                paths.append(info.path)
            self.db.execute("UPDATE crashes SET files = ? WHERE id = ?", (json.dumps(paths), row["id"]))
            self._link_files(row["id"], [info])
            self._reset(row["id"])
            self._attempt(row["id"], now, "found", "reappeared", Path(info.path).name)
            return int(row["id"])
        return None

    def grew(self, crash_id: int, info: FileInfo, now: float) -> None:
        """One of the crash's files was still being written: same crash, new content, new analysis.

        A filed crash keeps its count; it is marked `regrown` so its issue can show the final content.
        """
        with self._transaction():
            self.db.execute("UPDATE files SET size = ?, mtime = ?, content_hash = ?, crash_id = ? WHERE path = ?",
                            (info.size, info.mtime, info.content_hash, crash_id, info.path))
            row = self.db.execute("SELECT files, state FROM crashes WHERE id = ?", (crash_id,)).fetchone()
            if row is None:
                return
            if json.loads(row["files"])[:1] == [info.path]:
                clash = self.db.execute("SELECT 1 FROM crashes WHERE content_hash = ? AND id != ?",
                                        (info.content_hash, crash_id)).fetchone()
                if clash is None:
                    self.db.execute("UPDATE crashes SET content_hash = ?, crash_time = ? WHERE id = ?",
                                    (info.content_hash, info.mtime, crash_id))
            if row["state"] == "filed":
                self.db.execute("UPDATE crashes SET regrown = regrown + 1 WHERE id = ?", (crash_id,))
            else:
                self._reset(crash_id)
            self._attempt(crash_id, now, "found", "grew", f"{Path(info.path).name}: {info.size} bytes")

    def _reset(self, crash_id: int) -> None:
        """Back to `found`: the old verdict is not kept for new content."""
        self.db.execute(
            "UPDATE crashes SET state = 'found', report = NULL, raw = NULL, signature_id = NULL, quality = NULL, "
            "attempts = 0, next_attempt_at = 0, last_error = NULL WHERE id = ? AND state != 'filed'", (crash_id,))

    def _hash_known(self, content_hash: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM files WHERE content_hash = ? AND crash_id IS NOT NULL LIMIT 1", (content_hash,)
        ).fetchone()
        return row is not None

    def _link_files(self, crash_id: int, files: list[FileInfo]) -> None:
        for info in files:
            self.db.execute("UPDATE files SET crash_id = ? WHERE path = ?", (crash_id, info.path))

    # --- analysis -----------------------------------------------------------------------

    def get(self, crash_id: int) -> CrashRow | None:
        row = self.db.execute("SELECT * FROM crashes WHERE id = ?", (crash_id,)).fetchone()
        return _row(row) if row else None

    def due(self, state: str, now: float) -> list[CrashRow]:
        rows = self.db.execute(
            "SELECT * FROM crashes WHERE state = ? AND next_attempt_at <= ? ORDER BY id", (state, now)
        ).fetchall()
        return [_row(r) for r in rows]

    def set_analysed(self, crash_id: int, report_json: str, raw: str | None, signature_id: str, quality: str,
                     now: float, detail: str) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE crashes SET state = 'analysed', analysed_at = ?, report = ?, raw = ?, signature_id = ?, "
                "quality = ?, attempts = 0, next_attempt_at = 0, last_error = NULL WHERE id = ? AND state = 'found'",
                (now, report_json, raw, signature_id, quality, crash_id),
            )
            self._attempt(crash_id, now, "analyse", "ok", detail)

    def set_revision(self, crash_id: int, revision: str | None, source: str | None) -> None:
        """Which build crashed (see `uploader.provenance`); analysed anew, a crash is told again."""
        self.db.execute("UPDATE crashes SET revision = ?, revision_source = ? WHERE id = ?",
                        (revision, source, crash_id))

    def pending_count(self) -> int:
        """Crashes found or analysed but not filed yet (a fix is not judged while some wait)."""
        row = self.db.execute("SELECT COUNT(*) AS n FROM crashes WHERE state IN ('found', 'analysed')").fetchone()
        return int(row["n"])

    def set_vanished(self, crash_id: int, error: str, now: float) -> None:
        """Its files are gone: nothing to retry until one of them (or its content) reappears."""
        with self._transaction():
            self.db.execute("UPDATE crashes SET state = 'vanished', last_error = ? WHERE id = ? AND state = 'found'",
                            (error, crash_id))
            self._attempt(crash_id, now, "analyse", "vanished", error)

    def regrown(self) -> list[CrashRow]:
        """Filed crashes whose file grew afterwards (their issue may show more)."""
        rows = self.db.execute("SELECT * FROM crashes WHERE state = 'filed' AND regrown > 0 ORDER BY id").fetchall()
        return [_row(r) for r in rows]

    def set_refreshed(self, crash_id: int, report_json: str | None, raw: str | None, now: float, detail: str,
                      seen: int = 1) -> None:
        with self._transaction():
            if report_json is not None:
                self.db.execute("UPDATE crashes SET report = ?, raw = ? WHERE id = ?", (report_json, raw, crash_id))
            # growth seen meanwhile (`regrown` moved on) is shown by the next refresh
            self.db.execute("UPDATE crashes SET regrown = 0 WHERE id = ? AND regrown = ?", (crash_id, seen))
            self._attempt(crash_id, now, "refresh", "ok", detail)

    def set_unreadable(self, crash_id: int, error: str, now: float) -> None:
        with self._transaction():
            self.db.execute("UPDATE crashes SET state = 'unreadable', last_error = ? WHERE id = ? AND state = 'found'",
                            (error, crash_id))
            self._attempt(crash_id, now, "analyse", "unreadable", error)

    def retry_later(self, crash_ids: list[int], action: str, error: str, now: float, delay: float) -> None:
        with self._transaction():
            for crash_id in crash_ids:
                self.db.execute(
                    "UPDATE crashes SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                    (now + delay, error, crash_id),
                )
                self._attempt(crash_id, now, action, "retry", error)

    # --- filing -------------------------------------------------------------------------

    def due_by_signature(self, now: float) -> dict[str, list[CrashRow]]:
        """Analysed crashes grouped by signature, for every signature with one due crash.

        A due signature takes all its waiting crashes along, even those still backing
        off: counting them in one go keeps the issue's watermark honest.
        """
        due = {row.signature_id for row in self.due("analysed", now)}
        grouped: dict[str, list[CrashRow]] = defaultdict(list)
        for row in self.due("analysed", float("inf")):
            if row.signature_id in due:
                grouped[row.signature_id or ""].append(row)
        return dict(grouped)

    def filing_due(self, now: float) -> bool:
        """Whether an analysed crash may be filed now, or a filed one grew since (for the filing process)."""
        row = self.db.execute(
            "SELECT 1 FROM crashes WHERE (state = 'analysed' AND next_attempt_at <= ?) OR (state = 'filed' AND "
            "regrown > 0) LIMIT 1", (now,)).fetchone()
        return row is not None

    def next_due(self) -> float | None:
        """When the earliest waiting crash may be retried."""
        row = self.db.execute(
            "SELECT MIN(next_attempt_at) AS due FROM crashes WHERE state IN ('found', 'analysed')").fetchone()
        return row["due"] if row and row["due"] is not None else None

    def assign_file_seqs(self, crash_ids: list[int]) -> dict[int, int]:
        """Give each crash a filing sequence number once; issues record the highest counted."""
        with self._transaction():
            next_seq = int(self.get_meta("file_seq") or "0")
            seqs: dict[int, int] = {}
            for crash_id in crash_ids:
                row = self.db.execute("SELECT file_seq FROM crashes WHERE id = ?", (crash_id,)).fetchone()
                if row["file_seq"] is None:
                    next_seq += 1
                    self.db.execute("UPDATE crashes SET file_seq = ? WHERE id = ?", (next_seq, crash_id))
                    seqs[crash_id] = next_seq
                else:
                    seqs[crash_id] = int(row["file_seq"])
            self.set_meta("file_seq", str(next_seq))
        return seqs

    def mark_filed(self, crash_ids: list[int], issue_number: int, now: float, detail: str,
                   filed_hashes: dict[int, str] | None = None) -> None:
        """Counted on the issue. A crash whose file grew while it was being filed (its content hash is no
        longer the one filed) is marked `regrown`, so its issue shows the final content."""
        with self._transaction():
            for crash_id in crash_ids:
                filed_hash = (filed_hashes or {}).get(crash_id)
                self.db.execute(
                    "UPDATE crashes SET state = 'filed', filed_at = ?, issue_number = ?, attempts = 0, "
                    "last_error = NULL, regrown = CASE WHEN ? IS NOT NULL AND content_hash != ? THEN regrown + 1 "
                    "ELSE regrown END WHERE id = ?",
                    (now, issue_number, filed_hash, filed_hash, crash_id),
                )
                self._attempt(crash_id, now, "file", "ok", detail)

    # --- status and housekeeping ---------------------------------------------------------

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for row in self.db.execute("SELECT state, COUNT(*) AS n FROM crashes GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    def failing(self, limit: int = 20) -> list[CrashRow]:
        rows = self.db.execute(
            "SELECT * FROM crashes WHERE state != 'filed' AND last_error IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_row(r) for r in rows]

    def last_activity(self) -> tuple[float, str, str, str] | None:
        row = self.db.execute(
            "SELECT a.at, a.action, a.outcome, c.stem FROM attempts a JOIN crashes c ON c.id = a.crash_id "
            "ORDER BY a.id DESC LIMIT 1"
        ).fetchone()
        return (row["at"], row["action"], row["outcome"], row["stem"]) if row else None

    def history(self, crash_id: int) -> list[tuple[float, str, str, str | None]]:
        rows = self.db.execute(
            "SELECT at, action, outcome, detail FROM attempts WHERE crash_id = ? ORDER BY id", (crash_id,)
        ).fetchall()
        return [(r["at"], r["action"], r["outcome"], r["detail"]) for r in rows]

    def prune(self, now: float, retention_seconds: float) -> int:
        """Forget filed crashes (and vanished ones) older than the retention; never waiting ones.

        File hashes stay, so a pruned crash whose files are still on disk is never refiled.
        """
        cutoff = now - retention_seconds
        with self._transaction():
            old = [r["id"] for r in self.db.execute(
                "SELECT id FROM crashes WHERE (state = 'filed' AND filed_at < ?) "
                "OR (state = 'vanished' AND found_at < ?)",
                (cutoff, cutoff))]
            for crash_id in old:
                self.db.execute("DELETE FROM attempts WHERE crash_id = ?", (crash_id,))
                self.db.execute("DELETE FROM crashes WHERE id = ?", (crash_id,))
        return len(old)

    # --- internals ----------------------------------------------------------------------

    def _attempt(self, crash_id: int, now: float, action: str, outcome: str, detail: str | None) -> None:
        self.db.execute("INSERT INTO attempts (crash_id, at, action, outcome, detail) VALUES (?, ?, ?, ?, ?)",
                        (crash_id, now, action, outcome, detail))

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; nests by doing nothing inside."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True

    def __exit__(self, kind: object, *_: object) -> None:
        if not self.outer:
            return
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")


def _row(row: sqlite3.Row) -> CrashRow:
    return CrashRow(
        id=row["id"], content_hash=row["content_hash"], directory=row["directory"], stem=row["stem"],
        files=json.loads(row["files"]), state=row["state"], found_at=row["found_at"], report=row["report"],
        raw=row["raw"], signature_id=row["signature_id"], quality=row["quality"], file_seq=row["file_seq"],
        issue_number=row["issue_number"], attempts=row["attempts"], last_error=row["last_error"],
        crash_time=row["crash_time"], regrown=int(row["regrown"] or 0), revision=row["revision"],
        revision_source=row["revision_source"],
    )

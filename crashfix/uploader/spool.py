"""The uploader's durable spool: every crash is recorded here before any network call.

A crash moves found -> analysed -> filed (or `unreadable`, with the reason). Each row
is keyed by the content hash of its primary file, so a rescan, a restart after
`kill -9` or a copied file never files a crash twice; each carries its attempt
history and the next time it may be retried, so an outage only delays it.

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

SCHEMA = """
CREATE TABLE IF NOT EXISTS crashes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL UNIQUE,
    directory TEXT NOT NULL,
    stem TEXT NOT NULL,
    files TEXT NOT NULL,
    state TEXT NOT NULL,
    found_at REAL NOT NULL,
    analysed_at REAL,
    filed_at REAL,
    report TEXT,
    raw TEXT,
    signature_id TEXT,
    quality TEXT,
    file_seq INTEGER,
    issue_number INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS crashes_due ON crashes (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS crashes_signature ON crashes (signature_id);
CREATE INDEX IF NOT EXISTS crashes_stem ON crashes (directory, stem);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    content_hash TEXT NOT NULL,
    crash_id INTEGER
);
CREATE INDEX IF NOT EXISTS files_hash ON files (content_hash);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    crash_id INTEGER NOT NULL,
    at REAL NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS issues (
    number INTEGER PRIMARY KEY,
    signature_id TEXT NOT NULL,
    state TEXT NOT NULL,
    duplicate_of INTEGER
);
CREATE INDEX IF NOT EXISTS issues_signature ON issues (signature_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

STATES = ("found", "analysed", "filed", "unreadable")


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    content_hash: str


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


class Spool:
    """One SQLite file in the state directory; used by one thread at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if self.get_meta("host_id") is None:
            self.set_meta("host_id", uuid.uuid4().hex[:12])

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
        return self.get_meta("host_id") or ""

    # --- discovery ----------------------------------------------------------------------

    def known_file(self, path: str, size: int, mtime: float) -> bool:
        """Seen before with the same size and time: no need to hash it again."""
        row = self.db.execute("SELECT size, mtime FROM files WHERE path = ?", (path,)).fetchone()
        return row is not None and row["size"] == size and abs(row["mtime"] - mtime) < 1e-3

    def record_crash(self, directory: str, stem: str, files: list[FileInfo], now: float) -> int | None:
        """Record a new crash (first file = primary); None when its content is already spooled.

        A file of a stem already spooled joins that crash (a crash log written after
        its dump) instead of making a new one.
        """
        fresh = [f for f in files if not self._hash_known(f.content_hash)]
        with self._transaction():
            for info in files:
                self.db.execute(
                    "INSERT INTO files (path, size, mtime, content_hash) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, "
                    "content_hash = excluded.content_hash",
                    (info.path, info.size, info.mtime, info.content_hash),
                )
            if not fresh:
                return None
            existing = self.db.execute(
                "SELECT id, files FROM crashes WHERE directory = ? AND stem = ? ORDER BY id LIMIT 1", (directory, stem)
            ).fetchone()
            if existing is not None:
                merged = json.loads(existing["files"]) + [f.path for f in fresh]
                self.db.execute("UPDATE crashes SET files = ? WHERE id = ?", (json.dumps(merged), existing["id"]))
                self._link_files(existing["id"], fresh)
                return None
            cursor = self.db.execute(
                "INSERT INTO crashes (content_hash, directory, stem, files, state, found_at) VALUES (?, ?, ?, ?, ?, ?)",
                (files[0].content_hash, directory, stem, json.dumps([f.path for f in files]), "found", now),
            )
            crash_id = int(cursor.lastrowid or 0)
            self._link_files(crash_id, files)
            self._attempt(crash_id, now, "found", "ok", ", ".join(Path(f.path).name for f in files))
            return crash_id

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
                "quality = ?, attempts = 0, next_attempt_at = 0, last_error = NULL WHERE id = ?",
                (now, report_json, raw, signature_id, quality, crash_id),
            )
            self._attempt(crash_id, now, "analyse", "ok", detail)

    def set_unreadable(self, crash_id: int, error: str, now: float) -> None:
        with self._transaction():
            self.db.execute("UPDATE crashes SET state = 'unreadable', last_error = ? WHERE id = ?", (error, crash_id))
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

    def mark_filed(self, crash_ids: list[int], issue_number: int, now: float, detail: str) -> None:
        with self._transaction():
            for crash_id in crash_ids:
                self.db.execute(
                    "UPDATE crashes SET state = 'filed', filed_at = ?, issue_number = ?, attempts = 0, "
                    "last_error = NULL WHERE id = ?",
                    (now, issue_number, crash_id),
                )
                self._attempt(crash_id, now, "file", "ok", detail)

    # --- the issue cache ----------------------------------------------------------------

    def remember_issue(self, number: int, signature_id: str, state: str, duplicate_of: int | None) -> None:
        self.db.execute(
            "INSERT INTO issues (number, signature_id, state, duplicate_of) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(number) DO UPDATE SET signature_id = ?, state = ?, duplicate_of = ?",
            (number, signature_id, state, duplicate_of, signature_id, state, duplicate_of),
        )

    def issues_for_signature(self, signature_id: str) -> list[tuple[int, str, int | None]]:
        rows = self.db.execute(
            "SELECT number, state, duplicate_of FROM issues WHERE signature_id = ? ORDER BY number", (signature_id,)
        ).fetchall()
        return [(r["number"], r["state"], r["duplicate_of"]) for r in rows]

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
        """Forget filed crashes older than the retention (never unfiled ones).

        File hashes stay, so a pruned crash whose files are still on disk is never refiled.
        """
        cutoff = now - retention_seconds
        with self._transaction():
            old = [r["id"] for r in self.db.execute(
                "SELECT id FROM crashes WHERE state = 'filed' AND filed_at < ?", (cutoff,))]
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
    )

"""The spool's tables, and how a spool written by an older crashfix is brought up to date."""

from __future__ import annotations

import sqlite3

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
    last_error TEXT,
    crash_time REAL,
    regrown INTEGER NOT NULL DEFAULT 0
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
    duplicate_of INTEGER,
    checked_at REAL,
    signature_json TEXT
);
CREATE INDEX IF NOT EXISTS issues_signature ON issues (signature_id);
CREATE TABLE IF NOT EXISTS signature_keys (signature_id TEXT PRIMARY KEY, number INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS content_writes (at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS server_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    revision TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    UNIQUE (pid, started)
);
CREATE TABLE IF NOT EXISTS commits (ref TEXT PRIMARY KEY, sha TEXT, checked_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS comparisons (base TEXT NOT NULL, head TEXT NOT NULL, status TEXT NOT NULL,
                                        PRIMARY KEY (base, head));
CREATE TABLE IF NOT EXISTS fixes (number INTEGER PRIMARY KEY, sha TEXT NOT NULL, status TEXT NOT NULL,
                                  reported_hours REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS closes (number INTEGER PRIMARY KEY, closed_at REAL NOT NULL, sha TEXT);
"""

# Columns added after the first release: (table, column, declaration), added to older spools on open.
ADDED_COLUMNS = (("crashes", "crash_time", "REAL"), ("crashes", "regrown", "INTEGER NOT NULL DEFAULT 0"),
                 ("issues", "checked_at", "REAL"), ("issues", "signature_json", "TEXT"),
                 ("crashes", "revision", "TEXT"), ("crashes", "revision_source", "TEXT"))


def add_columns(db: sqlite3.Connection) -> None:
    """Spools written by an older crashfix lack the newer columns: add them (old rows keep NULLs)."""
    for table, column, declaration in ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

"""Which issue carries which crash signature, as the uploader last saw GitHub.

Filled from listings of the issues updated since the last look (search lags behind
writes); only issues the uploader's own account opened are entered. An issue may be
known under several signature ids: the one it was filed with, the id today's analysis
gives its recorded crash (signature algorithms change), and the signatures merged
into it when a maintainer closed their issues as its duplicates.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class IssueEntry:
    number: int
    signature_id: str
    state: str
    duplicate_of: int | None
    checked_at: float | None


class IssueMap:
    """The `issues` and `signature_keys` tables of the spool."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def remember(self, number: int, signature_id: str, state: str, duplicate_of: int | None,
                 checked_at: float | None = None) -> None:
        self.db.execute(
            "INSERT INTO issues (number, signature_id, state, duplicate_of, checked_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(number) DO UPDATE SET signature_id = excluded.signature_id, state = excluded.state, "
            "duplicate_of = excluded.duplicate_of, checked_at = COALESCE(excluded.checked_at, issues.checked_at)",
            (number, signature_id, state, duplicate_of, checked_at),
        )

    def keep_signature(self, number: int, signature_json: str) -> None:
        """The signature (today's analysis) of the crash this issue records: what new signatures group with."""
        self.db.execute("UPDATE issues SET signature_json = ? WHERE number = ?", (signature_json, number))

    def grouping_candidates(self) -> list[tuple[int, str]]:
        """(number, signature JSON) of every known issue that is not a duplicate, lowest number first."""
        return [(row["number"], row["signature_json"]) for row in self.db.execute(
            "SELECT number, signature_json FROM issues WHERE duplicate_of IS NULL AND signature_json IS NOT NULL "
            "ORDER BY number")]

    def add_key(self, signature_id: str, number: int) -> None:
        """Another id under which this issue's crash is known."""
        self.db.execute("INSERT INTO signature_keys (signature_id, number) VALUES (?, ?) "
                        "ON CONFLICT(signature_id) DO UPDATE SET number = excluded.number", (signature_id, number))

    def forget(self, number: int) -> None:
        """Not ours (or gone): never counted on, never edited."""
        self.db.execute("DELETE FROM issues WHERE number = ?", (number,))
        self.db.execute("DELETE FROM signature_keys WHERE number = ?", (number,))

    def get(self, number: int) -> IssueEntry | None:
        row = self.db.execute("SELECT * FROM issues WHERE number = ?", (number,)).fetchone()
        return _entry(row) if row else None

    def for_signature(self, signature_id: str) -> list[IssueEntry]:
        """Issues filed with this signature, then those that know it under another id; lowest number first."""
        rows = self.db.execute(
            "SELECT * FROM issues WHERE signature_id = ? OR number IN "
            "(SELECT number FROM signature_keys WHERE signature_id = ?) ORDER BY number",
            (signature_id, signature_id)).fetchall()
        return [_entry(row) for row in rows]

    def duplicates_of(self, number: int) -> list[IssueEntry]:
        rows = self.db.execute("SELECT * FROM issues WHERE duplicate_of = ? ORDER BY number", (number,)).fetchall()
        return [_entry(row) for row in rows]


def _entry(row: sqlite3.Row) -> IssueEntry:
    return IssueEntry(number=row["number"], signature_id=row["signature_id"], state=row["state"],
                      duplicate_of=row["duplicate_of"], checked_at=row["checked_at"])

"""Commits as crashfix uses them (the fix watch, suspect commits, the fixer's history): plain records,
no PyGithub; built from the JSON GitHub serves."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict


class FileChange(BaseModel):
    """One file a commit (or a comparison) changed; `patch` holds its hunks when GitHub sends them."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    filename: str
    status: str = "modified"
    patch: str | None = None
    previous_filename: str | None = None


class CommitData(BaseModel):
    """A commit as crashfix uses it: which, what it says, when, and (for one commit read alone) its files."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    sha: str
    message: str = ""
    date: float | None = None
    html_url: str = ""
    files: tuple[FileChange, ...] = ()

    @property
    def title(self) -> str:
        return self.message.strip().split("\n", 1)[0] if self.message.strip() else ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommitData:
        """From the commit JSON GitHub serves (alone, in a listing or in a comparison)."""
        inner = data.get("commit") or {}
        when = (inner.get("committer") or {}).get("date") or (inner.get("author") or {}).get("date")
        files = tuple(FileChange(filename=str(f.get("filename") or ""), status=str(f.get("status") or "modified"),
                                 patch=f.get("patch"), previous_filename=f.get("previous_filename"))
                      for f in data.get("files") or [] if isinstance(f, dict))
        return cls(sha=str(data.get("sha") or ""), message=str(inner.get("message") or ""), date=_parse_time(when),
                   html_url=str(data.get("html_url") or ""), files=files)


class Comparison(BaseModel):
    """`base...head`: whether head contains base (`ahead`, `identical`), and the commits from their merge base."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    status: str
    ahead_by: int
    behind_by: int
    total_commits: int
    merge_base: str
    commits: tuple[CommitData, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def contains_base(self) -> bool:
        return self.status in ("ahead", "identical")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comparison:
        return cls(status=str(data.get("status")), ahead_by=int(data.get("ahead_by") or 0),
                   behind_by=int(data.get("behind_by") or 0), total_commits=int(data.get("total_commits") or 0),
                   merge_base=str((data.get("merge_base_commit") or {}).get("sha") or ""),
                   commits=tuple(CommitData.from_json(c) for c in data.get("commits") or [] if isinstance(c, dict)),
                   files=tuple(str(f.get("filename")) for f in data.get("files") or [] if isinstance(f, dict)))


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


class ClosingEvent(BaseModel):
    """The latest `closed` event of an issue: who closed it, when, and the commit that did (a merged PR's)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    commit: str | None
    actor: str | None
    at: float | None

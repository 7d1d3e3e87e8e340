"""What the rest of crashfix knows about GitHub: plain records and one error family.

Kept apart from `github_api` so that modules which only handle GitHub's answers (the
uploader's loop, the filer) do not import PyGithub; a watcher that has nothing to file
stays small (PyGithub alone is about 30 MB resident).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

from crashfix.errors import CrashfixError


class GitHubError(CrashfixError):
    """A GitHub request failed; `transient` errors are worth retrying later."""

    transient = False

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class GitHubUnavailable(GitHubError):
    """5xx, timeouts, refused or dropped connections: GitHub or the network is down."""

    transient = True

    def __init__(self, message: str, *, status: int | None = None, maybe_applied: bool = False) -> None:
        super().__init__(message, "the crash stays in the spool and is retried", status=status)
        self.maybe_applied = maybe_applied


class GitHubRateLimited(GitHubError):
    transient = True

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message, f"retry in {wait:.0f} s", status=403)
        self.wait = wait


class GitHubAuthError(GitHubError):
    """The token is missing, invalid, or lacks a permission: retrying will not help."""


class GitHubNotFound(GitHubError):
    pass


class GitHubInvalid(GitHubError):
    """GitHub rejected what we sent (422)."""


class IssueData(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    body: str
    state: str
    state_reason: str | None
    labels: tuple[str, ...]
    created_at: float
    updated_at: float
    closed_at: float | None
    html_url: str
    author: str | None
    is_pull_request: bool


class CommentData(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    body: str
    author: str | None
    created_at: float
    updated_at: float
    issue_number: int | None = None  # set by repository-wide listings


class PullData(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    body: str
    state: str
    draft: bool
    merged: bool
    head: str
    base: str
    html_url: str
    created_at: float = 0.0
    closed_at: float | None = None
    merged_at: float | None = None
    head_sha: str = ""
    author: str | None = None


class ReviewNote(BaseModel):
    """A review or review comment on a pull request: who said what, and where."""

    model_config = ConfigDict(frozen=True)

    author: str | None
    body: str
    state: str | None = None
    path: str | None = None
    line: int | None = None
    created_at: float = 0.0


class FileChange(BaseModel):
    """One file a commit (or a comparison) changed; `patch` holds its hunks when GitHub sends them."""

    model_config = ConfigDict(frozen=True)

    filename: str
    status: str = "modified"
    patch: str | None = None
    previous_filename: str | None = None


class CommitData(BaseModel):
    """A commit as crashfix uses it: which, what it says, when, and (for one commit read alone) its files."""

    model_config = ConfigDict(frozen=True)

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

    model_config = ConfigDict(frozen=True)

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

    model_config = ConfigDict(frozen=True)

    commit: str | None
    actor: str | None
    at: float | None

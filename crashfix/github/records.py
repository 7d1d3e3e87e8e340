"""What the rest of crashfix knows about GitHub: plain records and one error family.

Kept apart from `github_api` so that modules which only handle GitHub's answers (the
uploader's loop, the filer) do not import PyGithub; a watcher that has nothing to file
stays small (PyGithub alone is about 30 MB resident); the models are built on first use, too.
"""

from __future__ import annotations

from datetime import datetime, timezone

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
        # Said by whoever has a spool to keep the work in (the uploader); here only what to check.
        hint = ("GitHub answered with a server error; try again later" if status is not None
                else "check the network connection, GITHUB_API_URL and any proxy (HTTPS_PROXY), then try again")
        super().__init__(message, hint, status=status)
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
    model_config = ConfigDict(frozen=True, defer_build=True)

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
    model_config = ConfigDict(frozen=True, defer_build=True)

    id: int
    body: str
    author: str | None
    created_at: float
    updated_at: float
    issue_number: int | None = None  # set by repository-wide listings


class PullData(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

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

    model_config = ConfigDict(frozen=True, defer_build=True)

    author: str | None
    body: str
    state: str | None = None
    path: str | None = None
    line: int | None = None
    created_at: float = 0.0


def timestamp(value: datetime | None) -> float | None:
    """A GitHub time as seconds since the epoch (PyGithub gives naive UTC datetimes in older versions)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def issue_number_in(url: str | None) -> int | None:
    """`.../issues/42` -> 42: a repository-wide comment names its issue only by URL."""
    tail = (url or "").rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None

"""Opening the repository a command works on, from flags and the environment Actions provides.

`GITHUB_REPOSITORY`, `GITHUB_API_URL` and `GITHUB_TOKEN` are what a runner sets; on a
terminal the same names (or `--repo`) point crashfix at github.com or an Enterprise server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crashfix.config import repo_name_problem
from crashfix.errors import UsageError

if TYPE_CHECKING:
    from crashfix.github.api import GitHubClient, RepoAPI

DEFAULT_API_URL = "https://api.github.com"


def checked_repo_name(name: str, source: str = "--repo") -> str:
    """`name` when it is OWNER/NAME; else one line saying so (never a validation dump deep inside)."""
    problem = repo_name_problem(name)
    if problem:
        raise UsageError(f"{source} {problem}")
    return name


def repository_name(repo: str | None, environ: Mapping[str, str]) -> str | None:
    """`--repo`, else `$GITHUB_REPOSITORY`; checked to be OWNER/NAME."""
    if repo:
        return checked_repo_name(repo)
    if environ.get("GITHUB_REPOSITORY"):
        return checked_repo_name(environ["GITHUB_REPOSITORY"], "$GITHUB_REPOSITORY")
    return None


def client_from(environ: Mapping[str, str], *, token: str | None = None, **options: Any) -> GitHubClient:
    """A GitHub client for `GITHUB_API_URL` (default github.com) with `GITHUB_TOKEN` unless `token` is given.

    PyGithub is imported here, when GitHub is really used: an idle uploader never loads it.
    """
    from crashfix.github.api import GitHubClient

    return GitHubClient(base_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
                        token=environ.get("GITHUB_TOKEN", "") if token is None else token, **options)


def open_repository(repo: str | None, environ: Mapping[str, str]) -> RepoAPI:
    """The repository, read once now so that a wrong name or token fails here, in one line."""
    name = repository_name(repo, environ)
    if not name:
        raise UsageError("no repository", "pass --repo OWNER/NAME (Actions sets GITHUB_REPOSITORY)")
    return client_from(environ, write_interval=1.0).repository(name)

"""The one module that talks to GitHub (through PyGithub).

Everything else sees plain records and one error family (`records`, which loads no PyGithub).
Etiquette lives here too:
- reads and idempotent writes (GET, PATCH, PUT, DELETE) are retried on 5xx and network
  errors, with PyGithub's GithubRetry honouring `Retry-After` and `X-RateLimit-Reset`;
- POST is never retried blindly: a 5xx or a dropped connection may mean the issue was
  created, so the caller is told (`maybe_applied`) and checks before trying again; a
  rate-limited POST was rejected, so it is retried after the wait GitHub asks for;
- writes are spaced (GitHub asks for one second between content-creating requests);
- a 403 says what the token lacks for that kind of endpoint (`permissions.refusal_hint`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice
from typing import TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubObject import NotSet
from github.Issue import Issue
from github.IssueComment import IssueComment
from github.IssueEvent import IssueEvent
from github.PullRequest import PullRequest
from github.Repository import Repository

from crashfix.github.commit_records import ClosingEvent, CommitData, Comparison
from crashfix.github.permissions import WRITE_ROLE, Family, refusal_hint
from crashfix.github.records import (
    CommentData,
    GitHubAuthError,
    GitHubError,
    GitHubInvalid,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    IssueData,
    PullData,
    ReviewNote,
    issue_number_in,
    timestamp,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PATCH", "PUT", "DELETE"})
MAX_RATE_WAIT = 900.0


def _issue(issue: Issue) -> IssueData:
    return IssueData(
        number=issue.number, title=issue.title or "", body=issue.body or "", state=issue.state,
        state_reason=issue.state_reason, labels=tuple(label.name for label in issue.labels),
        created_at=timestamp(issue.created_at) or 0.0, updated_at=timestamp(issue.updated_at) or 0.0,
        closed_at=timestamp(issue.closed_at), html_url=issue.html_url,
        author=issue.user.login if issue.user else None, is_pull_request=_is_pull(issue),
    )


def _is_pull(issue: Issue) -> bool:
    """From the listing's own fields: GitHub omits `pull_request` on plain issues, and reading the
    missing attribute makes lazy PyGithub fetch the whole issue again (one request per issue)."""
    return "/pull/" in (issue.html_url or "")


def _comment(comment: IssueComment) -> CommentData:
    return CommentData(id=comment.id, body=comment.body or "", author=comment.user.login if comment.user else None,
                       created_at=timestamp(comment.created_at) or 0.0,
                       updated_at=timestamp(comment.updated_at) or 0.0)


def _pull(pull: PullRequest) -> PullData:
    return PullData(number=pull.number, title=pull.title or "", body=pull.body or "", state=pull.state,
                    draft=bool(pull.draft), merged=pull.merged_at is not None, head=pull.head.ref,
                    base=pull.base.ref, html_url=pull.html_url, created_at=timestamp(pull.created_at) or 0.0,
                    closed_at=timestamp(pull.closed_at), merged_at=timestamp(pull.merged_at),
                    head_sha=pull.head.sha or "", author=pull.user.login if pull.user else None)


def _message(error: GithubException) -> str:
    """GitHub's message, with what a 422 names (`Validation Failed: base invalid`)."""
    data = error.data if isinstance(error.data, dict) else {}
    message = str(data.get("message") or error.data or "")
    details = [str(entry.get("message") or " ".join(str(entry[key]) for key in ("field", "code") if entry.get(key)))
               for entry in data.get("errors") or [] if isinstance(entry, dict)]
    if any(details):
        message += ": " + "; ".join(detail for detail in details if detail)
    return message[:300]


def _rate_limit_wait(error: GithubException) -> float | None:
    """Seconds to wait if this error is a rate limit, else None."""
    headers = {k.lower(): v for k, v in (error.headers or {}).items()}
    message = _message(error).lower()
    limited = error.status == 429 or "rate limit" in message or headers.get("x-ratelimit-remaining") == "0"
    if error.status not in (403, 429) or not limited:
        return None
    if "retry-after" in headers:
        return float(headers["retry-after"])
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        return max(0.0, int(reset) - time.time()) + 1  # primary limit: until the window resets
    return 60.0  # secondary limit without Retry-After: GitHub asks for at least a minute


def translate(error: Exception, what: str, *, method: str, family: Family = "issues") -> GitHubError:
    """PyGithub/requests errors as crashfix errors with a message a user can act on; `family` is the kind of
    endpoint (issues, pull requests), which decides what a 403 asks the user to grant."""
    if isinstance(error, GithubException):
        status = error.status
        wait = _rate_limit_wait(error)
        if wait is not None:
            return GitHubRateLimited(f"GitHub rate limit while trying to {what}", wait)
        if status == 401:
            return GitHubAuthError(f"GitHub rejected the token while trying to {what} (401)",
                                   "check GITHUB_TOKEN: it may be missing, expired or revoked", status=401)
        if status == 403:
            message = _message(error)
            return GitHubAuthError(f"the token may not {what} (403: {message})", refusal_hint(family, message),
                                   status=403)
        if status == 404:
            return GitHubNotFound(f"not found while trying to {what} (404)",
                                  "check the repository name and that the token can see it", status=404)
        if status == 422:
            return GitHubInvalid(f"GitHub refused to {what} (422: {_message(error)})", status=422)
        if status is not None and status >= 500:
            return GitHubUnavailable(f"GitHub failed to {what} ({status})", status=status,
                                     maybe_applied=method not in IDEMPOTENT)
        return GitHubError(f"GitHub answered {status} while trying to {what}: {_message(error)}", status=status)
    if isinstance(error, requests.RequestException):
        return GitHubUnavailable(f"could not reach GitHub to {what} ({type(error).__name__})",
                                 maybe_applied=method not in IDEMPOTENT)
    raise error


class GitHubClient:
    """A connection to one GitHub (github.com or an Enterprise server) with one token."""

    def __init__(self, *, base_url: str, token: str, write_interval: float = 1.0, timeout: int = 30,
                 retries: int = 3, max_rate_wait: float = MAX_RATE_WAIT) -> None:
        if not token:
            raise GitHubAuthError("no GitHub token", "set GITHUB_TOKEN to a token that may write issues")
        retry = GithubRetry(total=retries, backoff_factor=0.5, allowed_methods=IDEMPOTENT,
                            max_rate_limit_wait=max_rate_wait)
        self.max_rate_wait = max_rate_wait
        # lazy: objects are fetched when read, so an edit or a comment costs one request, not two.
        self._github = Github(auth=Auth.Token(token), base_url=base_url.rstrip("/"), timeout=timeout,
                              retry=retry, per_page=100, seconds_between_requests=0.0,
                              seconds_between_writes=write_interval, lazy=True)

    def repository(self, full_name: str) -> RepoAPI:
        repo = self._github.get_repo(full_name)
        self.call(lambda: repo.html_url, f"open repository {full_name}", "GET")  # fetch now: fail early
        return RepoAPI(self, repo)

    def login(self) -> str:
        return self.call(lambda: self._github.get_user().login, "read the token's user", "GET")

    def token_scopes(self) -> list[str] | None:
        """A classic token's OAuth scopes, as GitHub's last answer listed them (None for other tokens)."""
        scopes = self._github.oauth_scopes
        return [scope for scope in scopes if scope] if scopes is not None else None

    def login_or_none(self) -> str | None:
        """The token's user; None for tokens that cannot read /user (the Actions GITHUB_TOKEN)."""
        try:
            return self.login()
        except (GitHubAuthError, GitHubNotFound):
            return None

    def rate_remaining(self) -> int | None:
        """Requests left in the rate-limit window, from the last answer's headers (asked for if none yet)."""
        try:
            remaining, _limit = self.call(lambda: self._github.rate_limiting, "read the rate limit", "GET")
        except GitHubError:
            return None
        return remaining if remaining >= 0 else None

    def call(self, action: Callable[[], T], what: str, method: str, *, retry_rate_limits: bool = True,
             family: Family = "issues") -> T:
        """Run one PyGithub action; a rate-limited request (rejected, so safe) is retried after GitHub's wait."""
        waited = 0.0
        while True:
            try:
                return action()
            except (GithubException, requests.RequestException) as error:
                problem = translate(error, what, method=method, family=family)
            if (retry_rate_limits and isinstance(problem, GitHubRateLimited)
                    and waited + problem.wait <= self.max_rate_wait):
                log.warning("%s; waiting %.0f s as GitHub asks", problem.message, problem.wait)
                time.sleep(problem.wait)
                waited += problem.wait
                continue
            raise problem


class RepoAPI:
    """The operations crashfix performs on one repository."""

    def __init__(self, client: GitHubClient, repo: Repository) -> None:
        self.client = client
        self._client = client
        self._repo = repo
        self.full_name = repo.full_name
        self.html_url = repo.html_url
        self._labels: set[str] = set()

    def _call(self, action: Callable[[], T], what: str, method: str, family: Family = "issues") -> T:
        return self._client.call(action, what, method, family=family)

    def ensure_label(self, name: str, color: str, description: str) -> None:
        """Create the label if missing (idempotent; remembered for the session)."""
        if name in self._labels:
            return
        try:
            # `.color` makes the lazy client really ask: a lazy `get_label` alone never sees a 404.
            self._call(lambda: self._repo.get_label(name).color, f"read label {name}", "GET")
        except GitHubNotFound:
            try:
                self._call(lambda: self._repo.create_label(name, color, description), f"create label {name}", "POST")
            except GitHubInvalid:
                pass  # created meanwhile by another uploader
        self._labels.add(name)

    def label_names(self) -> list[str]:
        """Every label of the repository, all pages (for `init` and `doctor`)."""
        pages = self._call(lambda: self._repo.get_labels(), "list labels", "GET")
        return [label.name for label in self._pages(pages, "list labels")]

    def token_permissions(self) -> dict[str, bool] | None:
        """What the token's user may do here (`admin`, `push`, ...); None when GitHub does not say
        (installation tokens such as the Actions GITHUB_TOKEN)."""
        permissions = self._call(lambda: self._repo.permissions, "read the token's permissions", "GET")
        if permissions is None:
            return None
        names = ("admin", "maintain", "push", "triage", "pull")
        return {name: bool(getattr(permissions, name, False)) for name in names}

    def require_push(self, because: str) -> None:
        """Stop before writing when the token's account has no push access here. GitHub reports the role for a
        person's token only; an app's token (the Actions GITHUB_TOKEN) is judged by its permissions when it writes."""
        permissions = self.token_permissions()
        if permissions is not None and not permissions["push"]:
            raise GitHubAuthError(f"the token's account has only read access to {self.full_name}: {because}",
                                  WRITE_ROLE, status=403)

    def issues(self, *, labels: tuple[str, ...] = (), state: str = "all",
               since: float | None = None) -> Iterator[IssueData]:
        """Issues (not pull requests), oldest update first, all pages; optionally only some labels."""
        when = datetime.fromtimestamp(since, timezone.utc) if since is not None else NotSet
        pages = self._call(lambda: self._repo.get_issues(state=state, sort="updated", direction="asc",
                                                         labels=list(labels) if labels else NotSet, since=when),
                           "list issues", "GET")
        for issue in self._pages(pages, "list issues"):
            if not _is_pull(issue):
                yield _issue(issue)

    def issue(self, number: int) -> IssueData:
        """A fresh read of one issue."""
        lazy = self._lazy(number)
        self._call(lambda: lazy.title, f"read issue #{number}", "GET")
        return _issue(lazy)

    def _lazy(self, number: int) -> Issue:
        """An issue handle that costs no request until it is read."""
        return self._repo.get_issue(number)

    def create_issue(self, title: str, body: str, labels: tuple[str, ...]) -> IssueData:
        """A new issue with its labels; refused here when GitHub would silently drop the labels (an account
        without push access), since an unlabelled crash issue is lost to every later search."""
        if labels:
            self.require_push("GitHub would file the issue without its labels")
        created = self._call(lambda: self._repo.create_issue(title=title, body=body, labels=list(labels)),
                             "create an issue", "POST")
        return _issue(created)

    def edit_issue(self, number: int, *, body: str | None = None, state: str | None = None,
                   state_reason: str | None = None, title: str | None = None) -> IssueData:
        issue = self._lazy(number)
        changes: dict[str, str] = {}
        if body is not None:
            changes["body"] = body
        if state is not None:
            changes["state"] = state
        if state_reason is not None:
            changes["state_reason"] = state_reason
        if title is not None:
            changes["title"] = title
        self._call(lambda: issue.edit(**changes), f"update issue #{number}", "PATCH")  # type: ignore[arg-type]
        return _issue(issue)

    def add_labels(self, number: int, labels: tuple[str, ...]) -> None:
        issue = self._lazy(number)
        self._call(lambda: issue.add_to_labels(*labels), f"label issue #{number}", "POST")

    def remove_label(self, number: int, label: str) -> None:
        issue = self._lazy(number)
        try:
            self._call(lambda: issue.remove_from_labels(label), f"unlabel issue #{number}", "DELETE")
        except GitHubNotFound:
            pass  # not there: nothing to remove

    def comment(self, number: int, body: str) -> CommentData:
        issue = self._lazy(number)
        return _comment(self._call(lambda: issue.create_comment(body), f"comment on issue #{number}", "POST"))

    def comments(self, number: int) -> list[CommentData]:
        issue = self._lazy(number)
        return [_comment(c) for c in self._call(lambda: list(issue.get_comments()), f"read comments of #{number}",
                                                "GET")]

    def _pages(self, pages: Iterable[T], what: str, family: Family = "issues") -> Iterator[T]:
        """Walk a paginated listing; a failed page ends it with a translated error, never a retry of a dead
        iterator (PyGithub's page iterators cannot resume)."""
        iterator = iter(pages)
        while True:
            try:
                yield self._client.call(lambda: next(iterator), what, "GET", retry_rate_limits=False, family=family)
            except StopIteration:
                return

    def all_comments(self, *, since: float | None = None) -> Iterator[CommentData]:
        """Every issue and PR comment of the repository, 100 a page, oldest update first (for `stats`)."""
        when = datetime.fromtimestamp(since, timezone.utc) if since is not None else NotSet
        pages = self._call(lambda: self._repo.get_issues_comments(sort="updated", direction="asc", since=when),
                           "list comments", "GET")
        for comment in self._pages(pages, "list comments"):
            yield _comment(comment).model_copy(update={"issue_number": issue_number_in(comment.issue_url)})

    def pulls(self, *, state: str = "all") -> Iterator[PullData]:
        """Pull requests, 100 a page, oldest first (for `stats`)."""
        pages = self._call(lambda: self._repo.get_pulls(state=state, sort="created", direction="asc"),
                           "list pull requests", "GET", "pull-requests")
        for pull in self._pages(pages, "list pull requests", "pull-requests"):
            yield _pull(pull)

    def edit_comment(self, number: int, comment_id: int, body: str) -> CommentData:
        comment = self._call(lambda: self._lazy(number).get_comment(comment_id), f"read comment {comment_id}", "GET")
        self._call(lambda: comment.edit(body), f"update comment {comment_id}", "PATCH")
        return _comment(comment)

    # -- commits (the uploader's fix watch and suspect commits, the fixer's context) -------------

    def commit(self, ref: str) -> CommitData | None:
        """One commit with its files' patches (`ref` may be a short sha or a branch); None when there is none."""
        data = self._known(lambda: self._repo.get_commit(ref).raw_data, f"read commit {ref}")
        return None if data is None else CommitData.from_json(data)

    def compare(self, base: str, head: str) -> Comparison | None:
        """`base...head` in one request (its first 250 commits); None when either commit is unknown."""
        data = self._known(lambda: self._repo.compare(base, head).raw_data, f"compare {base[:12]}...{head[:12]}")
        return None if data is None else Comparison.from_json(data)

    def _known(self, action: Callable[[], dict[str, object]], what: str) -> dict[str, object] | None:
        try:
            return self._call(action, what, "GET", "contents")
        except (GitHubInvalid, GitHubNotFound):  # GitHub: 404, or 422 "No commit found for SHA"
            return None

    def commits_touching(self, head: str, path: str, limit: int = 100) -> list[CommitData]:
        """The newest `limit` commits reachable from `head` that changed `path` (100 a page)."""
        try:
            items = list(islice(self._pages(self._repo.get_commits(sha=head, path=path), f"list commits of {path}",
                                            "contents"), limit))
        except GitHubNotFound:
            return []
        return [CommitData(sha=i.sha, message=i.commit.message or "", html_url=i.html_url or "",
                           date=timestamp(i.commit.committer.date if i.commit.committer else None)) for i in items]

    def closing_event(self, number: int) -> ClosingEvent | None:
        """The issue's latest `closed` event (a merged pull request's names the commit), or None."""
        last = next((e for e in reversed(self._events(number)) if e.event == "closed"), None)
        return None if last is None else ClosingEvent(commit=last.commit_id or None, at=timestamp(last.created_at),
                                                      actor=last.actor.login if last.actor else None)

    def _events(self, number: int) -> list[IssueEvent]:
        issue = self._lazy(number)
        return self._call(lambda: list(issue.get_events()), f"read the events of #{number}", "GET")

    # -- the fixer's operations ------------------------------------------------------------------

    @property
    def default_branch(self) -> str:
        return self._call(lambda: self._repo.default_branch, "read the default branch", "GET")

    @property
    def clone_url(self) -> str:
        """Where git fetches and pushes this repository (https), as GitHub (or an Enterprise server) says."""
        return self._call(lambda: self._repo.clone_url, "read the repository's clone URL", "GET")

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    def permission(self, login: str) -> str:
        """The user's role: admin, maintain, write, triage, read or none (GitHub's finer `role_name`)."""
        try:
            return self._call(lambda: self._repo.get_collaborator_role_name(login), f"read {login}'s permission",
                              "GET")
        except GitHubNotFound:
            return "none"

    def label_adder(self, number: int, label: str) -> str | None:
        """Who most recently added `label` to the issue, from its events (None if nobody did)."""
        adders = [e.actor.login for e in self._events(number)
                  if e.event == "labeled" and e.label is not None and e.label.name.casefold() == label.casefold()
                  and e.actor is not None]
        return adders[-1] if adders else None

    def find_pull(self, branch: str) -> PullData | None:
        """The pull request from `branch` of this repository: an open one first, else the newest closed one."""
        pulls = self._call(lambda: list(self._repo.get_pulls(state="all", head=f"{self.owner}:{branch}")),
                           f"look for a pull request from {branch}", "GET", "pull-requests")
        mine = sorted((p for p in pulls if p.head.ref == branch), key=lambda p: (p.state == "open", p.number))
        return _pull(mine[-1]) if mine else None

    def create_pull(self, *, title: str, body: str, head: str, base: str) -> PullData:
        created = self._call(lambda: self._repo.create_pull(title=title, body=body, head=head, base=base, draft=True),
                             f"open a draft pull request from {head}", "POST", "pull-requests")
        return _pull(created)

    def update_pull(self, number: int, *, title: str, body: str, reopen: bool = False) -> PullData:
        pull = self._call(lambda: self._repo.get_pull(number), f"read pull request #{number}", "GET", "pull-requests")
        changes: dict[str, str] = {"title": title, "body": body}
        if reopen:
            changes["state"] = "open"
        self._call(lambda: pull.edit(**changes), f"update pull request #{number}", "PATCH",  # type: ignore[arg-type]
                   "pull-requests")
        return _pull(pull)

    def review_notes(self, number: int) -> list[ReviewNote]:
        """Reviews (with a body) and review comments on a pull request, oldest first."""
        pull = self._call(lambda: self._repo.get_pull(number), f"read pull request #{number}", "GET", "pull-requests")
        reviews = self._call(lambda: list(pull.get_reviews()), f"read reviews of #{number}", "GET", "pull-requests")
        comments = self._call(lambda: list(pull.get_review_comments()), f"read review comments of #{number}", "GET",
                              "pull-requests")
        notes = [ReviewNote(author=r.user.login if r.user else None, body=r.body or "", state=r.state,
                            created_at=timestamp(r.submitted_at) or 0.0) for r in reviews if r.body]
        notes += [ReviewNote(author=c.user.login if c.user else None, body=c.body or "", path=c.path,
                             line=c.line, created_at=timestamp(c.created_at) or 0.0) for c in comments]
        return sorted(notes, key=lambda note: note.created_at)

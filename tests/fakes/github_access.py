"""Who may do what on the fake GitHub: tokens, repository roles, the Actions PR setting and the
secondary limit on content creation.

Three kinds of token, as on GitHub:
- `classic` (a classic personal access token or an OAuth token): acts with its user's role;
- `fine-grained` (a fine-grained personal access token): its user's role, and only the
  repository permissions the token was given;
- `installation` (a GitHub App's, such as the Actions GITHUB_TOKEN): only the permissions it was given.

What GitHub answers, and where that is written down:
- a token without the permission an endpoint needs (GitHub's tables "Permissions required for
  fine-grained personal access tokens" / "... for GitHub Apps"; `metadata: read` is always granted):
  403 "Resource not accessible by integration" (installation) or "Resource not accessible by
  personal access token" (fine-grained);
- the Actions token opening a pull request while the repository's "Allow GitHub Actions to create
  and approve pull requests" is off (the default for new repositories since 2022): 403 "GitHub
  Actions is not permitted to create or approve pull requests.";
- reading a collaborator's permission without push access: 403 "Must have push access to view
  collaborator permission.";
- a change the user's role does not allow (someone else's comment or issue, labelling without
  triage, creating a label without write): 403 "Must have admin rights to Repository.";
- labels and assignees sent with a new issue by a user without push access are silently dropped
  (the REST reference of "Create an issue"); reading is open to everyone (the repository is public);
- more than 80 content-creating requests in a minute (issues, comments, pull requests, labels):
  403 with `Retry-After`, "You have exceeded a secondary rate limit and have been temporarily
  blocked from content creation. Please retry your request again later." (GitHub's page on REST
  rate limits: "no more than 80 content-generating requests per minute").
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tests.fakes import github_objects as objects
from tests.fakes.github_state import ApiError

if TYPE_CHECKING:
    from tests.fakes.github_state import RepoState

ACTIONS_LOGIN = "github-actions[bot]"
KINDS = ("classic", "fine-grained", "installation")
FAMILIES = ("contents", "issues", "metadata", "pull_requests")
LEVELS = {"none": 0, "read": 1, "write": 2}
RANKS = {"none": 0, "read": 0, "triage": 1, "write": 2, "maintain": 3, "admin": 4}  # public: everyone reads

BY_INTEGRATION = "Resource not accessible by integration"
BY_FINE_GRAINED = "Resource not accessible by personal access token"
ACTIONS_MAY_NOT_OPEN_PULLS = "GitHub Actions is not permitted to create or approve pull requests."
NEEDS_PUSH_FOR_PERMISSION = "Must have push access to view collaborator permission."
NEEDS_RIGHTS = "Must have admin rights to Repository."
CONTENT_LIMITED = ("You have exceeded a secondary rate limit and have been temporarily blocked from content "
                   "creation. Please retry your request again later.")
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
_REST = "https://docs.github.com/rest"
DOC_PAGES = {
    "create_issue": f"{_REST}/issues/issues#create-an-issue", "edit_issue": f"{_REST}/issues/issues#update-an-issue",
    "create_comment": f"{_REST}/issues/comments#create-an-issue-comment",
    "edit_comment": f"{_REST}/issues/comments#update-an-issue-comment",
    "delete_comment": f"{_REST}/issues/comments#delete-an-issue-comment",
    "create_label": f"{_REST}/issues/labels#create-a-label",
    "add_labels": f"{_REST}/issues/labels#add-labels-to-an-issue",
    "create_pull": f"{_REST}/pulls/pulls#create-a-pull-request", "edit_pull": f"{_REST}/pulls/pulls#update-a-pull-request",
    "get_permission": f"{_REST}/collaborators/collaborators#get-repository-permissions-for-a-user",
    "get_viewer": f"{_REST}/users/users#get-the-authenticated-user",
}
# Endpoints that create content, for the secondary limit.
CREATING = frozenset({"create_issue", "create_comment", "create_pull", "create_label"})

_ISSUES, _SHARED, _PULLS, _META = ("issues",), ("issues", "pull_requests"), ("pull_requests",), ("metadata",)
_CONTENTS = ("contents",)
# The permission a fine-grained or installation token needs per route handler; `None`: none at all.
# Endpoints shared by issues and pull requests accept either permission when the number is a pull request.
NEEDS: dict[str, tuple[tuple[str, ...], str] | None] = {
    "get_viewer": None, "get_user": None, "search_issues": None,
    "get_repo": (_META, "read"), "get_permission": (_META, "read"),
    "list_issues": (_ISSUES, "read"), "create_issue": (_ISSUES, "write"),
    "get_issue": (_ISSUES, "read"), "edit_issue": (_ISSUES, "write"),
    "list_comments": (_ISSUES, "read"), "create_comment": (_ISSUES, "write"),
    "list_issue_events": (_ISSUES, "read"), "get_issue_event": (_SHARED, "read"), "list_issue_labels": (_ISSUES, "read"),
    "add_labels": (_ISSUES, "write"), "set_labels": (_ISSUES, "write"),
    "remove_all_labels": (_ISSUES, "write"), "remove_label": (_ISSUES, "write"),
    "list_repo_comments": (_SHARED, "read"), "get_comment": (_SHARED, "read"),
    "edit_comment": (_SHARED, "write"), "delete_comment": (_SHARED, "write"),
    "list_labels": (_SHARED, "read"), "get_label": (_SHARED, "read"), "create_label": (_SHARED, "write"),
    "list_pulls": (_PULLS, "read"), "create_pull": (_PULLS, "write"), "get_pull": (_PULLS, "read"),
    "edit_pull": (_PULLS, "write"), "list_reviews": (_PULLS, "read"), "list_review_comments": (_PULLS, "read"),
    "list_commits": (_CONTENTS, "read"), "get_commit": (_CONTENTS, "read"), "compare": (_CONTENTS, "read"),
}
_LABELLING = frozenset({"add_labels", "set_labels", "remove_all_labels", "remove_label"})


@dataclass(frozen=True)
class Token:
    """A token the fake accepts: whose it is, what kind, and (fine-grained, installation) what it may do."""

    login: str
    kind: str = "classic"
    permissions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    scopes: tuple[str, ...] = ("repo",)  # a classic token's OAuth scopes: reported in X-OAuth-Scopes, not enforced

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        for family, level in self.permissions.items():
            if family not in FAMILIES or level not in LEVELS:
                raise ValueError(f"permission {family}: {level} is not one of {FAMILIES} with read or write")

    def grants(self, families: tuple[str, ...], level: str) -> bool:
        if self.kind == "classic" or (families == _META and level == "read"):
            return True
        return any(LEVELS[self.permissions.get(family, "none")] >= LEVELS[level] for family in families)

    @property
    def refusal(self) -> str:
        return BY_INTEGRATION if self.kind == "installation" else BY_FINE_GRAINED

    @property
    def has_role(self) -> bool:
        """Installation tokens act for an app, not a user: repository roles do not apply to them."""
        return self.kind != "installation"


def forbidden(message: str, handler: str) -> ApiError:
    return ApiError(403, objects.error(message, 403, DOC_PAGES.get(handler, _REST)))


def check(gh: RepoState, token: Token, handler: str, params: Mapping[str, str], body: Any) -> None:
    """Raise GitHub's 403 if this token (or its user's role) may not call `handler`; else return."""
    if handler == "get_viewer" and token.kind == "installation":
        raise forbidden(BY_INTEGRATION, handler)
    need = NEEDS.get(handler)
    if need is not None:
        families, level = need
        number = params.get("number")
        if families == _ISSUES and number is not None and int(number) in gh.pulls:
            families = _SHARED
        if not token.grants(families, level):
            raise forbidden(token.refusal, handler)
    if handler == "create_pull" and token.kind == "installation" and token.login == ACTIONS_LOGIN \
            and not gh.actions_can_create_pulls:
        raise forbidden(ACTIONS_MAY_NOT_OPEN_PULLS, handler)
    if token.has_role:
        _check_role(gh, token.login, handler, params, body)


def _check_role(gh: RepoState, login: str, handler: str, params: Mapping[str, str], body: Any) -> None:
    rank = RANKS[gh.permission(login)]
    if handler == "get_permission" and rank < RANKS["write"]:
        raise forbidden(NEEDS_PUSH_FOR_PERMISSION, handler)
    needed = {"create_label": "write"}.get(handler) or ("triage" if handler in _LABELLING else None)
    if handler in ("edit_comment", "delete_comment"):
        _, comment = gh.find_comment(int(params["comment_id"]))
        needed = None if comment["user"]["login"] == login else "write"
    elif handler in ("edit_issue", "edit_pull") and int(params["number"]) in gh.issues:
        author = gh.issues[int(params["number"])]["user"]["login"]
        text = isinstance(body, dict) and ("title" in body or "body" in body)
        needed = None if author == login else "write" if text or handler == "edit_pull" else "triage"
    if needed is not None and rank < RANKS[needed]:
        raise forbidden(NEEDS_RIGHTS, handler)


def may_push(gh: RepoState, token: Token | None) -> bool:
    """Whether labels and assignees a request sets are applied (GitHub drops them silently otherwise)."""
    if token is None:
        return False
    return not token.has_role or RANKS[gh.permission(token.login)] >= RANKS["write"]


class ContentLimit:
    """GitHub's secondary limit on content creation: `per_minute` creations per user in any 60 s."""

    def __init__(self, per_minute: int = 80) -> None:
        self.per_minute = per_minute
        self._created: dict[str, deque[float]] = {}

    def refusal(self, login: str, now: float) -> ApiError | None:
        recent = self._created.setdefault(login, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) < self.per_minute:
            return None
        wait = max(1, math.ceil(recent[0] + 60 - now))
        return ApiError(403, objects.error(CONTENT_LIMITED, 403, f"{RATE_DOCS}#about-secondary-rate-limits"),
                        {"Retry-After": str(wait)})

    def record(self, login: str, now: float) -> None:
        self._created.setdefault(login, deque()).append(now)

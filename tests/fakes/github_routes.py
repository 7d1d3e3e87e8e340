"""The REST endpoints the fake answers: request validation, filters, pagination and GitHub's errors.

Each handler takes the repository state and one parsed `Call` and returns a `Reply` or
raises `ApiError`; the server runs it under the state's lock. Validation mirrors what
GitHub answers for the mistakes a client can make (422 shapes, 404 for an absent label),
because crashfix's error handling is tested against these answers. Who may call a route is
decided before it runs (github_access); search and pull requests live in github_pulls, the
helpers every handler shares in github_calls, commits and comparisons (real git) in github_commits.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import unquote

from tests.fakes import github_objects as objects
from tests.fakes.github_calls import (
    MAX_BODY,
    MAX_TITLE,
    STATE_REASONS,
    Call,
    Reply,
    body_object,
    check_text,
    choice,
    created,
    label_list,
    label_names,
    paginate,
    since_of,
    sort_items,
)
from tests.fakes.github_commits import compare, get_commit, list_commits
from tests.fakes.github_objects import Json
from tests.fakes.github_pulls import (
    create_pull,
    edit_pull,
    get_pull,
    list_pulls,
    list_review_comments,
    list_reviews,
    search_issues,
)
from tests.fakes.github_state import ApiError, RepoState

__all__ = ["ROUTES", "Call", "Handler", "Reply", "resolve"]
Handler = Callable[[RepoState, Call], Reply]


# -- users, repository, rate limit ------------------------------------------------------------


def get_viewer(gh: RepoState, call: Call) -> Reply:
    return Reply(200, objects.user_profile(gh.user(call.login), gh.created_at, private=True))


def get_user(gh: RepoState, call: Call) -> Reply:
    login = call.params["login"]
    if login not in gh.users and login not in gh.permissions:
        raise ApiError.not_found()
    return Reply(200, objects.user_profile(gh.user(login), gh.created_at, private=False))


def get_repo(gh: RepoState, call: Call) -> Reply:
    """As GitHub: a signed-in user is told its own permissions; an anonymous caller or an app is told none."""
    repo = gh.repository()
    if call.login and not call.app:
        repo["permissions"] = objects.collaborator(gh.user(call.login), gh.permission(call.login))["permissions"]
    else:
        repo.pop("permissions", None)
    return Reply(200, repo)


def get_permission(gh: RepoState, call: Call) -> Reply:
    login = call.params["login"]
    if login not in gh.users and login not in gh.permissions:
        raise ApiError.not_found()
    role = gh.permission(login)
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)  # `permission` predates the finer roles
    user = objects.collaborator(gh.user(login), role)
    return Reply(200, {"permission": legacy, "role_name": role, "user": user})


# -- issues -----------------------------------------------------------------------------------


def list_issues(gh: RepoState, call: Call) -> Reply:
    state = choice(call, "state", ("open", "closed", "all"), "open")
    wanted = [name.strip().casefold() for name in call.query.get("labels", "").split(",") if name.strip()]
    since = since_of(call)
    creator = call.query.get("creator")
    assignee = call.query.get("assignee")
    found = []
    for issue in gh.issues.values():
        names = {label["name"].casefold() for label in issue["labels"]}
        logins = {user["login"] for user in issue["assignees"]}
        if ((state != "all" and issue["state"] != state) or not all(name in names for name in wanted)
                or (since is not None and objects.parse_iso(issue["updated_at"]) < since)
                or (creator and issue["user"]["login"] != creator)
                or (assignee == "none" and logins) or (assignee == "*" and not logins)
                or (assignee not in (None, "none", "*") and assignee not in logins)):
            continue
        found.append(issue)
    return paginate(gh, call, sort_items(found, call, {"created": "created_at", "updated": "updated_at",
                                                   "comments": "comments"}, "created"))


def create_issue(gh: RepoState, call: Call) -> Reply:
    data = body_object(call)
    title = check_text("Issue", "title", data.get("title"), MAX_TITLE, required=True)
    body = check_text("Issue", "body", data.get("body"), MAX_BODY, required=False)
    assignees = list(data.get("assignees") or ([data["assignee"]] if data.get("assignee") else []))
    labels = label_names(data.get("labels", []))
    if not call.can_push:
        labels, assignees = [], []
    gh.check_assignees(assignees)
    issue = gh.new_issue(title=title or "", body=body, labels=labels, author=call.login, assignees=assignees)
    return created(issue)


def get_issue(gh: RepoState, call: Call) -> Reply:
    return Reply(200, gh.issue(int(call.params["number"])))


def edit_issue(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    data = body_object(call)
    changes: Json = {}
    if "title" in data:
        changes["title"] = check_text("Issue", "title", data["title"], MAX_TITLE, required=True)
    if "body" in data:
        changes["body"] = check_text("Issue", "body", data["body"], MAX_BODY, required=False)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise ApiError.invalid("Issue", "invalid", field="state")
        changes["state"] = data["state"]
    if data.get("state_reason") is not None:
        if data["state_reason"] not in STATE_REASONS:
            raise ApiError.invalid("Issue", "invalid", field="state_reason")
        changes["state_reason"] = data["state_reason"]
    if "labels" in data and call.can_push:
        changes["labels"] = label_names(data["labels"])
    if "assignees" in data and call.can_push:
        changes["assignees"] = list(data["assignees"] or [])
        gh.check_assignees(changes["assignees"], number)
    return Reply(200, gh.edit_issue(number, changes, actor=call.login))


# -- comments ---------------------------------------------------------------------------------


def list_comments(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    since = since_of(call)
    found = [c for c in gh.comments[number] if since is None or objects.parse_iso(c["updated_at"]) >= since]
    return paginate(gh, call, found)


def list_repo_comments(gh: RepoState, call: Call) -> Reply:
    """GET /repos/{o}/{r}/issues/comments: every issue and PR comment, filtered by `since` (updated_at)."""
    since = since_of(call)
    found = [c for comments in gh.comments.values() for c in comments
             if since is None or objects.parse_iso(c["updated_at"]) >= since]
    limit, page = gh.comment_listing_pages, call.query.get("page", "1")
    if limit is not None and page.isdigit() and int(page) > limit:
        # GitHub caps deep pagination of this listing on busy repositories: the `next` link is still
        # there, following it answers 422 (seen at page 1334 of 30 on gatsbyjs/gatsby).
        raise ApiError(422, objects.error(
            "In order to keep the API fast for everyone, pagination is limited for this resource. Check the "
            "rel=last link relation in the Link response header to see how far back you can traverse.", 422))
    return paginate(gh, call, sort_items(found, call, {"created": "created_at", "updated": "updated_at"}, "created"))


def list_issue_events(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    return paginate(gh, call, list(gh.events.get(number, [])))


def get_issue_event(gh: RepoState, call: Call) -> Reply:
    """One event by id (PyGithub fetches it to complete an event that lacks a field, e.g. `label`)."""
    wanted = int(call.params["event_id"])
    found = next((event for events in gh.events.values() for event in events if event["id"] == wanted), None)
    if found is None:
        raise ApiError.not_found()
    return Reply(200, found)


def create_comment(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    body = check_text("IssueComment", "body", body_object(call).get("body"), MAX_BODY, required=True)
    return created(gh.add_comment(number, body or "", author=call.login))


def get_comment(gh: RepoState, call: Call) -> Reply:
    return Reply(200, gh.find_comment(int(call.params["comment_id"]))[1])


def edit_comment(gh: RepoState, call: Call) -> Reply:
    number, comment = gh.find_comment(int(call.params["comment_id"]))
    body = check_text("IssueComment", "body", body_object(call).get("body"), MAX_BODY, required=True)
    comment["body"] = body
    comment["updated_at"] = objects.iso(time.time())
    gh.touch(number)
    return Reply(200, comment)


def delete_comment(gh: RepoState, call: Call) -> Reply:
    gh.delete_comment(int(call.params["comment_id"]))
    return Reply(204)


# -- labels -----------------------------------------------------------------------------------


def list_issue_labels(gh: RepoState, call: Call) -> Reply:
    return paginate(gh, call, gh.issue(int(call.params["number"]))["labels"])


def add_labels(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    issue = gh.issue(number)
    names = [label["name"] for label in issue["labels"]] + label_list(call)
    return Reply(200, gh.edit_issue(number, {"labels": names}, actor=call.login)["labels"])


def set_labels(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    return Reply(200, gh.edit_issue(number, {"labels": label_list(call)}, actor=call.login)["labels"])


def remove_all_labels(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    gh.edit_issue(number, {"labels": []}, actor=call.login)
    return Reply(204)


def remove_label(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    issue = gh.issue(number)
    name = call.params["name"].casefold()
    remaining = [label["name"] for label in issue["labels"] if label["name"].casefold() != name]
    if len(remaining) == len(issue["labels"]):
        raise ApiError.not_found("Label does not exist")
    return Reply(200, gh.edit_issue(number, {"labels": remaining}, actor=call.login)["labels"])


def list_labels(gh: RepoState, call: Call) -> Reply:
    return paginate(gh, call, sorted(gh.labels.values(), key=lambda label: label["name"].casefold()))


def get_label(gh: RepoState, call: Call) -> Reply:
    found = gh.find_label(call.params["name"])
    if found is None:
        raise ApiError.not_found()
    return Reply(200, found)


def create_label(gh: RepoState, call: Call) -> Reply:
    data = body_object(call)
    name = check_text("Label", "name", data.get("name"), 50, required=True) or ""
    color = str(data.get("color") or "ededed").lstrip("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
        raise ApiError.invalid("Label", "invalid", field="color")
    return created(gh.create_label(name, color, data.get("description")))


# -- the table --------------------------------------------------------------------------------

_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_ISSUE = _REPO + r"/issues/(?P<number>\d+)"
_PULL = _REPO + r"/pulls/(?P<number>\d+)"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", r"/user", get_viewer),
    ("GET", r"/users/(?P<login>[^/]+)", get_user),
    ("GET", _REPO, get_repo),
    ("GET", _REPO + r"/collaborators/(?P<login>[^/]+)/permission", get_permission),
    ("GET", _REPO + r"/issues", list_issues),
    ("POST", _REPO + r"/issues", create_issue),
    ("GET", _REPO + r"/issues/comments", list_repo_comments),
    ("GET", _REPO + r"/issues/comments/(?P<comment_id>\d+)", get_comment),
    ("GET", _REPO + r"/issues/events/(?P<event_id>\d+)", get_issue_event),
    ("PATCH", _REPO + r"/issues/comments/(?P<comment_id>\d+)", edit_comment),
    ("DELETE", _REPO + r"/issues/comments/(?P<comment_id>\d+)", delete_comment),
    ("GET", _ISSUE, get_issue),
    ("PATCH", _ISSUE, edit_issue),
    ("GET", _ISSUE + r"/comments", list_comments),
    ("POST", _ISSUE + r"/comments", create_comment),
    ("GET", _ISSUE + r"/events", list_issue_events),
    ("GET", _ISSUE + r"/labels", list_issue_labels),
    ("POST", _ISSUE + r"/labels", add_labels),
    ("PUT", _ISSUE + r"/labels", set_labels),
    ("DELETE", _ISSUE + r"/labels", remove_all_labels),
    ("DELETE", _ISSUE + r"/labels/(?P<name>[^/]+)", remove_label),
    ("GET", _REPO + r"/labels", list_labels),
    ("POST", _REPO + r"/labels", create_label),
    ("GET", _REPO + r"/labels/(?P<name>[^/]+)", get_label),
    ("GET", r"/search/issues", search_issues),
    ("GET", _REPO + r"/pulls", list_pulls),
    ("POST", _REPO + r"/pulls", create_pull),
    ("GET", _PULL, get_pull),
    ("PATCH", _PULL, edit_pull),
    ("GET", _PULL + r"/reviews", list_reviews),
    ("GET", _PULL + r"/comments", list_review_comments),
    ("GET", _REPO + r"/commits", list_commits),
    ("GET", _REPO + r"/commits/(?P<ref>[^/]+)", get_commit),
    ("GET", _REPO + r"/compare/(?P<basehead>.+)", compare),
]
_COMPILED = [(method, re.compile(pattern + "$"), handler) for method, pattern, handler in ROUTES]


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for a request and its URL-decoded path parameters, or None (GitHub answers 404)."""
    for route_method, pattern, handler in _COMPILED:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, {key: unquote(value) for key, value in match.groupdict().items()}
    return None

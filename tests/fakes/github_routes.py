"""The REST endpoints the fake answers: request validation, filters, pagination and GitHub's errors.

Each handler takes the repository state and one parsed `Call` and returns a `Reply` or
raises `ApiError`; the server runs it under the state's lock. Validation mirrors what
GitHub answers for the mistakes a client can make (422 shapes, 404 for an absent label),
because crashfix's error handling is tested against these answers.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from tests.fakes import github_objects as objects
from tests.fakes import github_search as search
from tests.fakes.github_objects import Json
from tests.fakes.github_state import ApiError, RepoState

MAX_BODY = 65536  # characters, for issue, PR and comment bodies
MAX_TITLE = 256
SEARCH_WINDOW = 1000  # GitHub serves only the first 1000 search results
STATE_REASONS = ("completed", "not_planned", "reopened", "duplicate")
_SIMPLE_PULL_DROPS = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
                      "review_comments", "maintainer_can_modify", "commits", "additions", "deletions", "changed_files")


@dataclass
class Call:
    """One parsed request: path parameters are already URL-decoded.

    `can_push`: whether labels and assignees the request sets are applied; GitHub drops them
    silently for users without push access (see github_access).
    """

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    login: str
    can_push: bool = True


@dataclass
class Reply:
    status: int
    body: Any = None  # None: no body (204, 304)
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RepoState, Call], Reply]


# -- helpers ----------------------------------------------------------------------------------


def _object(call: Call) -> Json:
    if not isinstance(call.body, dict):
        raise ApiError.unprocessable("Invalid request.\n\nThe request body must be a JSON object.")
    return call.body


def _check_text(resource: str, name: str, value: Any, limit: int, *, required: bool) -> str | None:
    """GitHub's answers for a missing, mistyped or too long title/body."""
    if value is None:
        if required:
            raise ApiError.unprocessable(f'Invalid request.\n\n"{name}" wasn\'t supplied.')
        return None
    if isinstance(value, int) and not isinstance(value, bool) and name == "title":
        value = str(value)
    if not isinstance(value, str):
        raise ApiError.unprocessable(f'Invalid request.\n\nFor \'properties/{name}\', {value!r} is not a string.')
    if required and not value.strip():
        raise ApiError.invalid(resource, "missing_field", field=name)
    if len(value) > limit:
        raise ApiError.invalid(resource, "custom", field=name,
                               message=f"{name} is too long (maximum is {limit} characters)")
    return value


def _names(value: Any) -> list[str]:
    """Labels as clients send them: names, or objects with a `name`."""
    if not isinstance(value, list):
        raise ApiError.unprocessable("Invalid request.\n\nFor 'properties/labels', it is not an array.")
    return [item["name"] if isinstance(item, dict) else str(item) for item in value]


def _label_list(call: Call) -> list[str]:
    """Add/set labels accept a bare array (what PyGithub sends) or {"labels": [...]}."""
    body = call.body
    return _names(body.get("labels", []) if isinstance(body, dict) else body)


def _choice(call: Call, name: str, allowed: tuple[str, ...], default: str, resource: str = "Issue") -> str:
    """A query parameter with a fixed set of values; GitHub answers 422 to any other."""
    value = call.query.get(name, default)
    if value not in allowed:
        raise ApiError.invalid(resource, "invalid", field=name)
    return value


def _since(call: Call) -> float | None:
    if "since" not in call.query:
        return None
    try:
        return objects.parse_iso(call.query["since"])
    except ValueError:
        raise ApiError.invalid("Issue", "invalid", field="since") from None


def paginate(gh: RepoState, call: Call, items: list[Any], *, wrap: Callable[[list[Any]], Any] | None = None,
             window: int | None = None) -> Reply:
    """One page of `items`, with an RFC 5988 `Link` header (first/prev/next/last) as GitHub sends."""
    try:
        per_page = max(1, min(int(call.query.get("per_page", 30)), gh.per_page_max))
        page = max(1, int(call.query.get("page", 1)))
    except ValueError:
        per_page, page = 30, 1
    reachable = len(items) if window is None else min(len(items), window)
    last = max(1, math.ceil(reachable / per_page))
    if window is not None and page > last and len(items) > window:
        raise ApiError.invalid("Search", "invalid", message=f"Only the first {window} search results are available")
    chunk = items[(page - 1) * per_page: page * per_page]
    rels = []
    if page > 1:
        rels += [("prev", page - 1), ("first", 1)]
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    headers = {}
    if rels:
        def link(number: int) -> str:
            return f"{gh.api}{call.path}?{urlencode({**call.query, 'per_page': per_page, 'page': number})}"
        headers["Link"] = ", ".join(f'<{link(number)}>; rel="{rel}"' for rel, number in rels)
    return Reply(200, wrap(chunk) if wrap else chunk, headers)


def _sorted(items: list[Json], call: Call, keys: dict[str, str], default: str) -> list[Json]:
    sort = _choice(call, "sort", tuple(keys), default)
    direction = _choice(call, "direction", ("asc", "desc"), "desc")
    return sorted(items, key=lambda item: (item[keys[sort]], item.get("number", item.get("id"))),
                  reverse=direction == "desc")


def _created(created: Json) -> Reply:
    """201 with the new object's API URL in `Location`, as GitHub answers a creation."""
    return Reply(201, created, {"Location": created["url"]})


# -- users, repository, rate limit ------------------------------------------------------------


def get_viewer(gh: RepoState, call: Call) -> Reply:
    return Reply(200, objects.user_profile(gh.user(call.login), gh.created_at, private=True))


def get_user(gh: RepoState, call: Call) -> Reply:
    login = call.params["login"]
    if login not in gh.users and login not in gh.permissions:
        raise ApiError.not_found()
    return Reply(200, objects.user_profile(gh.user(login), gh.created_at, private=False))


def get_repo(gh: RepoState, call: Call) -> Reply:
    """As GitHub: a signed-in caller is told its own permissions; an anonymous one is told none."""
    repo = gh.repository()
    if call.login:
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
    state = _choice(call, "state", ("open", "closed", "all"), "open")
    wanted = [name.strip().casefold() for name in call.query.get("labels", "").split(",") if name.strip()]
    since = _since(call)
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
    return paginate(gh, call, _sorted(found, call, {"created": "created_at", "updated": "updated_at",
                                                   "comments": "comments"}, "created"))


def create_issue(gh: RepoState, call: Call) -> Reply:
    data = _object(call)
    title = _check_text("Issue", "title", data.get("title"), MAX_TITLE, required=True)
    body = _check_text("Issue", "body", data.get("body"), MAX_BODY, required=False)
    assignees = list(data.get("assignees") or ([data["assignee"]] if data.get("assignee") else []))
    labels = _names(data.get("labels", []))
    if not call.can_push:
        labels, assignees = [], []
    gh.check_assignees(assignees)
    issue = gh.new_issue(title=title or "", body=body, labels=labels, author=call.login, assignees=assignees)
    return _created(issue)


def get_issue(gh: RepoState, call: Call) -> Reply:
    return Reply(200, gh.issue(int(call.params["number"])))


def edit_issue(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    data = _object(call)
    changes: Json = {}
    if "title" in data:
        changes["title"] = _check_text("Issue", "title", data["title"], MAX_TITLE, required=True)
    if "body" in data:
        changes["body"] = _check_text("Issue", "body", data["body"], MAX_BODY, required=False)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise ApiError.invalid("Issue", "invalid", field="state")
        changes["state"] = data["state"]
    if data.get("state_reason") is not None:
        if data["state_reason"] not in STATE_REASONS:
            raise ApiError.invalid("Issue", "invalid", field="state_reason")
        changes["state_reason"] = data["state_reason"]
    if "labels" in data and call.can_push:
        changes["labels"] = _names(data["labels"])
    if "assignees" in data and call.can_push:
        changes["assignees"] = list(data["assignees"] or [])
        gh.check_assignees(changes["assignees"], number)
    return Reply(200, gh.edit_issue(number, changes, actor=call.login))


# -- comments ---------------------------------------------------------------------------------


def list_comments(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    since = _since(call)
    found = [c for c in gh.comments[number] if since is None or objects.parse_iso(c["updated_at"]) >= since]
    return paginate(gh, call, found)


def list_repo_comments(gh: RepoState, call: Call) -> Reply:
    """GET /repos/{o}/{r}/issues/comments: every issue and PR comment, filtered by `since` (updated_at)."""
    since = _since(call)
    found = [c for comments in gh.comments.values() for c in comments
             if since is None or objects.parse_iso(c["updated_at"]) >= since]
    limit, page = gh.comment_listing_pages, call.query.get("page", "1")
    if limit is not None and page.isdigit() and int(page) > limit:
        # GitHub caps deep pagination of this listing on busy repositories: the `next` link is still
        # there, following it answers 422 (seen at page 1334 of 30 on gatsbyjs/gatsby).
        raise ApiError(422, objects.error(
            "In order to keep the API fast for everyone, pagination is limited for this resource. Check the "
            "rel=last link relation in the Link response header to see how far back you can traverse.", 422))
    return paginate(gh, call, _sorted(found, call, {"created": "created_at", "updated": "updated_at"}, "created"))


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
    body = _check_text("IssueComment", "body", _object(call).get("body"), MAX_BODY, required=True)
    return _created(gh.add_comment(number, body or "", author=call.login))


def get_comment(gh: RepoState, call: Call) -> Reply:
    return Reply(200, gh.find_comment(int(call.params["comment_id"]))[1])


def edit_comment(gh: RepoState, call: Call) -> Reply:
    number, comment = gh.find_comment(int(call.params["comment_id"]))
    body = _check_text("IssueComment", "body", _object(call).get("body"), MAX_BODY, required=True)
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
    names = [label["name"] for label in issue["labels"]] + _label_list(call)
    return Reply(200, gh.edit_issue(number, {"labels": names}, actor=call.login)["labels"])


def set_labels(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.issue(number)
    return Reply(200, gh.edit_issue(number, {"labels": _label_list(call)}, actor=call.login)["labels"])


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
    data = _object(call)
    name = _check_text("Label", "name", data.get("name"), 50, required=True) or ""
    color = str(data.get("color") or "ededed").lstrip("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
        raise ApiError.invalid("Label", "invalid", field="color")
    return _created(gh.create_label(name, color, data.get("description")))


# -- search -----------------------------------------------------------------------------------


def search_issues(gh: RepoState, call: Call) -> Reply:
    text = call.query.get("q", "")
    if not text.strip():
        raise ApiError.invalid("Search", "missing", field="q")
    try:
        query = search.parse(text)
    except search.UnsupportedQuery as problem:
        raise ApiError.invalid("Search", "invalid", field="q",
                               message=f"the fake GitHub does not support `{problem}` in search") from None
    if any(repo != gh.full_name.casefold() for repo in query.repos):
        raise ApiError.invalid("Search", "invalid", field="q", message=(
            "The listed users and repositories cannot be searched either because the resources do not exist "
            "or you do not have permission to view them."))
    found = [issue for issue in gh.searchable() if query.matches(issue, gh.full_name)]
    if "sort" in call.query:
        order = _choice(call, "order", ("asc", "desc"), "desc", "Search")
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}
        sort = _choice(call, "sort", tuple(key), "created", "Search")
        found.sort(key=lambda issue: (issue[key[sort]], issue["number"]), reverse=order == "desc")
    else:  # "best match": the fake has no relevance, newest first is deterministic
        found.sort(key=lambda issue: issue["number"], reverse=True)
    items = [_search_item(issue) for issue in found]

    def wrap(chunk: list[Json]) -> Json:
        return {"total_count": len(items), "incomplete_results": False, "items": chunk, "search_type": "lexical"}

    return paginate(gh, call, items, wrap=wrap, window=SEARCH_WINDOW)


def _search_item(issue: Json) -> Json:
    """Search results are issues without `closed_by`, with a relevance `score`."""
    item = {key: value for key, value in issue.items() if key != "closed_by"}
    if item.get("body") is None:
        item.pop("body", None)  # the schema types a search item's body as a string, never null
    item["score"] = 1.0
    return item


# -- pull requests ----------------------------------------------------------------------------


def create_pull(gh: RepoState, call: Call) -> Reply:
    data = _object(call)
    title = _check_text("PullRequest", "title", data.get("title"), MAX_TITLE, required=True) or ""
    body = _check_text("PullRequest", "body", data.get("body"), MAX_BODY, required=False)
    for name in ("head", "base"):
        if not data.get(name):
            raise ApiError.invalid("PullRequest", "missing_field", field=name)
    pull = gh.new_pull(title=title, body=body, head=str(data["head"]), base=str(data["base"]),
                       draft=bool(data.get("draft", False)), author=call.login,
                       maintainer_can_modify=bool(data.get("maintainer_can_modify", True)))
    return _created(pull)


def list_pulls(gh: RepoState, call: Call) -> Reply:
    state = _choice(call, "state", ("open", "closed", "all"), "open")
    head, base = call.query.get("head"), call.query.get("base")
    found = []
    for number, extra in gh.pulls.items():
        issue = gh.issues[number]
        if state != "all" and issue["state"] != state:
            continue
        if head and extra["head"]["label"] != (head if ":" in head else f"{gh.owner}:{head}"):
            continue
        if base and extra["base"]["ref"] != base:
            continue
        found.append(gh.pull(number))
    found = _sorted(found, call, {"created": "created_at", "updated": "updated_at", "popularity": "comments",
                                  "long-running": "created_at"}, "created")
    return paginate(gh, call, [{k: v for k, v in pull.items() if k not in _SIMPLE_PULL_DROPS} for pull in found])


def get_pull(gh: RepoState, call: Call) -> Reply:
    return Reply(200, gh.pull(int(call.params["number"])))


def edit_pull(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.pull(number)
    data = _object(call)
    changes: Json = {}
    if "title" in data:
        changes["title"] = _check_text("PullRequest", "title", data["title"], MAX_TITLE, required=True)
    if "body" in data:
        changes["body"] = _check_text("PullRequest", "body", data["body"], MAX_BODY, required=False)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise ApiError.invalid("PullRequest", "invalid", field="state")
        changes["state"] = data["state"]
    base_sha = gh.branches.sha(str(data["base"])) if data.get("base") else None
    if data.get("base") and base_sha is None:
        raise ApiError.invalid("PullRequest", "invalid", field="base")
    issue = gh.edit_issue(number, changes, actor=call.login)
    issue["state_reason"] = None  # pull requests have no close reason
    extra = gh.pulls[number]
    if base_sha is not None:
        extra["base"] = objects.branch_ref(extra["base"]["repo"], extra["base"]["user"], str(data["base"]), base_sha)
    if "maintainer_can_modify" in data:
        extra["maintainer_can_modify"] = bool(data["maintainer_can_modify"])
    return Reply(200, gh.pull(number))


def list_reviews(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.pull(number)
    return paginate(gh, call, gh.reviews[number])


def list_review_comments(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.pull(number)
    return paginate(gh, call, gh.review_comments[number])


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
]
_COMPILED = [(method, re.compile(pattern + "$"), handler) for method, pattern, handler in ROUTES]


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for a request and its URL-decoded path parameters, or None (GitHub answers 404)."""
    for route_method, pattern, handler in _COMPILED:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, {key: unquote(value) for key, value in match.groupdict().items()}
    return None

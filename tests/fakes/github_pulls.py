"""The fake GitHub's search and pull request endpoints (see github_routes for the table)."""

from __future__ import annotations

from tests.fakes import github_objects as objects
from tests.fakes import github_search as search
from tests.fakes.github_calls import (
    MAX_BODY,
    MAX_TITLE,
    SEARCH_WINDOW,
    Call,
    Reply,
    body_object,
    check_text,
    choice,
    created,
    paginate,
    sort_items,
)
from tests.fakes.github_objects import Json
from tests.fakes.github_state import ApiError, RepoState

_SIMPLE_PULL_DROPS = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
                      "review_comments", "maintainer_can_modify", "commits", "additions", "deletions", "changed_files")


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
        order = choice(call, "order", ("asc", "desc"), "desc", "Search")
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}
        sort = choice(call, "sort", tuple(key), "created", "Search")
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
    data = body_object(call)
    title = check_text("PullRequest", "title", data.get("title"), MAX_TITLE, required=True) or ""
    body = check_text("PullRequest", "body", data.get("body"), MAX_BODY, required=False)
    for name in ("head", "base"):
        if not data.get(name):
            raise ApiError.invalid("PullRequest", "missing_field", field=name)
    pull = gh.new_pull(title=title, body=body, head=str(data["head"]), base=str(data["base"]),
                       draft=bool(data.get("draft", False)), author=call.login,
                       maintainer_can_modify=bool(data.get("maintainer_can_modify", True)))
    return created(pull)


def list_pulls(gh: RepoState, call: Call) -> Reply:
    state = choice(call, "state", ("open", "closed", "all"), "open")
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
    found = sort_items(found, call, {"created": "created_at", "updated": "updated_at", "popularity": "comments",
                                  "long-running": "created_at"}, "created")
    return paginate(gh, call, [{k: v for k, v in pull.items() if k not in _SIMPLE_PULL_DROPS} for pull in found])


def get_pull(gh: RepoState, call: Call) -> Reply:
    return Reply(200, gh.pull(int(call.params["number"])))


def edit_pull(gh: RepoState, call: Call) -> Reply:
    number = int(call.params["number"])
    gh.pull(number)
    data = body_object(call)
    changes: Json = {}
    if "title" in data:
        changes["title"] = check_text("PullRequest", "title", data["title"], MAX_TITLE, required=True)
    if "body" in data:
        changes["body"] = check_text("PullRequest", "body", data["body"], MAX_BODY, required=False)
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

"""What every route handler of the fake GitHub shares: the parsed request, the answer, and
GitHub's ways of validating, filtering and paginating (422 shapes, `Link` headers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.fakes import github_objects as objects
from tests.fakes.github_objects import Json
from tests.fakes.github_state import ApiError, RepoState

MAX_BODY = 65536  # characters, for issue, PR and comment bodies
MAX_TITLE = 256
SEARCH_WINDOW = 1000  # GitHub serves only the first 1000 search results
STATE_REASONS = ("completed", "not_planned", "reopened", "duplicate")


@dataclass
class Call:
    """One parsed request: path parameters are already URL-decoded.

    `can_push`: whether labels and assignees the request sets are applied; GitHub drops them
    silently for users without push access (see github_access). `app`: the token is an app's
    (an installation's, e.g. the Actions GITHUB_TOKEN), which has permissions but no role.
    """

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    login: str
    can_push: bool = True
    app: bool = False


@dataclass
class Reply:
    status: int
    body: Any = None  # None: no body (204, 304)
    headers: dict[str, str] = field(default_factory=dict)



# -- helpers ----------------------------------------------------------------------------------


def body_object(call: Call) -> Json:
    if not isinstance(call.body, dict):
        raise ApiError.unprocessable("Invalid request.\n\nThe request body must be a JSON object.")
    return call.body


def check_text(resource: str, name: str, value: Any, limit: int, *, required: bool) -> str | None:
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


def label_names(value: Any) -> list[str]:
    """Labels as clients send them: names, or objects with a `name`."""
    if not isinstance(value, list):
        raise ApiError.unprocessable("Invalid request.\n\nFor 'properties/labels', it is not an array.")
    return [item["name"] if isinstance(item, dict) else str(item) for item in value]


def label_list(call: Call) -> list[str]:
    """Add/set labels accept a bare array (what PyGithub sends) or {"labels": [...]}."""
    body = call.body
    return label_names(body.get("labels", []) if isinstance(body, dict) else body)


def choice(call: Call, name: str, allowed: tuple[str, ...], default: str, resource: str = "Issue") -> str:
    """A query parameter with a fixed set of values; GitHub answers 422 to any other."""
    value = call.query.get(name, default)
    if value not in allowed:
        raise ApiError.invalid(resource, "invalid", field=name)
    return value


def since_of(call: Call) -> float | None:
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


def sort_items(items: list[Json], call: Call, keys: dict[str, str], default: str) -> list[Json]:
    sort = choice(call, "sort", tuple(keys), default)
    direction = choice(call, "direction", ("asc", "desc"), "desc")
    return sorted(items, key=lambda item: (item[keys[sort]], item.get("number", item.get("id"))),
                  reverse=direction == "desc")


def created(created: Json) -> Reply:
    """201 with the new object's API URL in `Location`, as GitHub answers a creation."""
    return Reply(201, created, {"Location": created["url"]})

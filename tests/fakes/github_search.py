"""The subset of GitHub's issue search syntax the fake understands.

Supported: `repo:o/r`, `is:issue|pr|pull-request|open|closed`, `type:issue|pr`, `state:open|closed`,
`label:x` / `label:"x y"`, `author:login`, `in:title|body` and bare words or "quoted phrases";
a leading `-` negates a qualifier. Words match as case-insensitive substrings of the title
and/or body (GitHub tokenises; it also searches comments, the fake does not).
An unsupported qualifier is an error, never silently ignored: a test must not pass because
the fake skipped a condition real GitHub would apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.github_objects import Json

# Qualifiers GitHub has and the fake does not: using one is an error. Other `word:word` is text.
_UNSUPPORTED = frozenset({
    "archived", "assignee", "base", "closed", "commenter", "comments", "created", "draft", "head", "interactions",
    "involves", "language", "linked", "mentions", "merged", "milestone", "no", "org", "project", "reactions",
    "reason", "review", "review-requested", "reviewed-by", "status", "team", "team-review-requested", "updated",
    "user",
})
_TOKEN = re.compile(r'(-?)([A-Za-z_-]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)')
_QUALIFIERS = frozenset({"repo", "is", "type", "state", "label", "author", "in"})
Predicate = Callable[[Json], bool]


class UnsupportedQuery(ValueError):
    """The query uses syntax the fake does not implement (answered with 422)."""


@dataclass
class Query:
    repos: list[str] = field(default_factory=list)
    conditions: list[Predicate] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)

    def matches(self, issue: Json, full_name: str) -> bool:
        if self.repos and full_name.casefold() not in self.repos:
            return False
        if not all(condition(issue) for condition in self.conditions):
            return False
        haystack = " ".join(issue.get(name) or "" for name in sorted(self.fields or {"title", "body"})).casefold()
        return all(word in haystack for word in self.words)


def _is(value: str) -> Predicate:
    checks: dict[str, Predicate] = {
        "issue": lambda issue: "pull_request" not in issue,
        "pr": lambda issue: "pull_request" in issue,
        "open": lambda issue: issue["state"] == "open",
        "closed": lambda issue: issue["state"] == "closed",
    }
    checks["pull-request"] = checks["pr"]
    if value not in checks:
        raise UnsupportedQuery(f"is:{value}")
    return checks[value]


def _qualifier(name: str, value: str) -> Predicate:
    if name == "is":
        return _is(value)
    if name in ("type", "state"):
        if value not in {"type": ("issue", "pr"), "state": ("open", "closed")}[name]:
            raise UnsupportedQuery(f"{name}:{value}")
        return _is(value)
    if name == "label":
        wanted = value.casefold()
        return lambda issue: any(label["name"].casefold() == wanted for label in issue["labels"])
    if name == "author":
        return lambda issue: issue["user"]["login"].casefold() == value.casefold()
    raise UnsupportedQuery(f"{name}:{value}")


def _negated(condition: Predicate) -> Predicate:
    return lambda issue: not condition(issue)


def parse(text: str) -> Query:
    query = Query()
    for match in _TOKEN.finditer(text):
        negate, name, value, phrase, word = match.groups()
        if name is not None and name.lower() not in _QUALIFIERS | _UNSUPPORTED:
            phrase, name = match.group(0), None  # e.g. `crashfix:signature=abc`: GitHub searches it as text
        if name is None:
            query.words.append((phrase if phrase is not None else word).casefold())
            continue
        name = name.lower()
        value = value.strip('"')
        if name == "repo":
            query.repos.append(value.casefold())
        elif name == "in":
            for part in value.lower().split(","):
                if part not in ("title", "body"):
                    raise UnsupportedQuery(f"in:{part}")
                query.fields.add(part)
        else:
            condition = _qualifier(name, value.lower() if name in ("is", "type", "state") else value)
            query.conditions.append(_negated(condition) if negate else condition)
    return query

"""The fake GitHub answers as GitHub's own OpenAPI description says GitHub answers.

The fake is driven through the real PyGithub client (and plain requests where PyGithub
cannot express a call) across every endpoint it serves; each recorded answer is then
validated strictly against the description (status documented for the operation, body
against the response schema, documented headers present), and each request leniently
(PyGithub's known deviations are tolerated). Without this, the fake would drift towards
what our code expects rather than what GitHub does.

The description is `@octokit/openapi` (MIT) from npm: `.ci/fetch-openapi` puts it in
`.ci/cache/openapi/`; `CRASHFIX_GITHUB_OPENAPI` points elsewhere. Absent, the tests skip,
unless `CRASHFIX_REQUIRE_OPENAPI=1` makes them fail.

OpenAPI 3.0 schemas become JSON Schema 2020-12 here: `nullable` adds null (to enums too),
a `discriminator` picks its branch, and objects refuse properties their schema does not
list (`unevaluatedProperties: false`), so a misspelt field in the fake fails too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
from github import Auth, Github, GithubException  # the fake is tested through the real client
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.conftest import ROOT
from tests.fakes.contract_commits import exercise_commits
from tests.fakes.github_routes import ROUTES
from tests.fakes.github_server import FakeGitHub, RecordedRequest

DEFAULT_SPEC = ROOT / ".ci" / "cache" / "openapi" / "api.github.com.json"
SPEC_URI = "urn:github-openapi"
# Answers GitHub may give to any operation although the description lists them only on some.
UNIVERSAL_STATUSES = {401, 403, 500, 502, 503, 504}
_NOT_KEYWORDS = {"nullable", "discriminator", "example", "examples", "readOnly", "writeOnly", "xml", "externalDocs",
                 "deprecated"}
# Fields GitHub sends although its description omits them; the fake sends them too.
UNDOCUMENTED_FIELDS = {"validation-error": {"status": {"type": "string"}},
                       "issue-event": {"state_reason": {"type": "string", "nullable": True}}}
# Shapes an answer may take although the description lists them elsewhere only: GitHub lists an issue's
# `closed`/`reopened` events (commit_id, state_reason) on /issues/{n}/events, the description only on the timeline.
UNDOCUMENTED_SHAPES = {"issue-event-for-issue": ["state-change-issue-event"]}
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


# -- OpenAPI 3.0 -> JSON Schema 2020-12 ---------------------------------------------------------


def convert(schema: Any, *, in_all_of: bool = False) -> Any:
    """One OpenAPI 3.0 schema as JSON Schema, recursing only where schemas nest (not into data)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: convert(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [convert(sub, in_all_of=key == "allOf") for sub in value]
        elif key == "$ref":
            out[key] = SPEC_URI + value
        elif key not in _NOT_KEYWORDS and not key.startswith("x-"):
            out[key] = value
    mapping = (schema.get("discriminator") or {}).get("mapping")
    if mapping and "oneOf" in out:
        # oneOf over overlapping shapes (private-user extends public-user) needs the discriminator to pick.
        prop = schema["discriminator"]["propertyName"]
        out["anyOf"] = out.pop("oneOf")
        out["allOf"] = [{"if": {"properties": {prop: {"const": key}}, "required": [prop]},
                         "then": {"$ref": SPEC_URI + ref}} for key, ref in mapping.items()]
    if "properties" in out and "additionalProperties" not in out and not in_all_of:
        out["unevaluatedProperties"] = False
    if schema.get("nullable"):
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" in out and not any(key in out for key in ("allOf", "anyOf", "oneOf", "$ref")):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(_DATE_TIME.match(value)))

    def absolute_uri(value: object) -> bool:
        parts = urlsplit(value) if isinstance(value, str) else None
        return parts is None or bool(parts.scheme and parts.netloc)

    checker.checks("uri")(absolute_uri)
    return checker


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


class Contract:
    """GitHub's OpenAPI description, loaded once, answering "is this exchange what GitHub documents?"."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        components = spec["components"]
        schemas = copy.deepcopy(components["schemas"])
        for name, extra in UNDOCUMENTED_FIELDS.items():
            schemas[name]["properties"].update(extra)
        for name, shapes in UNDOCUMENTED_SHAPES.items():
            schemas[name]["anyOf"] += [{"$ref": f"#/components/schemas/{shape}"} for shape in shapes]
        converted = {"components": {"schemas": {name: convert(s) for name, s in schemas.items()}}}
        self.registry: Registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(converted))
        self.formats = _format_checker()
        self.operations: list[Operation] = []
        for template, item in spec["paths"].items():
            regex = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                            for part in re.split(r"(\{[^}]+\})", template))
            for method, operation in item.items():
                if method in ("get", "post", "patch", "put", "delete"):
                    self.operations.append(Operation(method.upper(), template, re.compile(regex + "$"), operation))
        # A literal segment beats a parameter: /issues/comments/{id} is not /issues/{issue_number}/...
        self.operations.sort(key=lambda op: op.template.count("{"))

    def find(self, method: str, path: str) -> Operation | None:
        return next((op for op in self.operations if op.method == method and op.pattern.match(path)), None)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            kind, name = node["$ref"].split("/")[-2:]
            node = self.spec["components"][kind][name]
        return node

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        validator = jsonschema.Draft202012Validator(convert(schema), registry=self.registry,
                                                    format_checker=self.formats)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {_leaf(e).message[:300]}" for e in found]

    def component(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def check_response(self, record: RecordedRequest, base_url: str) -> list[str]:
        """Everything wrong with one recorded answer, as readable lines (empty when it matches)."""
        operation = self.find(record.method, record.path)
        status = record.status
        assert status is not None
        problems = _fake_invariants(record, base_url)
        if operation is None:
            if status != 404:
                return [*problems, "no documented operation, yet the answer was not 404"]
            return [*problems, *self.errors(self.component("basic-error"), record.response_json)]
        documented = operation.spec["responses"]
        if str(status) not in documented:
            if status not in UNIVERSAL_STATUSES:
                return [*problems, f"status {status} is not documented for {operation.spec['operationId']}"]
            return [*problems, *self.errors(self.component("basic-error"), record.response_json)]
        response = self._resolve(documented[str(status)])
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            if record.response_json is not None:
                problems.append(f"status {status} has no documented body, yet one was sent")
        else:
            if not record.response_headers.get("Content-Type", "").startswith("application/json"):
                problems.append("a JSON body without Content-Type application/json")
            problems += self.errors(schema, record.response_json)
        for name, header in response.get("headers", {}).items():
            problems += _check_header(name, self._resolve(header), record.response_headers, base_url)
        return problems

    def check_request(self, record: RecordedRequest) -> list[str]:
        """Lenient: only what a client sends on purpose. Rejected requests (4xx) were meant to be wrong."""
        operation = self.find(record.method, record.path)
        if operation is None or record.status is None or record.status >= 400:
            return []
        parameters = [self._resolve(p) for p in operation.spec.get("parameters", [])]
        documented = {p["name"] for p in parameters if p["in"] == "query"}
        problems = [f"undocumented query parameter {name!r}" for name in record.query if name not in documented]
        body_spec = operation.spec.get("requestBody")
        if body_spec is None or record.json is None:
            return problems
        body = record.json
        if operation.spec["operationId"] in ("issues/add-labels", "issues/set-labels") and isinstance(body, list):
            body = {"labels": body}  # PyGithub sends a bare array, which GitHub accepts
        schema = self._resolve(body_spec)["content"]["application/json"]["schema"]
        return problems + self.errors(schema, body)


def _leaf(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The most specific cause, so a missing field reads as such rather than as 'not valid under anyOf'."""
    while error.context:
        error = jsonschema.exceptions.best_match(error.context) or error.context[0]
    return error


def _fake_invariants(record: RecordedRequest, base_url: str) -> list[str]:
    """What the fake promises beyond the spec: the headers every answer carries, and URLs PyGithub may follow."""
    headers = record.response_headers
    problems = [f"missing header {name}" for name in
                ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used",
                 "X-RateLimit-Resource", "X-GitHub-Request-Id", "Content-Type") if name not in headers]
    if record.method == "GET" and record.status == 200 and "ETag" not in headers:
        problems.append("a GET answer without ETag")
    problems += [f"{where} is not rooted at the fake: {url}" for where, url in _urls(record.response_json)
                 if not url.startswith(base_url)]
    return problems


def _urls(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            if key != "documentation_url":
                yield from _urls(sub, f"{where}/{key}")
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _urls(sub, f"{where}/{index}")
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        yield where or "(root)", value


def _check_header(name: str, header: dict[str, Any], headers: dict[str, str], base_url: str) -> list[str]:
    """Documented headers: Link when there are more pages (checked by its users), every other one always."""
    value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    if value is None:
        return [] if name.lower() == "link" else [f"documented header {name} is missing"]
    if name.lower() == "link":
        parts = value.split(", ")
        bad = [p for p in parts if not re.fullmatch(r'<([^>]+)>; rel="(next|last|first|prev)"', p)]
        return [f"malformed Link part {p!r}" for p in bad] + [
            f"Link URL not rooted at the fake: {p}" for p in parts if not p.startswith(f"<{base_url}/")]
    if header.get("schema", {}).get("type") == "integer" and not value.isdigit():
        return [f"header {name} should be an integer, got {value!r}"]
    return []


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def contract() -> Contract:
    path = Path(os.environ.get("CRASHFIX_GITHUB_OPENAPI") or DEFAULT_SPEC)
    if not path.is_file():
        message = f"GitHub's OpenAPI description is not at {path} (run .ci/fetch-openapi)"
        if os.environ.get("CRASHFIX_REQUIRE_OPENAPI") == "1":
            pytest.fail(message + " and CRASHFIX_REQUIRE_OPENAPI=1")
        pytest.skip(message)
    return Contract(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def exercised() -> Iterator[FakeGitHub]:
    """A fake driven once through every endpoint it serves; its record is what the tests check."""
    with FakeGitHub() as fake:
        _exercise(fake)
        yield fake


def _expect_error(status: int, action: Any) -> None:
    with pytest.raises(GithubException) as caught:
        action()
    assert caught.value.status == status, caught.value


def _exercise(fake: FakeGitHub) -> None:
    """Every endpoint, its success answers and the error answers crashfix must understand."""
    gh = Github(base_url=fake.url, auth=Auth.Token(fake.token), retry=None, per_page=2,
                seconds_between_requests=0, seconds_between_writes=0)
    raw = requests.Session()
    raw.headers["Authorization"] = f"token {fake.token}"
    api = f"{fake.url}/repos/acme/worldserver"
    fake.seed_label("crash", "d73a4a", "a crash filed by crashfix")
    old = fake.seed_issue("old crash", "fixed long ago", labels=["crash"], state="closed",
                          created_at=datetime.now(timezone.utc) - timedelta(days=30))
    fake.seed_comment(old["number"], "seen again", user="player-one")
    fake.set_permission("maintainer", "maintain")

    assert gh.get_user().login == "crashfix-bot"
    assert gh.get_user("player-one").type == "User"
    _expect_error(404, lambda: gh.get_user("nobody-at-all").login)
    repo = gh.get_repo("acme/worldserver")
    created = [repo.create_issue(f"crash {n}", body=f"signature {n}", labels=["crash", "worldserver"],
                                 assignees=["crashfix-bot"]) for n in range(5)]
    assert raw.post(f"{api}/issues", json={"body": "no title"}).status_code == 422
    _expect_error(422, lambda: repo.create_issue("too long", body="x" * 65537))
    since = datetime.now(timezone.utc) - timedelta(days=1)
    assert len(list(repo.get_issues(state="all", labels=["crash"], since=since, sort="updated",
                                    direction="asc", creator="crashfix-bot"))) == 5  # type: ignore[arg-type]
    issue = repo.get_issue(created[0].number)
    etag = fake.requests[-1].response_headers["ETag"]
    assert raw.get(f"{api}/issues/{issue.number}", headers={"If-None-Match": etag}).status_code == 304
    _expect_error(404, lambda: repo.get_issue(999))
    issue.edit(body="updated", state="closed", state_reason="not_planned")
    issue.edit(state="open")
    _expect_error(422, lambda: issue.edit(body="x" * 65537))

    comment = issue.create_comment("first")
    issue.create_comment("second")
    issue.create_comment("third")
    assert [c.body for c in issue.get_comments()] == ["first", "second", "third"]
    comment.edit("first, edited")
    assert repo.get_issue(issue.number).get_comment(comment.id).body == "first, edited"
    comment.delete()

    issue.add_to_labels("regression")  # a bare JSON array
    assert raw.post(f"{api}/issues/{issue.number}/labels", json={"labels": ["triaged"]}).status_code == 200
    assert {label.name for label in issue.get_labels()} == {"crash", "worldserver", "regression", "triaged"}
    issue.remove_from_labels("regression")
    _expect_error(404, lambda: issue.remove_from_labels("regression"))
    issue.set_labels("crash")
    fake.label_issue(issue.number, "reanalyze", "maintainer")
    events = [(e.event, e.label.name if e.label else None, e.actor.login) for e in issue.get_events()]
    assert ("labeled", "reanalyze", "maintainer") in events and ("unlabeled", "regression", "crashfix-bot") in events
    created[1].delete_labels()
    assert len(list(repo.get_labels())) == 5  # crash, worldserver, regression, triaged, reanalyze
    assert repo.get_label("crash").color == "d73a4a"
    _expect_error(404, lambda: repo.get_label("no-such-label"))
    repo.create_label("crashfix:low-quality", "cccccc", "no symbols")
    _expect_error(422, lambda: repo.create_label("crash", "d73a4a"))

    found = gh.search_issues('repo:acme/worldserver is:issue is:open label:crash in:body "signature"')
    assert found.totalCount == 3 and len(list(found)) == 3  # two pages of two
    assert len(list(gh.search_issues("repo:acme/worldserver is:closed", sort="created", order="asc"))) == 1
    _expect_error(422, lambda: gh.search_issues("repo:acme/worldserver created:>2020-01-01").totalCount)

    assert repo.get_collaborator_permission("crashfix-bot") == "admin"
    assert repo.get_collaborator_role_name("maintainer") == "maintain"
    _expect_error(404, lambda: repo.get_collaborator_permission("nobody-at-all"))
    assert gh.get_rate_limit().resources.core.limit == 5000

    for n in (1, 2, 3):
        fake.seed_branch(f"crashfix/fix-{n}")
    pull = repo.create_pull(title="Fix crash 0", body="Fixes #1", head="crashfix/fix-1", base="main", draft=True)
    _expect_error(422, lambda: repo.create_pull(title="again", body="", head="crashfix/fix-1", base="main"))
    repo.create_pull(title="Fix crash 1", body="", head="crashfix/fix-2", base="main")
    repo.create_pull(title="Fix crash 2", body="", head="crashfix/fix-3", base="main")
    assert [p.number for p in repo.get_pulls(state="open", head="acme:crashfix/fix-1", base="main")] == [pull.number]
    assert len(list(repo.get_pulls(state="all", sort="created", direction="asc"))) == 3
    fake.seed_review(pull.number, "maintainer", "CHANGES_REQUESTED", "please add a test")
    fake.seed_review_comment(pull.number, "null check here", "src/server/Player.cpp", 42, user="maintainer")
    pull = repo.get_pull(pull.number)
    assert [r.state for r in pull.get_reviews()] == ["CHANGES_REQUESTED"]
    assert [c.path for c in pull.get_review_comments()] == ["src/server/Player.cpp"]
    pull.edit(title="Fix crash 0 (v2)", body=f"Fixes #{created[2].number} properly", state="closed")
    assert repo.get_issue(pull.number).pull_request is not None
    fake.close_pull(pull.number, merged=True)
    merged = [p for p in repo.get_pulls(state="closed") if p.merged_at is not None]
    assert [p.number for p in merged] == [pull.number]
    closed = [e for e in repo.get_issue(created[2].number).get_events() if e.event == "closed"]
    assert [e.commit_id for e in closed] == [fake.pulls[pull.number]["merge_commit_sha"]]  # closed by the merge
    everything = list(repo.get_issues_comments(sort="updated", direction="asc", since=since))
    assert [c.issue_url.rsplit("/", 1)[1] for c in everything] == [str(old["number"])] + [str(issue.number)] * 2

    assert raw.get(f"{fake.url}/no/such/route").status_code == 404
    assert requests.get(f"{fake.url}/user", headers={"Authorization": "token wrong"}).status_code == 401
    fake.secondary_rate_limit_next(1, method="POST", path=r"/issues$")
    _expect_error(403, lambda: repo.create_issue("limited"))
    fake.primary_rate_limit(0, reset_in=60)
    _expect_error(403, lambda: gh.get_user().login)
    fake.primary_rate_limit(5000)
    fake.fail_next(1, 502, path=r"/issues/1$")
    _expect_error(502, lambda: repo.get_issue(1))
    _exercise_refusals(fake, repo)
    exercise_commits(fake, repo, _expect_error)
    assert not fake.server_errors, fake.server_errors[0]


def _exercise_refusals(fake: FakeGitHub, repo: Any) -> None:
    """GitHub's refusals: a role, a token's permissions, the Actions setting, branches, assignees, content limit."""
    def as_token(token: str) -> Github:
        return Github(base_url=fake.url, auth=Auth.Token(token), retry=None, seconds_between_writes=0)

    fake.set_permission("reader", "read")
    fake.add_token("reader-token", "reader", kind="classic")
    fake.actions_token("ghs-token", {"issues": "read", "pull_requests": "write", "contents": "write"})
    reader, app = as_token("reader-token"), as_token("ghs-token")
    assert reader.get_repo("acme/worldserver").create_issue("dropped", labels=["crash"]).labels == []
    _expect_error(403, lambda: reader.get_repo("acme/worldserver").create_label("x", "ededed"))
    _expect_error(403, lambda: reader.get_repo("acme/worldserver").get_collaborator_role_name("maintainer"))
    _expect_error(403, lambda: app.get_user().login)
    assert app.get_repo("acme/worldserver").permissions is None
    _expect_error(403, lambda: app.get_repo("acme/worldserver").create_issue("x"))
    _expect_error(403, lambda: app.get_repo("acme/worldserver").create_pull(title="x", body="", head="crashfix/fix-3",
                                                                            base="main"))
    _expect_error(422, lambda: repo.create_pull(title="x", body="", head="crashfix/fix-3", base="no-such-branch"))
    _expect_error(422, lambda: repo.create_issue("x", assignees=["nobody-at-all"]))
    limit = fake.content_limit.per_minute
    fake.content_limit.per_minute = 0
    _expect_error(403, lambda: repo.get_issue(1).create_comment("one too many"))
    assert fake.requests[-1].response_headers["Retry-After"].isdigit()
    fake.content_limit.per_minute = limit


# -- tests ------------------------------------------------------------------------------------


def test_every_answer_matches_the_spec(contract: Contract, exercised: FakeGitHub) -> None:
    started = time.monotonic()
    answered = [record for record in exercised.requests if record.status is not None]
    problems = [f"{r.method} {r.path} -> {r.status}: {problem}"
                for r in answered for problem in contract.check_response(r, exercised.url)]
    elapsed = time.monotonic() - started
    assert not problems, "\n".join(problems[:40])
    assert len(answered) > 60, "the scenario stopped early"
    assert elapsed < 30, f"validating {len(answered)} answers took {elapsed:.1f} s"


def test_requests_match_the_spec_leniently(contract: Contract, exercised: FakeGitHub) -> None:
    problems = [f"{r.method} {r.path}: {problem}" for r in exercised.requests for problem in contract.check_request(r)]
    assert not problems, "\n".join(problems[:40])


def test_every_route_of_the_fake_is_a_github_operation_and_was_exercised(
        contract: Contract, exercised: FakeGitHub) -> None:
    succeeded = {(r.method, contract.find(r.method, r.path).template)  # type: ignore[union-attr]
                 for r in exercised.requests
                 if r.status is not None and r.status < 400 and contract.find(r.method, r.path)}
    for method, pattern, _handler in ROUTES:
        example = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "1" if m.group(1) in ("number", "comment_id") else "x",
                         pattern)
        operation = contract.find(method, example)
        assert operation is not None, f"the fake serves {method} {pattern}, which GitHub does not document"
        assert (method, operation.template) in succeeded, f"{method} {operation.template} was never exercised"


def test_the_check_fails_when_the_fake_drops_a_required_field(contract: Contract, exercised: FakeGitHub) -> None:
    """The contract is only worth something if it catches the drift it exists for."""
    with FakeGitHub() as fake:
        number = fake.seed_issue("crash", "body")["number"]
        del fake.issues[number]["node_id"]
        fake.issues[number]["user"]["site_admin"] = "no"
        response = requests.get(f"{fake.url}/repos/acme/worldserver/issues/{number}")
        assert response.status_code == 200
        problems = contract.check_response(fake.requests[-1], fake.url)
    assert any("'node_id' is a required property" in problem for problem in problems), problems
    assert any("user/site_admin" in problem for problem in problems), problems

    record = next(r for r in exercised.requests if r.method == "POST" and r.status == 201
                  and r.path.endswith("/issues"))
    for mutate in (lambda body: body.update(state=3), lambda body: body.update(stat="open"),
                   lambda body: body["user"].pop("login"), lambda body: body.update(created_at="yesterday"),
                   lambda body: body.update(url="https://api.github.com/repos/acme/worldserver/issues/1")):
        broken = copy.deepcopy(record)
        mutate(broken.response_json)
        assert contract.check_response(broken, exercised.url), "a broken issue passed the contract"

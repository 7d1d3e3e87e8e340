"""The fake GitHub behaves as GitHub does for the real PyGithub client, failures included.

crashfix's GitHub code is tested against this fake, so the fake itself must be right:
each test drives it with PyGithub (as crashfix does) and checks both what the client sees
and what the fake recorded. Its answers' shapes are checked against GitHub's OpenAPI
description in test_fake_github_contract.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from github import (  # the fake is tested through the real client
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    GithubRetry,
    RateLimitExceededException,
    UnknownObjectException,
)

from tests.fakes.github_server import FakeGitHub

REPO = "acme/worldserver"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server
        assert not server.server_errors, server.server_errors[0]


def client(fake: FakeGitHub, *, token: str = "test-token", retry: Any = None, per_page: int = 30) -> Github:
    """PyGithub as crashfix configures it, minus the write spacing that would only slow the tests."""
    return Github(base_url=fake.url, auth=Auth.Token(token) if token else None, retry=retry, per_page=per_page,
                  seconds_between_requests=0, seconds_between_writes=0)


def api(fake: FakeGitHub, tail: str = "") -> str:
    return f"{fake.url}/repos/{REPO}{tail}"


AUTH = {"Authorization": "token test-token"}


# -- issues -----------------------------------------------------------------------------------


def test_an_issue_created_through_pygithub_is_served_and_recorded(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    issue = repo.create_issue("Crash in Player::Update", body="<!-- crashfix:signature=abc -->", labels=["crash"])

    assert (issue.number, issue.state, issue.user.login) == (1, "open", "crashfix-bot")
    assert issue.html_url == f"{fake.url}/acme/worldserver/issues/1"
    assert [label.name for label in repo.get_issue(1).labels] == ["crash"]
    assert fake.issues[1]["body"] == "<!-- crashfix:signature=abc -->"
    [write] = fake.writes()
    assert (write.method, write.path, write.status) == ("POST", "/repos/acme/worldserver/issues", 201)
    assert write.json == {"title": "Crash in Player::Update", "body": "<!-- crashfix:signature=abc -->",
                          "labels": ["crash"]}
    assert write.headers["Authorization"] == "token test-token"
    assert write.response_headers["Location"] == f"{fake.url}/repos/acme/worldserver/issues/1"


def test_listing_pages_through_more_than_250_issues_with_link_headers(fake: FakeGitHub) -> None:
    for n in range(260):
        fake.seed_issue(f"crash {n}", "body")
    issues = list(client(fake, per_page=100).get_repo(REPO).get_issues(state="all"))

    assert sorted(issue.number for issue in issues) == list(range(1, 261))
    pages = fake.requests_to("GET", r"/issues$")
    assert [request.query.get("page", "1") for request in pages] == ["1", "2", "3"]
    first_link = pages[0].response_headers["Link"]
    assert 'rel="next"' in first_link and "page=3" in first_link and 'rel="last"' in first_link
    assert 'rel="next"' not in pages[2].response_headers["Link"]
    assert 'rel="first"' in pages[2].response_headers["Link"]
    clamped = requests.get(api(fake, "/issues"), params={"per_page": 500}, headers=AUTH)
    assert len(clamped.json()) == 100  # GitHub caps per_page at 100


def test_listing_filters_by_state_labels_since_and_creator(fake: FakeGitHub) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    fake.seed_issue("old", "b", labels=["crash"], created_at=long_ago)
    fake.seed_issue("closed", "b", labels=["crash", "regression"], state="closed", created_at=long_ago,
                    closed_at=long_ago + timedelta(days=1))
    fake.seed_issue("new", "b", labels=["other"], user="someone-else")
    repo = client(fake).get_repo(REPO)

    def titles(**kwargs: Any) -> list[str]:
        return [issue.title for issue in repo.get_issues(**kwargs)]

    assert titles() == ["new", "old"]  # open only, newest first
    assert titles(state="closed") == ["closed"]
    assert titles(state="all", labels=["crash", "regression"]) == ["closed"]
    assert titles(state="all", since=long_ago + timedelta(days=5)) == ["new"]
    assert titles(state="all", sort="created", direction="asc") == ["old", "closed", "new"]
    assert titles(creator="someone-else") == ["new"]


def test_closing_records_when_and_who_and_reopening_clears_it(fake: FakeGitHub) -> None:
    issue = client(fake).get_repo(REPO).create_issue("crash", body="first")
    issue.edit(state="closed", state_reason="not_planned", body="second")
    assert (issue.state, issue.state_reason, issue.body) == ("closed", "not_planned", "second")
    assert issue.closed_at is not None and issue.closed_by is not None
    assert issue.closed_by.login == "crashfix-bot"

    issue.edit(state="open")
    assert (issue.state, issue.state_reason, issue.closed_at) == ("open", "reopened", None)
    assert fake.issues[issue.number]["closed_at"] is None


def test_bodies_longer_than_65536_characters_are_refused_with_422(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    issue = repo.create_issue("fits", body="x" * 65536)
    with pytest.raises(GithubException) as created:
        repo.create_issue("too long", body="x" * 65537)
    with pytest.raises(GithubException) as edited:
        issue.edit(body="y" * 65537)
    with pytest.raises(GithubException) as commented:
        issue.create_comment("z" * 65537)

    for caught in (created, edited, commented):
        assert caught.value.status == 422
        assert caught.value.data["message"] == "Validation Failed"
        [problem] = caught.value.data["errors"]
        assert (problem["code"], problem["field"]) == ("custom", "body")
        assert "maximum is 65536 characters" in problem["message"]
    assert list(fake.issues) == [1] and fake.issues[1]["body"] == "x" * 65536
    missing_title = requests.post(api(fake, "/issues"), json={"body": "b"}, headers=AUTH)
    assert missing_title.status_code == 422 and "title" in missing_title.json()["message"]


# -- comments and labels ----------------------------------------------------------------------


def test_comments_are_created_listed_edited_and_deleted(fake: FakeGitHub) -> None:
    issue = client(fake).get_repo(REPO).create_issue("crash")
    first = issue.create_comment("seen again on build 2")
    issue.create_comment("and again")
    first.edit("seen again on build 3")

    assert [c.body for c in issue.get_comments()] == ["seen again on build 3", "and again"]
    assert issue.get_comment(first.id).html_url.endswith(f"/issues/{issue.number}#issuecomment-{first.id}")
    first.delete()
    assert [c["body"] for c in fake.comments[issue.number]] == ["and again"]
    assert fake.issues[issue.number]["comments"] == 1


def test_labels_are_created_on_use_added_as_a_bare_array_and_removed(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    issue = repo.create_issue("crash", labels=["crash"])
    assert fake.labels["crash"]["color"] == "ededed"  # GitHub creates an unknown label on use

    issue.add_to_labels("regression")
    assert fake.writes()[-1].json == ["regression"]  # PyGithub's bare array
    as_object = requests.post(api(fake, f"/issues/{issue.number}/labels"), json={"labels": ["triaged"]},
                              headers=AUTH)
    assert [label["name"] for label in as_object.json()] == ["crash", "regression", "triaged"]

    issue.remove_from_labels("regression")
    with pytest.raises(GithubException) as absent:
        issue.remove_from_labels("regression")
    assert (absent.value.status, absent.value.data["message"]) == (404, "Label does not exist")
    assert [label["name"] for label in fake.issues[issue.number]["labels"]] == ["crash", "triaged"]
    with pytest.raises(GithubException) as duplicate:
        repo.create_label("crash", "d73a4a")
    assert duplicate.value.status == 422 and duplicate.value.data["errors"][0]["code"] == "already_exists"
    with pytest.raises(UnknownObjectException):
        repo.get_label("crashfix:low-quality")
    assert repo.create_label("crashfix:low-quality", "cccccc").name == "crashfix:low-quality"
    assert repo.get_label("CRASHFIX:LOW-QUALITY").color == "cccccc"  # names are case-insensitive


# -- search -----------------------------------------------------------------------------------


def test_search_sees_new_issues_and_edits_only_after_the_index_catches_up(fake: FakeGitHub) -> None:
    fake.search_delay = 0.5
    gh = client(fake)
    issue = gh.get_repo(REPO).create_issue("crash", body="signature=aaa")
    query = 'repo:acme/worldserver is:issue in:body "signature=aaa"'
    assert gh.search_issues(query).totalCount == 0
    time.sleep(0.6)
    assert [found.number for found in gh.search_issues(query)] == [issue.number]

    issue.edit(body="signature=bbb")
    assert gh.search_issues(query).totalCount == 1  # the index still holds the old body
    assert gh.search_issues('"signature=bbb"').totalCount == 0
    time.sleep(0.6)
    assert gh.search_issues(query).totalCount == 0
    assert gh.search_issues('"signature=bbb"').totalCount == 1


def test_search_qualifiers_narrow_the_results(fake: FakeGitHub) -> None:
    fake.seed_issue("Crash in Map::Update", "signature=one", labels=["crash"])
    fake.seed_issue("Crash in Unit::Kill", "signature=two", labels=["crash", "regression"], state="closed")
    fake.seed_pull("Fix Map::Update", "Fixes #1", head="crashfix/one")
    gh = client(fake)

    def numbers(query: str) -> list[int]:
        return sorted(issue.number for issue in gh.search_issues(query))

    assert numbers("repo:acme/worldserver is:issue") == [1, 2]
    assert numbers("repo:acme/worldserver is:pr") == [3]
    assert numbers("is:issue is:open label:crash") == [1]
    assert numbers("label:crash -label:regression") == [1]
    assert numbers("in:title map::update") == [1, 3]
    assert numbers('in:body "signature=two"') == [2]
    assert numbers("is:closed") == [2]
    with pytest.raises(GithubException) as unsupported:
        gh.search_issues("created:>2024-01-01").totalCount  # noqa: B018 - totalCount makes the request
    assert unsupported.value.status == 422


# -- failures ---------------------------------------------------------------------------------


def test_fail_next_answers_502_to_matching_requests_only(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    fake.fail_next(1, 502, method="POST", path=r"/issues$")
    assert repo.get_issues().totalCount == 0  # a GET is not affected
    with pytest.raises(GithubException) as failed:
        repo.create_issue("crash")
    assert failed.value.status == 502 and not fake.issues
    assert repo.create_issue("crash").number == 1


def test_secondary_rate_limit_is_waited_out_by_pygithub_retry(fake: FakeGitHub) -> None:
    fake.secondary_rate_limit_next(1, retry_after=1, path=r"/repos/")
    started = time.monotonic()
    repo = client(fake, retry=GithubRetry(total=3, secondary_rate_wait=5)).get_repo(REPO)  # 5: only without Retry-After

    assert repo.full_name == REPO and time.monotonic() - started >= 1.0
    limited, served = fake.requests_to("GET", r"^/repos/acme/worldserver$")
    assert (limited.status, limited.response_headers["Retry-After"]) == (403, "1")
    assert limited.response_json["message"].startswith("You have exceeded a secondary rate limit")
    assert served.status == 200


def test_primary_rate_limit_counts_down_then_refuses_until_the_reset(fake: FakeGitHub) -> None:
    gh = client(fake)
    fake.primary_rate_limit(2, reset_in=1)
    gh.get_repo(REPO)
    gh.get_user().login  # noqa: B018 - the property makes the request
    assert [r.response_headers["X-RateLimit-Remaining"] for r in fake.requests] == ["1", "0"]
    with pytest.raises(RateLimitExceededException) as limited:
        gh.get_repo(REPO)
    headers = limited.value.headers or {}
    reset = int(headers["x-ratelimit-reset"])
    assert limited.value.status == 403 and headers["x-ratelimit-remaining"] == "0"

    time.sleep(max(0.0, reset - time.time()) + 0.05)
    assert gh.get_repo(REPO).full_name == REPO
    assert fake.requests[-1].response_headers["X-RateLimit-Remaining"] == "4999"


def test_outage_closes_connections_without_answering(fake: FakeGitHub) -> None:
    gh = client(fake)
    fake.outage()
    with pytest.raises(requests.exceptions.ConnectionError):
        gh.get_repo(REPO)
    assert fake.requests[-1].dropped and fake.requests[-1].status is None
    fake.outage(False)
    assert gh.get_repo(REPO).full_name == REPO


def test_a_dropped_write_is_applied_although_the_client_saw_an_error(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    fake.drop_after_write_next()
    with pytest.raises(requests.exceptions.ConnectionError):
        repo.create_issue("crash", body="signature=abc")
    assert [issue["title"] for issue in fake.issues.values()] == ["crash"]
    assert [issue.title for issue in repo.get_issues()] == ["crash"]  # a careful client finds it
    assert fake.writes()[0].dropped


def test_concurrent_clients_get_distinct_issue_numbers(fake: FakeGitHub) -> None:
    """Two uploaders filing at once must not be handed the same number (the fake is threaded)."""
    def file_issues(name: str) -> list[int]:
        repo = client(fake).get_repo(REPO)
        return [repo.create_issue(f"{name} {n}").number for n in range(10)]

    with ThreadPoolExecutor(2) as pool:
        numbers = [n for batch in pool.map(file_issues, ["a", "b"]) for n in batch]
    assert sorted(numbers) == list(range(1, 21)) == sorted(fake.issues)


def test_latency_delays_every_answer(fake: FakeGitHub) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    client(fake).get_repo(REPO)
    assert time.monotonic() - started >= 0.2


# -- authentication, permissions, pull requests ----------------------------------------------


def test_a_wrong_token_gets_401_bad_credentials(fake: FakeGitHub) -> None:
    with pytest.raises(BadCredentialsException) as caught:
        client(fake, token="wrong").get_repo(REPO)
    assert caught.value.status == 401 and caught.value.data["message"] == "Bad credentials"
    anonymous = client(fake, token="")
    assert anonymous.get_repo(REPO).full_name == REPO  # a public repository reads without a token
    with pytest.raises(GithubException) as write:
        anonymous.get_repo(REPO).create_issue("crash")
    assert write.value.status == 401 and not fake.issues


def test_collaborator_permission_reports_role_and_legacy_permission(fake: FakeGitHub) -> None:
    fake.set_permission("alice", "write")
    fake.set_permission("bob", "maintain")
    fake.seed_comment(fake.seed_issue("crash", "b")["number"], "/fix please", user="carol")
    repo = client(fake).get_repo(REPO)

    assert repo.get_collaborator_permission("alice") == "write"
    assert (repo.get_collaborator_permission("bob"), repo.get_collaborator_role_name("bob")) == ("write", "maintain")
    assert repo.get_collaborator_permission("carol") == "read"  # everyone reads a public repository
    assert repo.get_collaborator_permission("crashfix-bot") == "admin"
    with pytest.raises(UnknownObjectException):
        repo.get_collaborator_permission("nobody-at-all")
    with pytest.raises(ValueError):
        fake.set_permission("dave", "owner")


def test_pull_requests_are_issues_too_and_refuse_a_duplicate_head(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    fake.seed_branch("crashfix/abc")
    repo.create_issue("crash")
    pull = repo.create_pull(title="Fix crash", body="Fixes #1", head="crashfix/abc", base="main", draft=True)
    assert (pull.number, pull.draft, pull.head.ref, pull.base.ref) == (2, True, "crashfix/abc", "main")
    assert pull.head.label == "acme:crashfix/abc" and pull.mergeable is None
    assert repo.get_issue(2).pull_request is not None and repo.get_issue(1).pull_request is None

    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(title="Again", body="", head="crashfix/abc", base="main")
    assert duplicate.value.status == 422
    assert duplicate.value.data["errors"][0]["message"] == "A pull request already exists for acme:crashfix/abc."
    assert [p.number for p in repo.get_pulls(head="acme:crashfix/abc")] == [2]
    pull.edit(state="closed")
    assert repo.get_pulls(head="acme:crashfix/abc").totalCount == 0
    assert repo.create_pull(title="Retry", body="", head="crashfix/abc", base="main").number == 3


def test_reviews_and_review_comments_are_seeded_and_listed(fake: FakeGitHub) -> None:
    number = fake.seed_pull("Fix crash", "Fixes #1", head="crashfix/abc")["number"]
    fake.seed_review(number, "maintainer", "CHANGES_REQUESTED", "add a test")
    fake.seed_review_comment(number, "check for null", "src/Player.cpp", 42, user="maintainer")
    pull = client(fake).get_repo(REPO).get_pull(number)

    assert [(r.user.login, r.state, r.body) for r in pull.get_reviews()] == [
        ("maintainer", "CHANGES_REQUESTED", "add a test")]
    assert [(c.path, c.line, c.body) for c in pull.get_review_comments()] == [("src/Player.cpp", 42, "check for null")]


def test_unknown_routes_and_other_repositories_are_404(fake: FakeGitHub) -> None:
    assert requests.get(f"{fake.url}/nope", headers=AUTH).json()["message"] == "Not Found"
    with pytest.raises(UnknownObjectException):
        client(fake).get_repo("acme/other")


def test_conditional_get_answers_304_and_is_free(fake: FakeGitHub) -> None:
    fake.seed_issue("crash", "b")
    first = requests.get(api(fake, "/issues/1"), headers=AUTH)
    again = requests.get(api(fake, "/issues/1"), headers={**AUTH, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]


def test_seeding_before_start_is_refused_with_a_reason() -> None:
    with pytest.raises(RuntimeError, match="start"):
        FakeGitHub().seed_issue("crash", "body")


def test_a_stopped_fake_refuses_connections() -> None:
    fake = FakeGitHub().start()
    gh = client(fake)
    gh.get_repo(REPO)
    fake.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        gh.get_repo(REPO)

"""The fake GitHub refuses what GitHub refuses, through the real PyGithub client.

Each rule of the fake (github_access, github_branches, the checks in github_state) has a test
here: roles and token permissions answered with GitHub's 403 bodies, the Actions setting on
pull requests, 422 for missing branches, unknown assignees and bad label names, labels dropped
for users without push access, `labeled` events at creation, closing keywords on merge, the
secondary limit on content creation and pushes refused by the git server. A refused request
must change nothing: each test checks the state after the refusal, not only the status.
The answers' shapes are checked against GitHub's OpenAPI description in
test_fake_github_contract.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github, GithubException

from tests.fakes.git_http import GitHttpServer
from tests.fakes.github_server import FakeGitHub

REPO = "acme/worldserver"
READ_ONLY = {"issues": "read", "pull_requests": "read", "contents": "read"}
WRITE_ALL = {"issues": "write", "pull_requests": "write", "contents": "write"}


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.set_permission("reader", "read")
        server.set_permission("triager", "triage")
        server.set_permission("writer", "write")
        for login in ("reader", "triager", "writer"):
            server.add_token(f"{login}-token", login, kind="classic")
        yield server
        assert not server.server_errors, server.server_errors[0]


def repo_as(fake: FakeGitHub, token: str) -> Any:
    return Github(base_url=fake.url, auth=Auth.Token(token), retry=None, seconds_between_requests=0,
                  seconds_between_writes=0).get_repo(REPO)


def refused(status: int, action: Callable[[], Any]) -> dict[str, Any]:
    """Run a PyGithub call that must fail with `status`; GitHub's error body."""
    with pytest.raises(GithubException) as caught:
        action()
    assert caught.value.status == status, caught.value
    return dict(caught.value.data)  # type: ignore[arg-type]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


# -- repository roles (classic tokens act with their user's role) ----------------------------


def test_a_reader_opens_issues_and_comments_but_its_labels_and_assignees_are_dropped(fake: FakeGitHub) -> None:
    fake.seed_label("crash")
    repo = repo_as(fake, "reader-token")
    issue = repo.create_issue("crash", body="b", labels=["crash"], assignees=["writer"])
    assert (issue.user.login, issue.labels, issue.assignees) == ("reader", [], [])  # dropped, not refused
    issue.create_comment("seen it too")
    issue.edit(title="crash (edited by its author)")
    assert fake.issues[1]["title"] == "crash (edited by its author)" and fake.issues[1]["comments"] == 1
    assert fake.events.get(1, []) == []


def test_a_reader_may_not_label_create_labels_edit_others_or_read_permissions(fake: FakeGitHub) -> None:
    theirs = fake.seed_issue("crash", "b", labels=["crash"], user="uploader-bot")["number"]
    comment = fake.seed_comment(theirs, "first", user="writer")["id"]
    before = repr((fake.issues, fake.labels, fake.comments))
    repo = repo_as(fake, "reader-token")
    issue = repo.get_issue(theirs)
    for action in (lambda: repo.create_label("regression", "d93f0b"), lambda: issue.add_to_labels("crash"),
                   lambda: issue.remove_from_labels("crash"), lambda: issue.edit(state="closed"),
                   lambda: issue.get_comment(comment).edit("mine now"), lambda: issue.get_comment(comment).delete()):
        body = refused(403, action)
        assert body["message"] == "Must have admin rights to Repository."
    body = refused(403, lambda: repo.get_collaborator_role_name("writer"))
    assert body["message"] == "Must have push access to view collaborator permission."
    assert body["documentation_url"].endswith("#get-repository-permissions-for-a-user")
    assert repr((fake.issues, fake.labels, fake.comments)) == before  # nothing was applied


def test_triage_labels_and_closes_but_does_not_retitle_or_create_labels(fake: FakeGitHub) -> None:
    number = fake.seed_issue("crash", "b", user="uploader-bot")["number"]
    fake.seed_label("regression")
    repo = repo_as(fake, "triager-token")
    issue = repo.get_issue(number)
    issue.add_to_labels("regression")
    issue.edit(state="closed", state_reason="not_planned")
    assert fake.issues[number]["state"] == "closed" and fake.issues[number]["labels"][0]["name"] == "regression"
    assert refused(403, lambda: issue.edit(title="renamed"))["message"] == "Must have admin rights to Repository."
    refused(403, lambda: repo.create_label("new", "ededed"))
    assert fake.issues[number]["title"] == "crash" and fake.find_label("new") is None


def test_write_access_sets_labels_and_assignees_at_creation_with_labeled_events(fake: FakeGitHub) -> None:
    repo = repo_as(fake, "writer-token")
    issue = repo.create_issue("crash", body="b", labels=["crash", "regression"], assignees=["writer"])
    assert [label.name for label in issue.labels] == ["crash", "regression"]  # unknown labels are created
    assert [user.login for user in issue.assignees] == ["writer"]
    events = [(e.event, e.label.name, e.actor.login) for e in issue.get_events()]
    assert events == [("labeled", "crash", "writer"), ("labeled", "regression", "writer")]


def test_unknown_assignees_and_label_names_github_refuses_are_422(fake: FakeGitHub) -> None:
    repo = repo_as(fake, "writer-token")
    body = refused(422, lambda: repo.create_issue("crash", assignees=["nobody-at-all"]))
    assert body["message"] == "Validation Failed"
    assert body["errors"] == [{"resource": "Issue", "code": "invalid", "field": "assignees", "value": "nobody-at-all"}]
    refused(422, lambda: repo.create_issue("crash", assignees=["reader"]))  # read access cannot be assigned
    long_name = "x" * 51
    assert refused(422, lambda: repo.create_issue("crash", labels=[long_name]))["errors"] == [
        {"resource": "Label", "code": "invalid", "field": "name", "value": long_name}]
    assert refused(422, lambda: repo.create_issue("crash", labels=[" "]))["errors"][0]["code"] == "missing_field"
    assert fake.issues == {} and fake.labels == {}
    number = fake.seed_issue("crash", "b")["number"]
    fake.seed_comment(number, "I can look at it", user="reader")
    repo.get_issue(number).edit(assignees=["reader"])  # a commenter can be assigned to that issue
    assert [user["login"] for user in fake.issues[number]["assignees"]] == ["reader"]


# -- token permissions (fine-grained and installation tokens) --------------------------------


def test_a_read_only_fine_grained_token_reads_but_every_write_is_403(fake: FakeGitHub) -> None:
    fake.add_token("fine-read", "crashfix-bot", permissions=READ_ONLY)  # its user is admin: the token decides
    number = fake.seed_issue("crash", "b", labels=["crash"])["number"]
    repo = repo_as(fake, "fine-read")
    assert [issue.number for issue in repo.get_issues()] == [number]
    for action in (lambda: repo.create_issue("crash"), lambda: repo.get_issue(number).create_comment("x"),
                   lambda: repo.create_label("x", "ededed"), lambda: repo.get_issue(number).add_to_labels("x"),
                   lambda: repo.create_pull(title="t", body="", head="main", base="main")):
        assert refused(403, action)["message"] == "Resource not accessible by personal access token"
    assert len(fake.issues) == 1 and fake.comments[number] == [] and fake.find_label("x") is None


def test_the_actions_token_has_only_its_permissions_and_no_user(fake: FakeGitHub) -> None:
    fake.actions_token("ghs-read", {"issues": "read", "contents": "read"})
    fake.actions_token("ghs-write", {"issues": "write", "contents": "write", "pull_requests": "write"})
    reader = repo_as(fake, "ghs-read")
    assert reader.permissions is None  # GitHub reports no role for an app's token
    assert refused(403, lambda: reader.create_issue("crash"))["message"] == "Resource not accessible by integration"
    assert refused(403, lambda: reader.get_pulls().totalCount)["message"] == "Resource not accessible by integration"
    gh = Github(base_url=fake.url, auth=Auth.Token("ghs-write"), retry=None)
    assert refused(403, lambda: gh.get_user().login)["message"] == "Resource not accessible by integration"
    created = repo_as(fake, "ghs-write").create_issue("crash", labels=["crash"], assignees=["crashfix-bot"])
    assert created.user.login == "github-actions[bot]" and [label.name for label in created.labels] == ["crash"]


def test_the_actions_token_opens_pull_requests_only_where_the_setting_allows(fake: FakeGitHub) -> None:
    fake.actions_token("ghs-write", WRITE_ALL)
    fake.seed_branch("crashfix/issue-1")
    repo = repo_as(fake, "ghs-write")
    body = refused(403, lambda: repo.create_pull(title="Fix", body="", head="crashfix/issue-1", base="main"))
    assert body["message"] == "GitHub Actions is not permitted to create or approve pull requests."
    assert body["documentation_url"].endswith("/pulls/pulls#create-a-pull-request") and fake.pulls == {}
    fake.actions_can_create_pulls = True
    assert repo.create_pull(title="Fix", body="", head="crashfix/issue-1", base="main", draft=True).number == 1
    fake.add_token("pat-write", "crashfix-bot", permissions=WRITE_ALL)  # a person's token is not Actions
    fake.actions_can_create_pulls = False
    fake.seed_branch("crashfix/issue-2")
    assert repo_as(fake, "pat-write").create_pull(title="Fix", body="", head="crashfix/issue-2", base="main")


# -- branches --------------------------------------------------------------------------------


def test_a_pull_request_needs_existing_head_and_base_branches(fake: FakeGitHub) -> None:
    repo = repo_as(fake, "test-token")
    fake.seed_branch("crashfix/issue-1")
    for head, base, field in (("crashfix/issue-9", "main", "head"), ("crashfix/issue-1", "no-such-branch", "base"),
                              ("other:crashfix/issue-1", "main", "head")):
        body = refused(422, lambda h=head, b=base: repo.create_pull(title="Fix", body="", head=h, base=b))
        assert body["errors"] == [{"resource": "PullRequest", "code": "invalid", "field": field}]
    pull = repo.create_pull(title="Fix", body="", head="crashfix/issue-1", base="main")
    assert refused(422, lambda: pull.edit(base="no-such-branch"))["errors"][0]["field"] == "base"
    assert list(fake.pulls) == [pull.number] and fake.pulls[pull.number]["base"]["ref"] == "main"


def test_with_a_linked_git_repository_branches_are_the_real_ones(fake: FakeGitHub, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "-c", "user.name=dev", "-c", "user.email=d@e", "commit", "-q", "--allow-empty", "-m", "start")
    git(work, "push", "-q", "origin", "HEAD:main", "HEAD:crashfix/issue-1")
    fake.use_git(origin)
    repo = repo_as(fake, "test-token")
    assert refused(422, lambda: repo.create_pull(title="Fix", body="", head="crashfix/issue-2", base="main"))
    pull = repo.create_pull(title="Fix", body="", head="crashfix/issue-1", base="main")
    assert pull.head.sha == git(origin, "rev-parse", "refs/heads/crashfix/issue-1").strip()
    with pytest.raises(RuntimeError):
        fake.seed_branch("crashfix/issue-2")  # with real git, branches are made by pushing


# -- closing keywords ------------------------------------------------------------------------


def test_merging_closes_the_same_repository_issues_its_body_names(fake: FakeGitHub) -> None:
    for n in range(5):
        fake.seed_issue(f"crash {n + 1}", "b")
    body = ("Fixes #1. Also closes: acme/worldserver#2 and RESOLVES #3; fixes other/repo#4;\n"
            "quoted, not meant: `fixes #5` and\n```\nfixed #5\n```")
    pull = fake.seed_pull("Fix", body, head="crashfix/issue-1")
    fake.close_pull(pull["number"], merged=True, user="writer")
    repo = repo_as(fake, "test-token")
    assert [repo.get_issue(n).state for n in range(1, 6)] == ["closed", "closed", "closed", "open", "open"]
    closed = [e for e in repo.get_issue(1).get_events() if e.event == "closed"]
    assert len(closed) == 1 and closed[0].commit_id == repo.get_pull(pull["number"]).merge_commit_sha
    assert closed[0].actor.login == "writer" and fake.issues[1]["state_reason"] == "completed"


def test_commit_messages_close_issues_too_but_only_on_a_merge_into_the_default_branch(fake: FakeGitHub) -> None:
    for n in range(3):
        fake.seed_issue(f"crash {n + 1}", "b")
    merged = fake.seed_pull("Fix", "no keywords here", head="crashfix/issue-1", commits=["Fix crash\n\nFixes #1"])
    elsewhere = fake.seed_pull("Fix", "Fixes #2", head="crashfix/issue-2", base="release")
    unmerged = fake.seed_pull("Fix", "Fixes #3", head="crashfix/issue-3")
    fake.close_pull(merged["number"], merged=True)
    fake.close_pull(elsewhere["number"], merged=True)
    fake.close_pull(unmerged["number"], merged=False)
    assert [fake.issues[n]["state"] for n in (1, 2, 3)] == ["closed", "open", "open"]


def test_merged_commits_are_read_from_the_linked_git_repository(fake: FakeGitHub, tmp_path: Path) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    commit = ["-c", "user.name=dev", "-c", "user.email=d@e", "commit", "-q", "--allow-empty", "-m"]
    git(work, *commit, "start")
    git(work, "push", "-q", "origin", "HEAD:main")
    git(work, *commit, "Null check\n\nCloses #2")
    git(work, "push", "-q", "origin", "HEAD:crashfix/issue-2")
    fake.use_git(origin)
    fake.seed_issue("crash 1", "b")
    fake.seed_issue("crash 2", "b")
    pull = repo_as(fake, "test-token").create_pull(title="Fix", body="Refs #1", head="crashfix/issue-2", base="main")
    fake.close_pull(pull.number, merged=True)
    assert (fake.issues[1]["state"], fake.issues[2]["state"]) == ("open", "closed")


# -- the secondary limit on content creation -------------------------------------------------


def test_more_than_80_creations_in_a_minute_are_refused_with_retry_after(fake: FakeGitHub) -> None:
    number = fake.seed_issue("crash", "b")["number"]
    issue = repo_as(fake, "test-token").get_issue(number)
    for n in range(80):
        issue.create_comment(f"comment {n}")
    with pytest.raises(GithubException) as caught:
        issue.create_comment("one too many")
    assert caught.value.status == 403 and "temporarily blocked from content creation" in caught.value.data["message"]
    assert 1 <= int(caught.value.headers["retry-after"]) <= 60
    assert len(fake.comments[number]) == 80
    issue.edit(body="edits are not content creation")  # only creating is limited ...
    repo_as(fake, "writer-token").get_issue(number).create_comment("... and per user")
    assert len(fake.comments[number]) == 81 and fake.issues[number]["body"] == "edits are not content creation"


# -- pushes ----------------------------------------------------------------------------------


def test_the_git_server_refuses_a_push_the_token_may_not_make(fake: FakeGitHub, tmp_path: Path) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "-c", "user.name=dev", "-c", "user.email=d@e", "commit", "-q", "--allow-empty", "-m", "start")
    fake.actions_token("ghs-read", {"contents": "read", "issues": "write"})
    fake.actions_token("ghs-write", {"contents": "write"})

    def push(token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-c", f"http.extraHeader=Authorization: Basic {basic(token)}", "push",
                               f"{server.url}/origin.git", "HEAD:refs/heads/crashfix/issue-1"],
                              cwd=work, capture_output=True, text=True, check=False)

    with GitHttpServer(tmp_path, "unused", github=fake) as server:
        for token, who in (("ghs-read", "github-actions[bot]"), ("reader-token", "reader")):
            denied = push(token)
            assert denied.returncode != 0 and "403" in denied.stderr
            assert f"remote: Permission to acme/worldserver.git denied to {who}." in denied.stderr
        assert push("ghs-write").returncode == 0
    assert git(origin, "branch", "--list", "crashfix/*").split() == ["crashfix/issue-1"]


def basic(token: str) -> str:
    import base64

    return base64.b64encode(f"x-access-token:{token}".encode()).decode()

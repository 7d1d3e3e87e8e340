"""What crashfix says when GitHub refuses: one line naming what the token (or its account) lacks,
per kind of endpoint: issues, pull requests, contents (a push), the Actions setting, the role.

Driven through crashfix's own client (real PyGithub, real HTTP) against the fake GitHub, whose
403 bodies are GitHub's (tests/fakes/test_fake_github_rules.py checks those).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.fixer.checkout.gitops import Git, GitError
from crashfix.github.api import GitHubClient, RepoAPI
from crashfix.github.records import GitHubAuthError, GitHubInvalid
from tests.fakes.git_http import GitHttpServer
from tests.fakes.github_server import FakeGitHub

REPO = "acme/worldserver"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server
        assert not server.server_errors, server.server_errors[0]


def repo_with(fake: FakeGitHub, token: str) -> RepoAPI:
    return GitHubClient(base_url=fake.url, token=token, write_interval=0.0, retries=0).repository(REPO)


def test_a_token_without_issues_write_is_told_to_get_it(fake: FakeGitHub) -> None:
    fake.add_token("fine-read", "crashfix-bot", permissions={"issues": "read"})
    number = fake.seed_issue("crash", "b")["number"]
    with pytest.raises(GitHubAuthError) as refused:
        repo_with(fake, "fine-read").comment(number, "hello")
    line = refused.value.one_line()
    assert line == ("the token may not comment on issue #1 (403: Resource not accessible by personal access token) "
                    "(give the token Issues: read and write (in a workflow: `permissions: issues: write`))")
    assert fake.comments[number] == []


def test_a_token_without_pull_requests_write_is_told_to_get_that_not_issues(fake: FakeGitHub) -> None:
    fake.actions_token("ghs", {"issues": "write", "pull_requests": "read", "contents": "write"})
    fake.seed_branch("crashfix/issue-1")
    with pytest.raises(GitHubAuthError) as refused:
        repo_with(fake, "ghs").create_pull(title="Fix", body="Fixes #1", head="crashfix/issue-1", base="main")
    assert "Resource not accessible by integration" in refused.value.message
    assert refused.value.hint == "give the token Pull requests: read and write (in a workflow: " \
                                 "`permissions: pull-requests: write`)"


def test_the_actions_setting_is_named_when_it_forbids_the_pull_request(fake: FakeGitHub) -> None:
    fake.actions_token("ghs", {"issues": "write", "pull_requests": "write", "contents": "write"})
    fake.seed_branch("crashfix/issue-1")
    with pytest.raises(GitHubAuthError) as refused:
        repo_with(fake, "ghs").create_pull(title="Fix", body="Fixes #1", head="crashfix/issue-1", base="main")
    assert refused.value.hint is not None
    assert "Settings > Actions > General" in refused.value.hint
    assert "Allow GitHub Actions to create and approve pull requests" in refused.value.hint and fake.pulls == {}


def test_an_account_with_read_access_is_told_it_needs_write_and_files_no_unlabelled_issue(
        fake: FakeGitHub) -> None:
    fake.set_permission("reader", "read")
    fake.add_token("reader-token", "reader", kind="classic")
    fake.seed_label("crash")
    repo = repo_with(fake, "reader-token")
    with pytest.raises(GitHubAuthError) as refused:
        repo.create_issue("Crash", "body", ("crash",))  # GitHub would accept it and drop the label
    assert refused.value.message == ("the token's account has only read access to acme/worldserver: GitHub would "
                                     "file the issue without its labels")
    assert refused.value.hint == "the token's account needs write access to the repository (the Write role or higher)"
    with pytest.raises(GitHubAuthError) as label:
        repo.ensure_label("regression", "d93f0b", "came back")
    assert "(403: Must have admin rights to Repository.)" in label.value.message and "write access" in label.value.hint
    assert fake.writes()[-1].status == 403 and fake.issues == {} and fake.find_label("regression") is None


def test_a_refused_push_names_contents_and_what_the_remote_said(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.actions_token("ghs-read", {"contents": "read", "issues": "write"})
    origin, clone = tmp_path / "origin.git", tmp_path / "clone"
    for args in (["init", "-q", "--bare", "-b", "main", str(origin)], ["clone", "-q", str(origin), str(clone)]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    with GitHttpServer(tmp_path, "unused", github=fake) as server:
        subprocess.run(["git", "remote", "set-url", "origin", f"{server.url}/origin.git"], cwd=clone, check=True)
        subprocess.run(["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q",
                        "--allow-empty", "-m", "base"], cwd=clone, check=True)
        git = Git(clone, os.environ, secrets=["ghs-read"])
        git.remember_remote("origin")
        commit = git.commit_contents(git.head(), {"fix.txt": b"fix\n"}, "fix")
        with pytest.raises(GitError) as refused:
            git.push("origin", "crashfix/issue-1", "ghs-read", commit=commit)
    line = refused.value.one_line()
    assert line.startswith("the token may not push crashfix/issue-1 (git push failed: ")
    assert "the remote said: Permission to acme/worldserver.git denied to github-actions[bot]." in line
    assert line.endswith("(give the token Contents: read and write (in a workflow: `permissions: contents: write`))")
    assert "ghs-read" not in line


def test_a_422_says_which_field_github_refused(fake: FakeGitHub) -> None:
    fake.seed_branch("crashfix/issue-1")
    with pytest.raises(GitHubInvalid) as refused:
        repo_with(fake, fake.token).create_pull(title="Fix", body="", head="crashfix/issue-1", base="no-such-branch")
    assert refused.value.message == ("GitHub refused to open a draft pull request from crashfix/issue-1 "
                                     "(422: Validation Failed: base invalid)")

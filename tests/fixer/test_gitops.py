"""git for the fixer: real git, a local bare origin, and a real HTTP remote that wants a token."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from crashfix.fixer.checkout.gitops import Git, GitError
from tests.conftest import require_tools
from tests.fakes.git_http import GitHttpServer

TOKEN = "ghs_pushTokenThatMustNotLeak0123456789"


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_origin(tmp_path: Path) -> tuple[Path, Path]:
    """A bare `origin` with one commit on main, and a clone of it."""
    require_tools("git")
    seed = tmp_path / "seed"
    seed.mkdir()
    sh(seed, "init", "-q", "-b", "main")
    (seed / "src").mkdir()
    (seed / "src" / "Player.cpp").write_text("int hp = 0;\n")
    (seed / "notes.txt").write_text("notes\n")
    sh(seed, "add", ".")
    sh(seed, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "initial")
    origin = tmp_path / "origin.git"
    sh(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    clone = tmp_path / "clone"
    sh(tmp_path, "clone", "-q", str(origin), str(clone))
    return origin, clone


def test_branch_commit_only_edited_files_and_push(tmp_path: Path) -> None:
    origin, clone = make_origin(tmp_path)
    git = Git(clone, os.environ)
    base = git.start_branch("crashfix/issue-7", remote="origin", base="main")
    (clone / "src" / "Player.cpp").write_text("int hp = 1;\n")
    (clone / "notes.txt").write_text("a stray change the fix did not make\n")
    (clone / "build").mkdir()
    (clone / "build" / "out.o").write_text("object")
    commit = git.commit_contents(base, {"src/Player.cpp": b"int hp = 1;\n"}, "Fix crash\n\nFixes #7\n",
                                 branch="crashfix/issue-7")
    assert sh(clone, "show", "--name-only", "--format=", commit).split() == ["src/Player.cpp"]
    assert sh(clone, "log", "-1", "--format=%an <%ae>").strip() == "crashfix <crashfix@users.noreply.github.com>"
    assert sh(clone, "rev-parse", "HEAD").strip() == commit and sh(clone, "status", "--porcelain").split() == [
        "M", "notes.txt", "??", "build/"]  # the branch and its index follow; stray changes stay uncommitted
    assert git.diff_stats(base, commit).describe() == "1 file(s), +1 −1"
    git.push("origin", "crashfix/issue-7", None)
    assert sh(origin, "rev-parse", "refs/heads/crashfix/issue-7").strip() == commit
    # A re-run continues the pushed branch instead of starting over.
    again = tmp_path / "again"
    sh(tmp_path, "clone", "-q", str(origin), str(again))
    assert Git(again, os.environ).start_branch("crashfix/issue-7", remote="origin", base="main") == commit


def test_push_over_http_authenticates_without_leaving_the_token_anywhere(tmp_path: Path) -> None:
    origin, clone = make_origin(tmp_path)
    with GitHttpServer(tmp_path, TOKEN) as server:
        sh(clone, "remote", "set-url", "origin", f"{server.url}/origin.git")
        git = Git(clone, {**os.environ, "GITHUB_TOKEN": TOKEN}, secrets=[TOKEN])
        git.remember_remote("origin")
        with pytest.raises(GitError) as refused:
            git.push("origin", "main", None)  # no token: the server says 401, git must not prompt
        assert TOKEN not in str(refused.value)
        git.run("checkout", "-q", "-b", "crashfix/issue-9")
        git.commit_contents(git.head(), {"src/Player.cpp": b"int hp = 9;\n"}, "fix", branch="crashfix/issue-9")
        git.push("origin", "crashfix/issue-9", TOKEN)
        assert server.pushes == 1
    assert sh(origin, "rev-parse", "refs/heads/crashfix/issue-9").strip() == git.head()
    config = (clone / ".git" / "config").read_text()
    assert TOKEN not in config and "extraheader" not in config and "x-access-token" not in config
    assert git.persisted_credentials() == []


def test_a_private_origin_is_fetched_with_the_token_as_actions_checkout_leaves_it(tmp_path: Path) -> None:
    """persist-credentials: false leaves an https remote without credentials: fetching needs the token too."""
    origin, clone = make_origin(tmp_path)
    with GitHttpServer(tmp_path, TOKEN) as server:
        sh(clone, "remote", "set-url", "origin", f"{server.url}/origin.git")
        git = Git(clone, {**os.environ, "GITHUB_TOKEN": TOKEN}, secrets=[TOKEN])
        with pytest.raises(GitError):
            git.start_branch("crashfix/issue-3", remote="origin", base="main")  # anonymous: 401
        start = git.start_branch("crashfix/issue-3", remote="origin", base="main", token=TOKEN)
        assert start == sh(origin, "rev-parse", "main").strip()
    assert TOKEN not in (clone / ".git" / "config").read_text()


def test_persisted_credentials_are_detected(tmp_path: Path) -> None:
    _, clone = make_origin(tmp_path)
    sh(clone, "config", "--local", "http.https://github.com/.extraheader", "AUTHORIZATION: basic abc")
    sh(clone, "remote", "add", "mirror", "https://x-access-token:abc@example.com/r.git")
    found = Git(clone, os.environ).persisted_credentials()
    assert "http.https://github.com/.extraheader" in found and "remote.mirror.url" in found


def test_credentials_in_an_included_config_file_are_detected(tmp_path: Path) -> None:
    """Newer actions/checkout keeps the header in a file pulled in by `includeIf`."""
    _, clone = make_origin(tmp_path)
    included = tmp_path / "credentials.config"
    included.write_text('[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic abc\n')
    sh(clone, "config", "--local", f"includeIf.gitdir:{clone}/.git.path", str(included))
    assert Git(clone, os.environ).persisted_credentials() == ["http.https://github.com/.extraheader"]


def test_what_a_build_plants_in_git_config_hooks_or_home_cannot_catch_the_token(tmp_path: Path) -> None:
    """The push goes from a clean repository to the URL recorded before the build, without hooks."""
    origin, clone = make_origin(tmp_path)
    evil = tmp_path / "evil.git"
    sh(tmp_path, "init", "-q", "--bare", str(evil))
    home = tmp_path / "home"
    home.mkdir()
    marker = tmp_path / "stolen.txt"
    with GitHttpServer(tmp_path, TOKEN) as server:
        sh(clone, "remote", "set-url", "origin", f"{server.url}/origin.git")
        git = Git(clone, {**os.environ, "HOME": str(home), "GITHUB_TOKEN": TOKEN}, secrets=[TOKEN])
        git.start_branch("crashfix/issue-5", remote="origin", base="main", token=TOKEN)
        # -- what a hostile build could do, after the branch started --
        hook = clone / ".git" / "hooks" / "pre-push"
        hook.write_text(f"#!/bin/sh\nenv > {marker}\n")
        hook.chmod(0o755)
        sh(clone, "config", "--local", f"url.{evil.as_uri()}.insteadOf", server.url)
        sh(clone, "remote", "set-url", "--push", "origin", evil.as_uri())
        (home / ".gitconfig").write_text(f'[url "{evil.as_uri()}"]\n\tpushInsteadOf = {server.url}\n')
        git.commit_contents(git.head(), {"src/Player.cpp": b"int hp = 5;\n"}, "fix", branch="crashfix/issue-5")
        git.push("origin", "crashfix/issue-5", TOKEN)
        assert server.pushes == 1
    assert sh(origin, "rev-parse", "refs/heads/crashfix/issue-5").strip() == git.head()
    assert not marker.exists()
    assert sh(evil, "for-each-ref").strip() == ""
    assert git.persisted_credentials() == [f"url.{evil.as_uri()}.insteadof"]  # and the next run refuses it


def test_git_errors_are_one_redacted_line(tmp_path: Path) -> None:
    _, clone = make_origin(tmp_path)
    git = Git(clone, os.environ, secrets=[TOKEN])
    with pytest.raises(GitError, match="git checkout failed"):
        git.run("checkout", f"no-such-branch-{TOKEN}")
    try:
        git.run("checkout", f"no-such-branch-{TOKEN}")
    except GitError as error:
        assert TOKEN not in error.one_line() and "***" in error.one_line()
    with pytest.raises(GitError, match="not a git checkout"):
        Git(tmp_path, os.environ).ensure_repository()


def test_line_ends_follow_the_repository_not_a_windows_working_tree(tmp_path: Path) -> None:
    """A Windows checkout holds CRLF where the repository keeps LF (core.autocrlf): the commit keeps LF, so the
    PR shows the changed line, not the whole file; a file the repository keeps with CRLF stays CRLF."""
    origin, clone = make_origin(tmp_path)
    (clone / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    sh(clone, "-c", "core.autocrlf=false", "add", "crlf.txt")
    sh(clone, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "crlf file")
    git = Git(clone, os.environ)
    base = git.head()
    commit = git.commit_contents(base, {"src/Player.cpp": b"int hp = 1;\r\n", "crlf.txt": b"one\r\nTWO\r\n",
                                        "src/New.h": b"#pragma once\r\n"}, "fix")
    assert sh(clone, "cat-file", "blob", f"{commit}:src/Player.cpp") == "int hp = 1;\n"
    assert sh(clone, "cat-file", "blob", f"{commit}:src/New.h") == "#pragma once\n"
    assert subprocess.run(["git", "cat-file", "blob", f"{commit}:crlf.txt"], cwd=clone, capture_output=True,
                          check=True).stdout == b"one\r\nTWO\r\n"
    assert git.diff_stats(base, commit).describe() == "3 file(s), +3 −2"

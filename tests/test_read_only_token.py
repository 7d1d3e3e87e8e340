"""Every crashfix command that writes to GitHub, given a token that may only read: it stops with one
line saying what the token lacks, and writes nothing (`stats`, which only reads, just works).

Three read-only tokens, as users hand them to crashfix, each refused by the fake GitHub as GitHub
refuses them: a fine-grained personal access token with read permissions (its account is an admin:
the token decides), the Actions GITHUB_TOKEN of a workflow with read permissions, and a classic
token of an account with the Read role. `deliver` is the end of a fix run: its tests give the
Actions token what the run needs up to the push and check what the issue is told when the push or
the pull request is refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.cli import main
from crashfix.setup.init_repo import LABELS
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.git_http import GitHttpServer
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import FIX_CONFIG, TOKEN, file_crash, fix_environment, game_repository, git
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK, event
from tests.stats.helpers import seed_crash
from tests.uploader.helpers import REPO, write_crashes

READ = {"issues": "read", "pull_requests": "read", "contents": "read"}
# token -> what the one line must say: GitHub's refusal and what to grant
KINDS = {
    "fine-grained": ("ro-fine", "(403: Resource not accessible by personal access token)",
                     "(give the token Issues: read and write (in a workflow: `permissions: issues: write`))"),
    "actions": ("ro-actions", "(403: Resource not accessible by integration)",
                "(give the token Issues: read and write (in a workflow: `permissions: issues: write`))"),
    "classic-read-role": ("ro-classic", "",
                          "(the token's account needs write access to the repository (the Write role or higher))"),
}


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        fake.set_permission("reader", "read")
        fake.add_token("ro-fine", "crashfix-bot", permissions=READ)
        fake.actions_token("ro-actions", READ)
        fake.add_token("ro-classic", "reader", kind="classic")
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def snapshot(github: FakeGitHub) -> str:
    with github.lock:
        return json.dumps([github.issues, github.comments, github.labels, github.pulls, github.events],
                          sort_keys=True, default=str)


def applied_writes(github: FakeGitHub) -> list[str]:
    return [f"{w.method} {w.path} -> {w.status}" for w in github.writes() if w.status is not None and w.status < 400]


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
        env: dict[str, str]) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def the_line(said: str, start: str) -> str:
    lines = [line for line in said.splitlines() if line.startswith(start)]
    assert len(lines) == 1, said
    return lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_the_uploader_files_nothing_and_says_what_the_token_lacks(
        kind: str, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    token, refusal, hint = KINDS[kind]
    for name, colour, description in LABELS:  # as `crashfix init` left them
        github.seed_label(name, colour, description)
    before = snapshot(github)
    crashes = tmp_path / "crashes"
    write_crashes(crashes, signatures=1, repeats=1)
    code, _, err = run(monkeypatch, capsys, ["watch", str(crashes), "--once", "--repo", REPO],
                       {"GITHUB_TOKEN": token, "GITHUB_API_URL": github.url})
    if kind == "classic-read-role":  # GitHub reports the account's role: refused at the start, before the spool
        assert code == 77
        line = the_line(err, "crashfix: error: ")
        assert "the token's account may only read acme/worldserver: GitHub would drop the labels" in line
        assert line.endswith(hint) and not (tmp_path / "state" / "spool.sqlite3").exists()
    else:  # a token's own permissions are not reported: found out at the first write
        assert code == 1
        line = the_line(err, "0 filed, 1 waiting")
        assert "1 crash(es) could not be filed: " in line and line.endswith(". They stay in the spool.")
        assert refusal in line and hint in line
    assert applied_writes(github) == [] and snapshot(github) == before


@pytest.mark.parametrize("kind", KINDS)
def test_the_fixer_stops_before_the_model_and_writes_nothing(
        kind: str, github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    token, refusal, hint = KINDS[kind]
    number = github.seed_issue("Crash: Segmentation fault in Unit::GetHealth", "a crash", labels=["crash"],
                               user="crashfix-bot")["number"]  # by the uploader account: the gate lets it run
    checkout = tmp_path / "checkout"
    (checkout / ".github").mkdir(parents=True)
    (checkout / ".github" / "crashfix.toml").write_text(FIX_CONFIG)
    before = snapshot(github)
    env = {**fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot")),
           "GITHUB_TOKEN": token}
    code, _, err = run(monkeypatch, capsys, ["fix", "--issue", str(number), "--checkout", str(checkout)], env)
    assert code == 1
    line = the_line(err, "crashfix: error: ")
    if kind == "classic-read-role":
        assert "the token's account has only read access to acme/worldserver: a fix pushes a branch" in line
    else:
        assert f"the token may not comment on issue #{number} {refusal}" in line
    assert line.endswith(hint)
    assert anthropic.message_requests() == []  # nothing spent on the model
    assert applied_writes(github) == [] and snapshot(github) == before


@pytest.mark.parametrize("kind", KINDS)
def test_init_creates_no_label_and_says_what_the_token_lacks(
        kind: str, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    token, refusal, hint = KINDS[kind]
    target = tmp_path / "worldserver"
    target.mkdir()
    code, _, err = run(monkeypatch, capsys, ["init", str(target), "--repo", REPO, "--action", "./action"],
                       {"GITHUB_TOKEN": token, "GITHUB_API_URL": github.url})
    assert code == 1
    line = the_line(err, "crashfix: error: ")
    assert line.startswith("crashfix: error: the token may not create label crash (403: ")
    assert (refusal or "(403: Must have admin rights to Repository.)") in line and line.endswith(hint)
    assert github.labels == {} and applied_writes(github) == []


@pytest.mark.parametrize("kind", KINDS)
def test_stats_only_reads_so_a_read_only_token_is_enough(
        kind: str, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    github.seed_label("crash")
    number = seed_crash(github, "Spell::EffectA", occurrences=3, first_seen=time.time() - 3600)
    github.seed_comment(number, "seen on realm-2 too")
    before = snapshot(github)
    code, out, err = run(monkeypatch, capsys, ["stats", "--repo", REPO, "--json"],
                         {"GITHUB_TOKEN": KINDS[kind][0], "GITHUB_API_URL": github.url})
    assert code == 0, err
    figures = json.loads(out)
    assert (figures["crash_issues"], figures["occurrences"]) == (1, 3)
    assert github.writes() == [] and snapshot(github) == before


# -- deliver: the end of a fix run, with a token that may write issues but not push or open the PR --


@pytest.fixture
def pushed_through_http(github: FakeGitHub, tmp_path: Path, crash_text: str) -> Iterator[tuple[Path, Path, int]]:
    """The game server's origin behind the git smart-HTTP fake that obeys the fake GitHub's tokens."""
    origin, checkout = game_repository(tmp_path)
    github.use_git(origin)
    number = file_crash(github, tmp_path, crash_text)
    with GitHttpServer(tmp_path, TOKEN, github=github) as server:
        git(checkout, "remote", "set-url", "origin", f"{server.url}/{origin.name}")
        yield origin, checkout, number


def fix_with(github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str], checkout: Path, number: int, permissions: dict[str, str]) -> dict:
    github.actions_token("ghs-run", permissions)
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    env = {**fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot")),
           "GITHUB_TOKEN": "ghs-run"}
    code, out, err = run(monkeypatch, capsys, ["fix", "--issue", str(number), "--checkout", str(checkout), "--json"],
                         env)
    assert code == 0, err
    return dict(json.loads(out))


def progress(github: FakeGitHub, number: int) -> str:
    [sticky] = [c["body"] for c in github.comments[number] if "crashfix:progress" in c["body"]]
    return sticky


@pytest.mark.tools
def test_deliver_without_contents_write_pushes_nothing_and_the_issue_says_so(
        github: FakeGitHub, anthropic: FakeAnthropic, pushed_through_http: tuple[Path, Path, int], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    origin, checkout, number = pushed_through_http
    outcome = fix_with(github, anthropic, tmp_path, monkeypatch, capsys, checkout, number,
                       {"issues": "write", "contents": "read", "pull_requests": "read"})
    assert outcome["status"] == "needs-human" and outcome["pull_url"] is None
    reason = outcome["reason"]
    assert reason.startswith(f"the fix was built and tested but could not be delivered: the token may not push "
                             f"crashfix/issue-{number} (git push failed: ")
    assert "denied to github-actions[bot]" in reason
    assert reason.endswith("(give the token Contents: read and write (in a workflow: `permissions: contents: write`))")
    assert git(origin, "branch", "--list", "crashfix/*").strip() == "" and github.pulls == {}
    assert "Contents: read and write" in progress(github, number)  # where people look
    assert "crashfix:needs-human" in {label["name"] for label in github.issues[number]["labels"]}


@pytest.mark.tools
def test_deliver_where_actions_may_not_open_pull_requests_names_the_setting(
        github: FakeGitHub, anthropic: FakeAnthropic, pushed_through_http: tuple[Path, Path, int], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    origin, checkout, number = pushed_through_http
    outcome = fix_with(github, anthropic, tmp_path, monkeypatch, capsys, checkout, number,
                       {"issues": "write", "contents": "write", "pull_requests": "write"})
    assert outcome["status"] == "needs-human" and github.pulls == {}
    assert "(403: GitHub Actions is not permitted to create or approve pull requests.)" in outcome["reason"]
    assert "\"Allow GitHub Actions to create and approve pull requests\"" in outcome["reason"]
    assert git(origin, "branch", "--list", "crashfix/*").split() == [f"crashfix/issue-{number}"]  # kept for later
    assert "Allow GitHub Actions to create and approve pull requests" in progress(github, number)

"""`crashfix init` into an empty git repository, then `crashfix doctor`, against the fake GitHub
through the real client: files written once and kept when edited, labels created once, every check
ok; and each failure doctor can find said with its fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crashfix.setup.init_repo import LABELS
from tests.conftest import require_tools
from tests.fakes.github_server import FakeGitHub
from tests.setup import helpers

TOKEN = "test-token"
REPO = "acme/worldserver"
ACTION = "crashfix-dev/crashfix@0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    require_tools("git")
    path = tmp_path / "worldserver"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
        **env: str) -> tuple[int, str]:
    code, out, err = helpers.run(monkeypatch, capsys, args, **env)
    return code, out + err


def connected(github: FakeGitHub) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url}


def test_init_then_doctor_all_ok_and_init_again_changes_nothing(
        github: FakeGitHub, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    require_tools("cmake", "ctest")  # the commented config's build commands, checked on this machine
    github.seed_label("crash")  # the uploader may have made this one already
    args = ["init", str(repo), "--repo", REPO, "--action", ACTION, "--uploader-login", "crash-uploader"]
    code, said = run(monkeypatch, capsys, args, **connected(github))
    assert code == 0, said
    workflow = (repo / ".github" / "workflows" / "crashfix-fix.yml").read_text()
    assert f"uses: {ACTION}" in workflow and "runs-on: [self-hosted, windows]" in workflow
    assert 'uploader_login = "crash-uploader"' in (repo / ".github" / "crashfix.toml").read_text()
    assert set(github.labels) == {name for name, _, _ in LABELS}
    assert "label crash: exists" in said and "label reanalyze: created" in said
    assert "ANTHROPIC_API_KEY" in said and "Allow GitHub Actions to create and approve pull requests" in said
    assert "CRASHFIX_APP_ID" in said and "CRASHFIX_DELIVER_TOKEN" in said  # so that CI runs on its PRs
    assert "self-hosted, windows" in said

    code, said = run(monkeypatch, capsys, ["doctor", str(repo), "--repo", REPO], **connected(github),
                     ANTHROPIC_API_KEY="sk-ant-test")
    assert code == 0, said
    assert "FAILED" not in said and "--    " not in said and said.rstrip().endswith("all 6 checks passed")
    for name in ("config", "workflow", "build and test", "GitHub token", "labels", "Anthropic API key"):
        assert f"ok      {name}:" in said
    assert "CDB" not in said  # the host's checks are `doctor --host`

    posts = len(github.requests_to("POST", r"/labels$"))
    code, said = run(monkeypatch, capsys, args, **connected(github))
    assert code == 0 and "already up to date" in said and "written" not in said
    assert len(github.requests_to("POST", r"/labels$")) == posts  # labels exist: nothing created twice


def test_a_clone_of_github_needs_no_repo_flag(github: FakeGitHub, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:acme/worldserver.git"],
                   check=True)
    code, said = run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION], **connected(github))
    assert code == 0 and "label reanalyze: created" in said and "https://github.com/acme/worldserver/settings" in said
    code, said = run(monkeypatch, capsys, ["doctor", str(repo)], **connected(github))
    assert "ok      labels:" in said and "ok      GitHub token: opens acme/worldserver" in said


def test_edits_are_kept_without_force(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, said = run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION, "--runs-on", "self-hosted,linux"])
    assert code == 0 and "labels: not created (no GITHUB_TOKEN" in said
    config = repo / ".github" / "crashfix.toml"
    config.write_text(config.read_text() + "\n# my edit\n")
    code, said = run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION])
    assert code == 0 and "exists and differs: kept (use --force to overwrite)" in said
    assert "# my edit" in config.read_text()
    workflow = (repo / ".github" / "workflows" / "crashfix-fix.yml").read_text()
    assert "runs-on: [self-hosted, linux]" in workflow  # kept too: the new default did not replace it
    code, said = run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION, "--force"])
    assert code == 0 and "# my edit" not in config.read_text()
    assert "runs-on: [self-hosted, windows]" in (repo / ".github" / "workflows" / "crashfix-fix.yml").read_text()


def test_bad_init_input_is_one_line(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    for args, words in ((["--runs-on", "self hosted;rm -rf"], "--runs-on needs runner labels"),
                        (["--timeout-minutes", "9999"], "--timeout-minutes must be between"),
                        (["--repo", "notarepo"], "--repo 'notarepo' is not OWNER/NAME"),
                        (["--repo", "https://github.com/acme/worldserver"], "give only the last two parts")):
        code, said = run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION, *args])
        assert code == 2 and words in said and "Traceback" not in said and len(said.strip().splitlines()) == 1
    assert not (repo / ".github").exists()


@pytest.mark.parametrize("action", ["crashfix-dev/crashfix@v0.1.0", "crashfix-dev/crashfix@main",
                                    "crashfix-dev/crashfix@0123456", "not an action", "crashfix-dev/crashfix"])
def test_init_refuses_an_action_not_pinned_to_a_commit_and_says_where_it_lives(
        action: str, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, said = run(monkeypatch, capsys, ["init", str(repo), "--action", action])
    assert code == 2 and len(said.strip().splitlines()) == 1 and not (repo / ".github").exists()
    assert "is not pinned to a commit" in said
    assert "action.yml at the root of https://github.com/crashfix-dev/crashfix" in said
    assert "git ls-remote https://github.com/crashfix-dev/crashfix refs/tags/v" in said


def test_init_without_action_needs_one_unless_installed_from_a_git_commit(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from crashfix.setup import action_ref

    code, said = run(monkeypatch, capsys, ["init", str(repo)])  # this checkout is an editable install: no commit
    assert code == 2 and "give the crashfix action to use, pinned to a commit" in said
    assert "git ls-remote" in said and not (repo / ".github").exists()

    sha = "89abcdef0123456789abcdef0123456789abcdef"
    direct_url = ('{"url": "https://github.com/crashfix-dev/crashfix", "vcs_info": {"vcs": "git", '
                  f'"requested_revision": "v0.1.0", "commit_id": "{sha}"}}}}')
    assert action_ref.action_from_direct_url(direct_url) == f"crashfix-dev/crashfix@{sha}"
    assert action_ref.action_from_direct_url('{"url": "file:///src/crashfix", "dir_info": {"editable": true}}') is None
    monkeypatch.setattr(action_ref, "installed_action", lambda: action_ref.action_from_direct_url(direct_url))
    code, said = run(monkeypatch, capsys, ["init", str(repo), "--no-labels"])
    assert code == 0, said
    assert f"uses: crashfix-dev/crashfix@{sha}" in (repo / ".github" / "workflows" / "crashfix-fix.yml").read_text()
    code, said = run(monkeypatch, capsys, ["doctor", str(repo)])
    assert "ok      workflow: .github/workflows/crashfix-fix.yml present, actions pinned" in said


def test_doctor_accepts_what_init_writes_and_fails_a_workflow_edited_to_a_tag(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION, "--no-labels"])
    assert code == 0
    code, said = run(monkeypatch, capsys, ["doctor", str(repo)])
    assert "ok      workflow:" in said
    workflow = repo / ".github" / "workflows" / "crashfix-fix.yml"
    workflow.write_text(workflow.read_text().replace(ACTION, "crashfix-dev/crashfix@v0.1.0"))
    code, said = run(monkeypatch, capsys, ["doctor", str(repo)])
    assert code == 1
    assert "FAILED  workflow: actions not pinned by commit SHA: crashfix-dev/crashfix@v0.1.0" in said


def test_doctor_says_what_failed_and_the_fix(github: FakeGitHub, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, said = run(monkeypatch, capsys, ["doctor", str(repo), "--repo", REPO])
    assert code == 1
    assert "FAILED  config: " in said and "fix: run `crashfix init` in the repository" in said
    assert "FAILED  GitHub token: GITHUB_TOKEN is not set" in said
    assert "FAILED  Anthropic API key: ANTHROPIC_API_KEY is not set" in said

    run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION, "--no-labels"])
    (repo / ".github" / "crashfix.toml").write_text('[fix]\nbuild = "no-such-compiler --all"\n')
    github.set_permission(github.viewer, "read")  # a token of an account without write access
    code, said = run(monkeypatch, capsys, ["doctor", str(repo), "--repo", REPO], **connected(github))
    assert code == 1
    assert "FAILED  build and test: not found on this machine: no-such-compiler" in said
    assert "FAILED  GitHub token: opens acme/worldserver but may not write to it" in said
    assert "FAILED  labels: missing: crash, regression, reanalyze" in said
    assert "fix: run `crashfix init --repo OWNER/NAME`" in said

    (repo / ".github" / "crashfix.toml").write_text("[fix]\nbudget = 3\n")
    code, said = run(monkeypatch, capsys, ["doctor", str(repo), "--repo", REPO],
                     **{**connected(github), "GITHUB_TOKEN": "wrong-token"})
    assert code == 1 and "FAILED  config: config file" in said and "fix.budget" in said
    assert "FAILED  GitHub token: GitHub rejected the token" in said and "Traceback" not in said


def test_doctor_fails_a_workflow_whose_build_job_holds_the_write_token(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The one-job layout that crashfix used to install: the fix job pushes, so the build runs beside the token."""
    run(monkeypatch, capsys, ["init", str(repo), "--action", ACTION, "--no-labels"])
    code, said = run(monkeypatch, capsys, ["doctor", str(repo)])
    assert "ok      workflow: .github/workflows/crashfix-fix.yml present, actions pinned, the fix job read-only" in said
    workflow = repo / ".github" / "workflows" / "crashfix-fix.yml"
    one_job = workflow.read_text().split("\n  deliver:\n")[0].replace(
        "      contents: read # fetch", "      contents: write # fetch").replace(
        "          bundle: ${{ runner.temp }}/crashfix-result\n", "")
    workflow.write_text(one_job)
    code, said = run(monkeypatch, capsys, ["doctor", str(repo)])
    assert code == 1
    assert "FAILED  workflow: the job `fix` builds model-written code and holds write permissions (contents)" in said
    assert "delivers the fix itself instead of leaving a result bundle" in said and "no job runs `command: deliver`" \
        in said
    assert "fix: install the split workflow" in said and "crashfix init --force" in said


def test_doctor_counts_checks_that_could_not_run_as_skipped(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, said = run(monkeypatch, capsys, ["doctor", str(repo), "--repo", REPO])  # no config, no token, no key
    assert code == 1
    assert "--      build and test: the config did not load" in said
    assert "--      labels: needs a token that opens the repository" in said
    assert said.rstrip().endswith("4 of 4 checks failed, 0 passed; 2 skipped")

"""`crashfix watch` and `crashfix file` check what they need before they start, and fail fast: one line,
an exit code of its own, nothing written. Run through the CLI against the fake GitHub (real client)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from crashfix.config import UploaderSettings
from crashfix.github import credentials
from crashfix.setup import preflight
from tests.conftest import ROOT
from tests.fakes.github_server import FakeGitHub
from tests.fakes.keyrings import MemoryKeyring
from tests.setup.helpers import run
from tests.uploader.helpers import REPO, TOKEN, write_crashes


@pytest.fixture
def crashes(tmp_path: Path) -> Path:
    folder = tmp_path / "crashes"
    write_crashes(folder, signatures=1, repeats=1)
    return folder


def config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "crashfix.toml"
    path.write_text("[uploader]\nsettle_seconds = 0.05\nonce_give_up_seconds = 3\nretry_initial_seconds = 0.1\n"
                    f"write_interval_seconds = 0\n{text}[uploader.cdb]\nenabled = false\n", encoding="utf-8")
    return path


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("crashfix: error: ") and "internal error" not in err and "Traceback" not in err
    return lines[0]


def spool(tmp_path: Path) -> Path:
    return tmp_path / "state" / "spool.sqlite3"  # CRASHFIX_STATE_DIR of every test


def test_no_token_stops_watch_at_once(github: FakeGitHub, crashes: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(monkeypatch, capsys, ["watch", str(crashes), "--repo", REPO, "--config", str(config(tmp_path))],
                       GITHUB_API_URL=github.url)
    assert code == 77
    line = one_error_line(err)
    assert "no GitHub token: GITHUB_TOKEN is not set, and the OS credential store is not available" in line
    assert "GITHUB_TOKEN" in line and "/etc/crashfix/crashfix.env" in line  # where a server without a store keeps it
    assert github.requests == [] and not spool(tmp_path).exists()
    keyring.set_keyring(MemoryKeyring())  # a desktop's store, but empty: `crashfix login` is the fix
    code, _, err = run(monkeypatch, capsys, ["file", str(next(crashes.iterdir())), "--repo", REPO])
    assert code == 77 and "holds none for 127.0.0.1:" in err and "run `crashfix login`" in one_error_line(err)


def test_a_token_github_rejects_or_a_repository_it_cannot_see(
        github: FakeGitHub, crashes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["watch", str(crashes), "--once", "--config", str(config(tmp_path))]
    code, _, err = run(monkeypatch, capsys, [*args, "--repo", REPO], GITHUB_API_URL=github.url,
                       GITHUB_TOKEN="revoked")
    assert code == 77
    assert "GitHub rejected the token from GITHUB_TOKEN (401: expired, revoked or mistyped)" in one_error_line(err)
    code, _, err = run(monkeypatch, capsys, [*args, "--repo", "acme/no-such-repo"], GITHUB_TOKEN=TOKEN)
    assert code == 77 and "acme/no-such-repo was not found with the token from GITHUB_TOKEN (404)" in err
    assert not spool(tmp_path).exists() and github.writes() == []


def test_the_start_check_is_one_request_and_a_good_token_files(
        github: FakeGitHub, crashes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = UploaderSettings(repo=REPO, state_dir=tmp_path / "state")
    environ = preflight.uploader_start(settings, {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}, [crashes])
    assert environ["GITHUB_TOKEN"] == TOKEN
    assert [(r.method, r.path) for r in github.requests] == [("GET", f"/repos/{REPO}")]
    code, out, err = run(monkeypatch, capsys, ["watch", str(crashes), "--once", "--repo", REPO, "--config",
                                               str(config(tmp_path))], GITHUB_API_URL=github.url, GITHUB_TOKEN=TOKEN)
    assert code == 0, err
    assert "1 filed" in out + err and len(github.issues) == 1


def test_a_missing_crash_folder_fails_with_and_without_once(
        crashes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--once"], []):
        code, out, err = run(monkeypatch, capsys, ["watch", str(tmp_path / "nosuchdir"), "--repo", REPO, *extra],
                             GITHUB_TOKEN=TOKEN)
        assert code == 66 and "0 filed" not in out + err
        assert f"the crash folder {tmp_path / 'nosuchdir'} does not exist" in one_error_line(err)
    path = config(tmp_path, f'directories = ["{next(crashes.iterdir()).as_posix()}"]\n')
    code, _, err = run(monkeypatch, capsys, ["watch", "--once", "--repo", REPO, "--config", str(path)])
    assert code == 66 and "is not a folder" in one_error_line(err)
    assert not spool(tmp_path).exists()


@pytest.mark.parametrize("args", [
    ["watch", ".", "--repo", "notarepo"], ["watch", ".", "--once", "--repo", "notarepo"],
    ["file", "x.txt", "--repo", "notarepo"], ["file", "--example", "--dry-run", "--repo", "acme/world server"],
    ["init", ".", "--repo", "notarepo", "--action", "./action"], ["doctor", ".", "--repo", "notarepo"],
    ["stats", "--repo", "notarepo"], ["fix", "--issue", "1", "--repo", "notarepo"],
    ["gate", "--issue", "1", "--repo", "https://github.com/acme/worldserver"],
])
def test_a_repo_that_is_not_owner_name_is_one_line_everywhere(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(monkeypatch, capsys, args, GITHUB_TOKEN=TOKEN, ANTHROPIC_API_KEY="sk-ant-test")
    assert code == 2, err
    line = one_error_line(err)
    assert "is not OWNER/NAME, e.g. acme/worldserver" in line and "ValidationError" not in line


def test_a_repo_in_the_config_that_is_not_owner_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, 'repo = "worldserver"\n')
    code, _, err = run(monkeypatch, capsys, ["watch", str(tmp_path), "--config", str(path)])
    assert code == 2
    assert f"config file {path}: uploader.repo: 'worldserver' is not OWNER/NAME" in one_error_line(err)


def test_a_state_folder_that_cannot_be_written(crashes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["watch", str(crashes), "--once"], ["file", str(next(crashes.iterdir()))]):
        code, _, err = run(monkeypatch, capsys, [*command, "--repo", REPO, "--state-dir", str(blocker / "state")],
                           GITHUB_TOKEN=TOKEN)
        assert code == 74
        line = one_error_line(err)
        assert f"cannot write to the state folder {blocker / 'state'}" in line and "--state-dir" in line


def test_an_unreachable_github_is_no_reason_to_stop_the_spool_keeps_the_crash(crashes: Path, tmp_path: Path) -> None:
    # GITHUB_API_URL points at a closed port (conftest): the check cannot reach GitHub, the run goes on.
    env = {**os.environ, "GITHUB_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, "-m", "crashfix", "watch", str(crashes), "--once", "--repo", REPO,
                           "--config", str(config(tmp_path))], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "could not check the token with GitHub (could not reach GitHub to open repository acme/worldserver" \
        in done.stderr and "carrying on: crashes wait in the spool until GitHub answers" in done.stderr
    assert "0 filed, 1 waiting" in done.stderr and spool(tmp_path).exists() and "Traceback" not in done.stderr


def test_a_stored_token_is_used_when_github_token_is_not_set(
        github: FakeGitHub, crashes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = MemoryKeyring()
    keyring.set_keyring(store)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    store.set_password(credentials.SERVICE, credentials.account(os.environ), TOKEN)
    code, out, err = run(monkeypatch, capsys, ["watch", str(crashes), "--once", "--repo", REPO, "--config",
                                               str(config(tmp_path))])
    assert code == 0, err
    assert len(github.issues) == 1 and "GITHUB_TOKEN" not in os.environ


def test_a_stored_token_reaches_a_watcher_started_as_its_own_process(
        github: FakeGitHub, crashes: Path, tmp_path: Path) -> None:
    store = tmp_path / "keyring.json"
    env = {**os.environ, "GITHUB_API_URL": github.url, "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.fakes.keyrings.FileKeyring", "CRASHFIX_TEST_KEYRING": str(store)}
    env.pop("GITHUB_TOKEN", None)
    login = subprocess.run([sys.executable, "-m", "crashfix", "login", "--token-stdin"], input=TOKEN + "\n",
                           env=env, capture_output=True, text=True, timeout=120)
    assert login.returncode == 0, login.stderr
    assert "stored the token of crashfix-bot" in login.stdout and TOKEN not in login.stdout + login.stderr
    watch = subprocess.run([sys.executable, "-m", "crashfix", "watch", str(crashes), "--once", "--repo", REPO,
                            "--config", str(config(tmp_path))], env=env, capture_output=True, text=True, timeout=300)
    assert watch.returncode == 0, watch.stderr
    assert len(github.issues) == 1

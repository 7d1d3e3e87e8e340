"""`crashfix login` / `crashfix logout` through the real `keyring` API, over a test backend (never the OS
store); the token is checked with the fake GitHub through the real client before it is stored."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import keyring
import pytest

from crashfix.cli import main
from crashfix.github import credentials
from tests.fakes.github_server import FakeGitHub
from tests.fakes.keyrings import MemoryKeyring

TOKEN = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        yield fake


@pytest.fixture
def store() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def login(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], token: str,
          *args: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    code = main(["login", "--token-stdin", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_login_checks_the_token_stores_it_and_logout_removes_it(
        github: FakeGitHub, store: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    code, said = login(monkeypatch, capsys, f"  {TOKEN}  ")
    assert code == 0, said
    assert said.startswith("stored the token of crashfix-bot for 127.0.0.1:") and TOKEN not in said
    assert "keyrings MemoryKeyring" in said and "when GITHUB_TOKEN is not set" in said
    assert store.entries == {(credentials.SERVICE, credentials.account(os.environ)): TOKEN}
    assert [(r.method, r.path) for r in github.requests] == [("GET", "/user")]
    assert credentials.find_token(os.environ).token == TOKEN
    monkeypatch.setenv("GITHUB_TOKEN", "from-the-environment")  # the environment always wins
    assert credentials.find_token(os.environ).source == "GITHUB_TOKEN"
    assert main(["logout"]) == 0
    assert "removed the token for 127.0.0.1:" in capsys.readouterr().out and store.entries == {}
    assert main(["logout"]) == 0 and "no token was stored" in capsys.readouterr().out


def test_a_token_github_rejects_is_not_stored(github: FakeGitHub, store: MemoryKeyring,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    code, said = login(monkeypatch, capsys, "github_pat_typo")
    assert code == 77 and "GitHub rejected this token (401); nothing was stored" in said
    assert store.entries == {} and len(said.strip().splitlines()) == 1
    code, said = login(monkeypatch, capsys, "two words")
    assert code == 1 and "not a GitHub token" in said and store.entries == {}


def test_an_unreachable_github_stores_with_a_warning(store: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, said = login(monkeypatch, capsys, TOKEN)  # GITHUB_API_URL: a closed port
    assert code == 0
    assert said.startswith("stored the token for 127.0.0.1:")
    assert "warning: not checked with GitHub: could not reach GitHub" in said
    assert list(store.entries.values()) == [TOKEN]


def test_no_credential_store_says_where_a_server_keeps_the_token(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.url)  # conftest: the `fail` backend, as on a headless Linux server
    code, said = login(monkeypatch, capsys, TOKEN)
    assert code == 1 and len(said.strip().splitlines()) == 1
    assert "no OS credential store can be used here" in said and "/etc/crashfix/crashfix.env" in said
    assert main(["logout"]) == 1 and "no OS credential store" in capsys.readouterr().err


def test_tokens_are_kept_per_github(store: MemoryKeyring) -> None:
    github_com = credentials.account({})
    enterprise = credentials.account({"GITHUB_API_URL": "https://ghe.example.com/api/v3"})
    assert (github_com, enterprise) == ("github-token@api.github.com", "github-token@ghe.example.com")
    store.set_password(credentials.SERVICE, enterprise, "ghe-token")
    assert credentials.find_token({}).token is None
    assert credentials.find_token({"GITHUB_API_URL": "https://ghe.example.com/api/v3"}).token == "ghe-token"

"""The split workflow's jobs run through the real CLI in this process: each with the token GitHub would
give it (the gate: issues write; the fix job: contents and issues read; the deliver job: write), a
private origin over git smart-HTTP that checks those tokens, and the fake GitHub refusing what a
token may not do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.git_http import GitHttpServer
from tests.fakes.github_server import WRITE_METHODS, FakeGitHub, RecordedRequest
from tests.fixer.helpers import API_KEY, git, run_cli

GATE_TOKEN = "ghs_gateJobToken000000000000000000000"
READ_TOKEN = "ghs_fixJobReadOnly0000000000000000000"
WRITE_TOKEN = "ghs_deliverJobWrite000000000000000000"
JOB_PERMISSIONS = {
    GATE_TOKEN: {"contents": "read", "issues": "write"},
    READ_TOKEN: {"contents": "read", "issues": "read", "pull_requests": "read"},
    WRITE_TOKEN: {"contents": "write", "issues": "write", "pull_requests": "write"},
}


@dataclass
class Split:
    github: FakeGitHub
    origin: Path  # the bare repository git serves
    checkout: Path  # the self-hosted runner's checkout
    tmp: Path
    url: str  # git's URL of the repository

    def writes_with(self, token: str) -> list[RecordedRequest]:
        return [r for r in self.github.requests_with_token(token) if r.method in WRITE_METHODS]

    def event(self, action: str, sender: str, label: str | None = None) -> dict[str, str]:
        payload: dict[str, object] = {"action": action, "sender": {"login": sender}}
        if label:
            payload["label"] = {"name": label}
        path = self.tmp / f"event-{action}-{sender}.json"
        path.write_text(json.dumps(payload))
        return {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": "issues"}

    def environment(self, token: str, anthropic_url: str | None, **extra: str) -> dict[str, str]:
        env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": self.github.url, "GITHUB_REPOSITORY": "acme/worldserver",
               "CRASHFIX_STATE_DIR": str(self.tmp / "fix-state"), **extra}
        if anthropic_url is not None:
            env.update(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=anthropic_url)
        return env

    def gate(self, monkeypatch: pytest.MonkeyPatch, number: int, trigger: dict[str, str]) -> int:
        env = self.environment(GATE_TOKEN, None, **trigger)
        return run_cli(monkeypatch, ["gate", "--issue", str(number), "--checkout", str(self.checkout), "--announce"],
                       env)

    def fix(self, monkeypatch: pytest.MonkeyPatch, number: int, anthropic_url: str, trigger: dict[str, str],
            bundle: Path, **extra: str) -> int:
        env = self.environment(READ_TOKEN, anthropic_url, **trigger, **extra)
        return run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(self.checkout),
                                     "--bundle-out", str(bundle)], env)

    def deliver(self, monkeypatch: pytest.MonkeyPatch, number: int, bundle: Path, token: str = WRITE_TOKEN,
                fix_result: str | None = None, **extra: str) -> int:
        fresh = self.tmp / "deliver-checkout"
        if not fresh.exists():
            git(self.tmp, "clone", "-q", str(self.origin), str(fresh))  # the default branch, for the config
        for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        env = self.environment(token, None, **extra)
        args = ["deliver", "--bundle", str(bundle), "--issue", str(number), "--checkout", str(fresh)]
        return run_cli(monkeypatch, [*args, *(["--fix-result", fix_result] if fix_result else [])], env)


@contextmanager
def split_setup(github: FakeGitHub, origin: Path, checkout: Path, tmp: Path, token: str) -> Iterator[Split]:
    """The origin served over smart HTTP at acme/worldserver.git, as the checkout's origin and GitHub's clone URL."""
    for job_token, permissions in JOB_PERMISSIONS.items():
        github.actions_token(job_token, permissions)
    # The deliver job's fallback, the workflow's own token, opens the PR only with this setting on (as README says).
    github.actions_can_create_pulls = True
    root = tmp / "git-served"
    served = root / "acme" / "worldserver.git"
    served.parent.mkdir(parents=True)
    shutil.move(str(origin), served)
    github.use_git(served)  # the fake GitHub knows the branches git serves (a PR needs its head and base)
    with GitHttpServer(root, token, github=github) as server:
        url = f"{server.url}/acme/worldserver.git"
        github.clone_url = url
        git(checkout, "remote", "set-url", "origin", url)
        yield Split(github, served, checkout, tmp, url)

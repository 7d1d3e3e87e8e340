"""A fix session wired to real MCP tool servers (tests/fixer/mcp_test_server.py, started as processes)
and to the fake Anthropic API through the real SDK, over a real git checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from crashfix.config import BudgetSettings, ToolServerSettings
from crashfix.fixer.agent.budget import Budget
from crashfix.fixer.agent.claude import ClaudeClient
from crashfix.fixer.agent.pricing import load_prices
from crashfix.fixer.agent.session import FixSession
from crashfix.fixer.agent.toolservers import ToolServers, start_tool_servers
from crashfix.fixer.checkout.gitops import Git
from crashfix.fixer.checkout.workspace import Workspace
from crashfix.fixer.job import secret_values
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fixer.helpers import API_KEY

SERVER = Path(__file__).with_name("mcp_test_server.py")
MODEL = "claude-sonnet-5-5"
# What the runner's environment holds that no tool server may see.
PLANTED = {"GITHUB_TOKEN": "ghs_plantedgithubtoken0123456789", "ANTHROPIC_API_KEY": API_KEY,
           "DEPLOY_PASSWORD": "planted-deploy-password-42", "INPUT_GITHUB-TOKEN": "ghs_plantedactioninput987654",
           "KB_TOKEN": "planted-kb-token-for-the-server"}
PLAYER = "void Player::Update(uint32_t diff)\n{\n    Unit* target = GetTarget();\n    target->DealDamage(1);\n}\n"
FINISH = dict(status="cannot_fix", root_cause="the target can be null", explanation="frame #0 dereferences it",
              confidence="low", risk="low", guard_only=False)
FIXED = {**FINISH, "status": "fixed", "fix_summary": "check the target", "confidence": "high"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def checkout(root: Path) -> Path:
    """A committed checkout with a source file and a workflow, as a fix run starts from."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text(PLAYER)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "game")
    return root


def entry(name: str = "kb", tools: tuple[str, ...] = ("lookup", "slow", "broken", "huge", "save_note", "touch",
                                                     "write_later", "die"), **settings: Any) -> ToolServerSettings:
    return ToolServerSettings.model_validate({"name": name, "command": sys.executable, "args": [str(SERVER)],
                                              "tools": list(tools), **settings})


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, **PLANTED, **extra}


class Rig:
    """Servers started like a run starts them, and a FixSession using them; `close` stops both."""

    def __init__(self, fake: FakeAnthropic, repo: Path, entries: list[ToolServerSettings],
                 environ: dict[str, str] | None = None, clock: Callable[[], float] = time.monotonic,
                 **limits: Any) -> None:
        self.environ = environ or environment()
        self.workspace = Workspace(repo)
        self.git = Git(repo, self.environ)
        servers = start_tool_servers(tuple(entries), self.workspace, self.git, self.environ,
                                     secret_values(self.environ))
        assert servers is not None
        self.servers: ToolServers = servers
        self.pids = servers.hub.pids()
        self.client = ClaudeClient(API_KEY, fake.url, strict=True)
        settings = BudgetSettings.model_validate({"max_cost_usd": 5.0, **limits})
        self.budget = Budget(settings, MODEL, load_prices().price(MODEL), clock=clock)
        self.events: list[str] = []  # what the progress comment would show
        self.session = FixSession(self.client, self.workspace, self.budget, MODEL, servers=servers,
                                  on_event=self.events.append)

    def close(self) -> None:
        self.servers.close()
        self.client.close()


def results(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tool results of the newest user message, by the called tool's name."""
    names = {block["id"]: block["name"] for message in request["messages"] if message["role"] == "assistant"
             for block in message["content"] if block.get("type") == "tool_use"}
    return {names[block["tool_use_id"]]: block for block in request["messages"][-1]["content"]
            if block.get("type") == "tool_result"}


def alive(pids: list[int]) -> list[int]:
    """The pids that still run (zombies, already dead, count as gone)."""
    living = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.append(pid)
        except psutil.NoSuchProcess:
            pass
    return living


def read_pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(json.loads(path.read_text()).values())

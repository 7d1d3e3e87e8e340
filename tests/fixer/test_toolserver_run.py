"""Tool servers in a whole `crashfix fix` run: configured in `.github/crashfix.toml` as a user writes it,
started at the model loop's start, stopped at its end whatever ends it (an answer, a write the jail
refuses, Ctrl+C), and listed in the PR body and the sticky comment's hidden state.

The local runs build with small Python commands (no compiler needed); the last test is the full loop
on the real game server (cmake, gdb, the uploader, the fake GitHub).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from crashfix.fixer.agent.claude import ModelReply, ModelRequest
from crashfix.fixer.job import FixJob, FixOptions, build_job
from crashfix.fixer.report import pr_body, render_state
from crashfix.fixer.run import run_fix
from crashfix.issues.progress import read_state
from crashfix.issues.record import parse_record, replace_record
from tests.conftest import FIXTURES, ROOT
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import API_KEY, TOKEN, crash_for_real, file_crash, fix_environment, game_repository, run_cli
from tests.fixer.toolserver_rig import PLANTED, SERVER, alive, git, read_pids

EXAMPLE_CRASH = ROOT / "crashfix" / "examples" / "worldserver-null-target.gdb.txt"
NULL_CHECK = {"path": "src/Player.cpp", "old_text": "    Unit* target = GetTarget();\n",
              "new_text": "    Unit* target = GetTarget();\n    if (!target)\n        return;\n"}
FIXED = dict(status="fixed", root_cause="Player::Update attacks without a target", explanation="frame #1",
             fix_summary="players without a target do not attack", confidence="high", risk="low", guard_only=False)
MCP = """
[[fix.mcp]]
name = "kb"
command = '{python}'
args = ['{server}']
tools = ["lookup", "touch"]
timeout_seconds = 30
env = {{ MCP_TEST_PID_FILE = '{pids}', MCP_TEST_ENV_DUMP = '{dump}' }}
"""
LOCAL_CONFIG = """\
[fix]
build = [['{python}', '-c', 'print("built")']]
test = [['{python}', '-c', 'print("tested")']]

[fix.budget]
max_turns = 8
max_cost_usd = 2.0
"""


def mcp_section(tmp_path: Path) -> str:
    return MCP.format(python=sys.executable, server=SERVER, pids=tmp_path / "pids.json", dump=tmp_path / "env.json")


def local_checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    shutil.copytree(FIXTURES / "gameserver", root)
    (root / ".github").mkdir()
    (root / ".github" / "crashfix.toml").write_text(LOCAL_CONFIG.format(python=sys.executable) + mcp_section(tmp_path))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "game")
    return root


def local_job(fake: FakeAnthropic, tmp_path: Path) -> FixJob:
    environ = {**fix_environment(None, fake.url, tmp_path), **PLANTED, "ANTHROPIC_API_KEY": API_KEY,
               "PATH": os.environ["PATH"]}
    return build_job(FixOptions(checkout=local_checkout(tmp_path), local=True, report=EXAMPLE_CRASH), environ)


def test_a_local_run_uses_the_server_and_lists_its_calls(fake: FakeAnthropic, tmp_path: Path) -> None:
    def first(request: dict[str, Any]) -> Turn:
        assert "kb__lookup" in [tool["name"] for tool in request["tools"]]
        return Turn([tool_use("kb__lookup", {"name": "Player::GetTarget"})])

    fake.enqueue(first, Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    outcome = run_fix(local_job(fake, tmp_path))
    assert outcome.status == "local", outcome.reason
    assert outcome.tool_servers is not None and outcome.tool_servers.servers["kb"] == "2 tool(s) offered"
    assert [(call.tool, call.status) for call in outcome.tool_servers.calls] == [("lookup", "ok")]
    body = pr_body(outcome)
    assert "<summary>Tool servers: 1 call(s)" in body and "| 1 | `kb__lookup` |" in body
    state = read_state(render_state(outcome))
    assert state is not None and state["tool_servers"] == {"kb": {"calls": 1, "errors": 0,
                                                                  "seconds": outcome.tool_servers.calls[0].seconds}}
    assert state["tool_server_calls"][0][:1] == ["kb__lookup"]  # type: ignore[index]
    assert alive(read_pids(tmp_path / "pids.json")) == []  # stopped at the end of the model loop
    seen = (tmp_path / "env.json").read_text()
    assert all(value not in seen for value in (API_KEY, PLANTED["GITHUB_TOKEN"], PLANTED["DEPLOY_PASSWORD"]))


def test_a_write_the_server_may_not_make_stops_the_run_before_the_build(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.enqueue(Turn([tool_use("kb__touch", {"path": "src/Player.cpp"})]), Turn([tool_use("finish", FIXED)]))
    job = local_job(fake, tmp_path)
    outcome = run_fix(job)
    assert outcome.status == "needs-human"
    assert "the tool server kb changed src/Player.cpp during kb__touch" in outcome.reason
    assert outcome.rounds == [] and outcome.changed_files == [] and outcome.commit is None  # not built, not committed
    assert outcome.tool_servers is not None and len(outcome.tool_servers.calls) == 1
    assert alive(read_pids(tmp_path / "pids.json")) == []


class Interrupted:
    """A model call interrupted by Ctrl+C."""

    def call(self, request: ModelRequest, *, timeout: float) -> ModelReply:
        raise KeyboardInterrupt


def test_ctrl_c_in_the_model_loop_still_stops_the_servers(fake: FakeAnthropic, tmp_path: Path) -> None:
    job = local_job(fake, tmp_path)
    job.model = Interrupted
    with pytest.raises(KeyboardInterrupt):
        run_fix(job)
    pids = read_pids(tmp_path / "pids.json")
    assert len(pids) == 2 and alive(pids) == []


@pytest.mark.tools
def test_a_real_crash_fixed_with_a_tool_server_lists_its_calls_on_github(
        fake: FakeAnthropic, tmp_path: Path, crash_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixer.helpers import FIX_CONFIG

    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as github:
        origin, checkout = game_repository(tmp_path, FIX_CONFIG + mcp_section(tmp_path))
        github.use_git(origin)
        number = file_crash(github, tmp_path, crash_text)
        record = parse_record(github.issues[number]["body"])  # as an uploader with share_paths records it
        assert record is not None
        record.dump_path = "\\\\gamehost\\Crashes\\worldserver.dmp"
        github.issues[number]["body"] = replace_record(github.issues[number]["body"], record)

        def first(request: dict[str, Any]) -> Turn:
            task = request["messages"][0]["content"][-1]["text"]
            assert "The crash dump is at `\\\\gamehost\\Crashes\\worldserver.dmp`" in task
            return Turn([tool_use("kb__lookup", {"name": "Player::GetTarget"}),
                         tool_use("read_file", {"path": "src/Player.cpp"})])

        fake.enqueue(first, Turn([tool_use("edit", NULL_CHECK)]), Turn([tool_use("finish", FIXED)]))
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"action": "opened", "sender": {"login": "crashfix-bot"}}))
        env = fix_environment(github, fake.url, tmp_path, GITHUB_EVENT_PATH=str(event), GITHUB_EVENT_NAME="issues")
        assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], env) == 0
        [pull] = list(github.pulls)
        body = github.pull(pull)["body"]
        assert "| 1 | ✅ passed | ✅ passed |" in body  # built and tested for real
        assert "<summary>Tool servers: 1 call(s)" in body and "`kb__lookup`" in body and "- **kb**: 2 tool(s)" in body
        sticky = next(c["body"] for c in github.comments[number] if "crashfix:progress" in c["body"])
        state = read_state(sticky)
        assert state is not None and state["tool_servers"]["kb"]["calls"] == 1  # type: ignore[index]
        seen = (tmp_path / "env.json").read_text()
        assert TOKEN not in seen and API_KEY not in seen
        assert alive(read_pids(tmp_path / "pids.json")) == []
        assert "SIGSEGV" not in crash_for_real(checkout / "build", "combat")

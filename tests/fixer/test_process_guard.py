"""A build started by `crashfix fix` cannot read the secrets from crashfix's own process.

Scrubbing the build's environment is not enough: on Linux a same-user build can read
`/proc/<pid>/environ` of crashfix, the environment crashfix started with. This runs the real CLI
as a separate process with the API key in its starting environment (as Actions starts it), and a
build step that copies the environment of its parent (the reaper that contains the step, started
with the scrubbed environment) and of its grandparent (crashfix) into the checkout. When the suite runs as
root, crashfix runs with every capability dropped (still uid 0), like a runner account: root's
capabilities would let it read any process's files, which is not what is being tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fixer.helpers import API_KEY, game_repository
from tests.locate.test_locate import GDB

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")

LEAKY_CONFIG = """\
[fix]
model = "claude-sonnet-5-5"
build = [["sh", "-c", "cat /proc/$PPID/environ > parent-environ.bin; gp=$(awk '{print $4}' /proc/$PPID/stat); cat /proc/$gp/environ > crashfix-environ.bin 2> crashfix-environ.err; true"]]
test = [["true"]]

[fix.budget]
max_turns = 4
max_cost_usd = 1.0
"""
EDIT = {"path": "src/Player.cpp", "old_text": "    Unit* target = GetTarget();\n",
        "new_text": "    Unit* target = GetTarget();\n    if (!target)\n        return;\n"}
FINISH = {"status": "fixed", "root_cause": "null target", "explanation": "frame #0", "fix_summary": "guard",
          "confidence": "high", "risk": "low", "guard_only": True}


def as_runner() -> list[str]:
    """The command prefix that takes root's capabilities away (setpriv, util-linux), or none for a plain user."""
    if os.geteuid() != 0:
        return []
    require_tools("setpriv")
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]


def test_the_build_cannot_read_the_environment_crashfix_started_with(tmp_path: Path) -> None:
    _, checkout = game_repository(tmp_path, LEAKY_CONFIG)
    crash = tmp_path / "crash.txt"
    crash.write_text(GDB)
    with FakeAnthropic(api_key=API_KEY) as anthropic:
        anthropic.enqueue(Turn([tool_use("edit", EDIT), tool_use("finish", FINISH)]))
        env = {**os.environ, "ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": anthropic.url,
               "CRASHFIX_STATE_DIR": str(tmp_path / "state"), "CRASHFIX_CACHE_DIR": str(tmp_path / "cache"),
               "HOME": str(tmp_path), "GIT_CONFIG_GLOBAL": os.devnull}
        done = subprocess.run([*as_runner(), sys.executable, "-m", "crashfix", "fix", "--local", "--report",
                               str(crash), "--checkout", str(checkout)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (checkout / "crashfix-environ.err").exists()  # the build step really ran
    reaper = (checkout / "parent-environ.bin").read_bytes()
    assert b"PATH=" in reaper and API_KEY.encode() not in reaper  # readable, and only the scrubbed environment
    assert API_KEY.encode() not in (checkout / "crashfix-environ.bin").read_bytes()
    assert "Permission denied" in (checkout / "crashfix-environ.err").read_text()

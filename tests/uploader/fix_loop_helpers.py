"""Pieces for the fix-watch tests: a repository history the fake GitHub serves, the uploader's config with
its `[uploader.server]` section, and a stand-in game server process (a copy of `sleep` by the server's name)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import require_tools
from tests.fakes.git_history import GitHistory
from tests.uploader.helpers import REPO

GAME = {
    "src/server/game/Game.cpp": "void Spell::Effect0() { target->Hit(); }\n",
    "src/server/game/Maps/Map.cpp": "void Map::Update() { for (auto* s : spells) s->Effect0(); }\n",
    "src/server/game/Maps/MapUpdater.cpp": "void MapUpdater::WorkerThread() { map->Update(); }\n",
    "src/server/game/Spells/Spell.cpp": "int Spell::Damage() { return 10; }\n",
    "src/tools/Game.cpp": "int main() { return 0; }\n",
    "README.md": "The game server.\n",
}


def game_history(tmp_path: Path) -> tuple[GitHistory, str]:
    """The game server's repository, first commit on main; returns (history, that commit)."""
    history = GitHistory(tmp_path / "repo")
    return history, history.commit("Game server", GAME)


def write_config(tmp_path: Path, *, server: dict[str, object] | None = None, **uploader: object) -> Path:
    values: dict[str, object] = {"repo": REPO, "settle_seconds": 0.1, "retry_initial_seconds": 0.1,
                                 "retry_max_seconds": 0.5, "once_give_up_seconds": 20, "host_name": "realm-1",
                                 "host_id": "host-a",
                                 "write_interval_seconds": 0.0}
    values.update(uploader)
    lines = ["[uploader]", *(f"{key} = {_toml(value)}" for key, value in values.items()),
             "[uploader.cdb]", "enabled = false"]
    if server:
        lines += ["[uploader.server]", *(f"{key} = {_toml(value)}" for key, value in server.items())]
    path = tmp_path / "crashfix.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class GameServer:
    """A process named like the game server (a copy of `sleep`, on Windows of `ping`), started and stopped as
    the host would."""

    def __init__(self, folder: Path, name: str = "worldserver") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if os.name == "nt":  # pragma: no cover - Windows hosts
            source = Path(os.environ.get("SystemRoot", "C:/Windows")) / "System32" / "PING.EXE"
            self.binary, self.args = folder / f"{name}.exe", ["-n", "600", "127.0.0.1"]
        else:
            require_tools("sleep")
            source, self.binary, self.args = Path(shutil.which("sleep") or "sleep"), folder / name, ["600"]
        shutil.copy(source, self.binary)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        self.process = subprocess.Popen([str(self.binary), *self.args], stdout=subprocess.DEVNULL)
        return self.process.pid

    def crash(self) -> None:
        """The server dies (as a crash ends it)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

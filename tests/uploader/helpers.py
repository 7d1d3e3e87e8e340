"""Shared pieces for the uploader tests: crash files, an uploader wired to the fake GitHub."""

from __future__ import annotations

import os
import time
from pathlib import Path

from crashfix.analysis.analyze import rules_for
from crashfix.config import AnalysisSettings, CdbSettings, UploaderSettings
from crashfix.github.api import GitHubClient
from crashfix.uploader.filing import Filer
from crashfix.uploader.pipeline import Uploader
from crashfix.uploader.spool import Spool

REPO = "acme/worldserver"
TOKEN = "test-token"


def gdb_crash(function: str, variant: int = 0, caller: str = "Map::Update") -> str:
    """A real-looking gdb backtrace; `variant` changes addresses only (same signature, new content)."""
    base = 0x55D1C2000000 + variant * 0x1000
    return (
        "Program terminated with signal SIGSEGV, Segmentation fault.\n"
        f"#0  {base + 0x4f5:#018x} in {function} (this=0x0, diff=50) at /srv/src/server/game/Game.cpp:{100 + variant}\n"
        f"#1  {base + 0x9f5:#018x} in {caller} (this=0x1, t_diff=50) at /srv/src/server/game/Maps/Map.cpp:700\n"
        f"#2  {base + 0xaf5:#018x} in MapUpdater::WorkerThread (this=0x2) at /srv/src/server/game/Maps/MapUpdater.cpp:118\n"
    )


def write_crashes(folder: Path, signatures: int, repeats: int, prefix: str = "crash") -> list[Path]:
    """`repeats` distinct crash files (different content) for each of `signatures` signatures."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    offset = sum(map(ord, prefix)) * 1000
    for signature in range(signatures):
        for repeat in range(repeats):
            path = folder / f"{prefix}-{signature}-{repeat}.txt"
            path.write_text(gdb_crash(f"Spell::Effect{signature}", offset + repeat), encoding="utf-8")
            old = time.time() - 5  # written a while ago: complete
            os.utime(path, (old, old))
            written.append(path)
    return written


def settings(state: Path, **overrides: object) -> UploaderSettings:
    values: dict[str, object] = dict(
        repo=REPO, state_dir=state, settle_seconds=0.05, write_interval_seconds=0.0, retry_initial_seconds=0.05,
        retry_max_seconds=0.2, once_give_up_seconds=5.0, comment_interval_seconds=3600.0,
        cdb=CdbSettings(enabled=False), host_name="realm-1",
    )
    values.update(overrides)
    return UploaderSettings(**values)  # type: ignore[arg-type]


def make_uploader(state: Path, api_url: str, token: str = TOKEN, environ: dict[str, str] | None = None,
                  **overrides: object) -> Uploader:
    config = settings(state, **overrides)
    spool = Spool(state / "spool.sqlite3")

    def connect() -> Filer:
        client = GitHubClient(base_url=api_url, token=token, write_interval=config.write_interval_seconds, retries=2,
                              max_rate_wait=10)
        return Filer(client.repository(REPO), spool, config, config.host_name or "realm-1", time.time)

    return Uploader(config, spool, connect, environ or dict(os.environ), rules_for(AnalysisSettings()))

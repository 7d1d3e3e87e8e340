"""Running the real `crashfix` command line against the fake GitHub, as an operator would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from crashfix.issues.record import IssueRecord, find_signature, parse_record
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import REPO, TOKEN, write_crashes


def config_file(tmp_path: Path, **overrides: object) -> Path:
    values: dict[str, object] = {"repo": REPO, "settle_seconds": 0.1, "retry_initial_seconds": 0.1,
                                 "retry_max_seconds": 0.5, "once_give_up_seconds": 20}
    values.update(overrides)
    lines = ["[uploader]"] + [f"{key} = {value!r}".replace("'", '"') for key, value in values.items()]
    lines += ["[uploader.cdb]", "enabled = false"]
    path = tmp_path / "crashfix.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env(github: FakeGitHub) -> dict[str, str]:
    return {**os.environ, "GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}


def crashfix(*args: str, github: FakeGitHub, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "crashfix", *args], env=cli_env(github), text=True,  # type: ignore[call-overload]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def run(*args: str, github: FakeGitHub, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One `crashfix` command to its end."""
    return subprocess.run([sys.executable, "-m", "crashfix", *args], env=cli_env(github), text=True,
                          capture_output=True, timeout=timeout)


def watch_once(github: FakeGitHub, folder: Path, state: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """`crashfix watch --once` that must succeed, without a traceback."""
    done = run("watch", str(folder), "--once", "--config", str(config), "--state-dir", str(state), github=github)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def filed_before(github: FakeGitHub, tmp_path: Path, signatures: int, repeats: int) -> tuple[Path, Path, Path]:
    """Crashes filed by an earlier run: (crash folder, state folder, config file)."""
    folder, state, config = tmp_path / "crashes", tmp_path / "state", config_file(tmp_path)
    write_crashes(folder, signatures=signatures, repeats=repeats)
    watch_once(github, folder, state, config)
    return folder, state, config


def crash_issues(github: FakeGitHub) -> dict[int, dict]:
    with github.lock:
        return {number: dict(issue) for number, issue in github.issues.items() if find_signature(issue.get("body"))}


def record_of(github: FakeGitHub, number: int) -> IssueRecord:
    with github.lock:
        record = parse_record(github.issues[number]["body"])
    assert record is not None, f"#{number} has no readable record"
    return record


def occurrences(github: FakeGitHub) -> list[int]:
    records = [parse_record(i["body"]) for i in crash_issues(github).values()]
    return sorted(r.occurrences for r in records if r is not None)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0,
             process: subprocess.Popen[str] | None = None) -> None:
    """Poll until `condition()` is true; fail with `what` (and the process's stderr if it died)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process ended ({process.returncode}): {process.communicate()[1]}")
        assert time.monotonic() < deadline, f"{what} (not within {timeout:.0f} s)"
        time.sleep(0.1)


def spool_rows(state: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(str(state / "spool.sqlite3"), timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM crashes ORDER BY id").fetchall()
    finally:
        db.close()

"""The loop closed, through the real CLI: crashes tied to the build that crashed, a merged fix watched.

The repository is real git (served by the fake GitHub: commits, comparisons, the merge commit
that closes the issue); `crashfix watch` runs as operators run it, the server's revision comes
from `[uploader.server] revision_file`, and its uptime from a real process named like the
server. Windows are short config values (a fix verified after 0.0006 h), not a faked clock.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.issues.record import parse_record
from tests.fakes.git_history import GitHistory
from tests.fakes.github_server import FakeGitHub
from tests.uploader.fix_loop_helpers import GameServer, game_history, write_config
from tests.uploader.helpers import REPO, gdb_crash
from tests.uploader.process_helpers import crashfix, record_of, run, wait_for, watch_once


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def crash_file(folder: Path, name: str, variant: int, age: float = 2.0) -> Path:
    """A crash of Spell::Effect0 (same signature each time, new content), written `age` seconds ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text(gdb_crash("Spell::Effect0", variant), encoding="utf-8")
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def labels(github: FakeGitHub, number: int) -> set[str]:
    with github.lock:
        return {label["name"] for label in github.issues[number]["labels"]}


def comments(github: FakeGitHub, number: int) -> list[str]:
    with github.lock:
        return [comment["body"] for comment in github.comments[number]]


def merge_fix(github: FakeGitHub, history: GitHistory, number: int, start: str) -> str:
    """A developer's fix on a branch, its pull request ("Fixes #N") merged: returns the merge commit."""
    history.branch("fix-target", start)
    history.commit("Check the target before hitting it", {"src/server/game/Game.cpp":
                                                          "void Spell::Effect0() { if (target) target->Hit(); }\n"},
                   branch="fix-target")
    pull = github.seed_pull("Check the target", f"Fixes #{number}", head="fix-target", user="developer")
    github.close_pull(pull["number"], merged=True, user="maintainer")
    with github.lock:
        merged = github.pulls[pull["number"]]["merge_commit_sha"]
    assert github.issues[number]["state"] == "closed"
    return merged


def test_a_merged_fix_is_watched_on_builds_without_it_and_with_it(github: FakeGitHub, tmp_path: Path) -> None:
    history, old = game_history(tmp_path)
    github.use_git(history.origin)
    revision = tmp_path / "revision.txt"
    revision.write_text(f"{old[:12]}\n")  # as a build script writes it: a short commit id
    config = write_config(tmp_path, server={"revision_file": str(revision)})
    folder, state = tmp_path / "crashes", tmp_path / "state"
    crash_file(folder, "first", 0)
    watch_once(github, folder, state, config)
    [number] = list(github.issues)
    record = record_of(github, number)
    assert record.revisions == {old: 1} and record.first_revision == old  # the short id resolved once
    assert "Revisions" in github.issues[number]["body"] and old[:12] in github.issues[number]["body"]

    fix = merge_fix(github, history, number, old)

    crash_file(folder, "stale-1", 1)  # the host still runs the old build: not the fix's failure
    watch_once(github, folder, state, config)
    record = record_of(github, number)
    assert record.fix is not None and (record.fix.commit, record.fix.source, record.fix.status) == (
        fix, "closed", "awaiting")
    assert record.fix.without_fix == 1 and record.fix.with_fix == 0
    assert github.issues[number]["state"] == "closed" and "crashfix:fix-ineffective" not in labels(github, number)
    [said] = comments(github, number)
    assert "does not contain the fix" in said and fix[:12] in said and "not reopened" in said
    crash_file(folder, "stale-2", 2)
    watch_once(github, folder, state, config)
    assert record_of(github, number).fix.without_fix == 2  # type: ignore[union-attr]
    assert len(comments(github, number)) == 1  # at most one such comment per interval

    newer = history.follow("main")
    newer = history.commit("Spells: faster damage", {"src/server/game/Spells/Spell.cpp": "int Spell::Damage() "
                                                     "{ return 11; }\n"})
    revision.write_text(f"{newer[:12]}\n")  # the host deploys a build that contains the fix
    crash_file(folder, "again", 3)
    before = len(github.requests)
    watch_once(github, folder, state, config)
    issue = github.issues[number]
    assert issue["state"] == "open" and "crashfix:fix-ineffective" in labels(github, number)
    record = record_of(github, number)
    assert record.fix.status == "ineffective" and record.fix.ineffective_revision == newer  # type: ignore[union-attr]
    assert record.revisions == {old: 3, newer: 1}
    last = comments(github, number)[-1]
    assert "contains the fix" in last and newer[:12] in last and fix[:12] in last and "again.txt" in last
    assert f"{github.html_repo}/commit/{fix}" in last  # a link to the fix
    calls = [r.path for r in github.requests[before:] if "/commits/" in r.path or "/compare/" in r.path]
    assert calls == [f"/repos/{REPO}/commits/{newer[:12]}", f"/repos/{REPO}/compare/{fix}...{newer}"]
    with github.lock:
        events = [(event["event"], event["actor"]["login"]) for event in github.events[number]]
    # reopened by the uploader's account (the fix workflow starts a new run for that), then labelled
    assert events[-2:] == [("reopened", "crashfix-bot"), ("labeled", "crashfix-bot")]


def test_a_fix_without_recurrence_for_the_window_is_verified(github: FakeGitHub, tmp_path: Path) -> None:
    history, old = game_history(tmp_path)
    github.use_git(history.origin)
    revision = tmp_path / "revision.txt"
    revision.write_text(old)
    folder, state = tmp_path / "crashes", tmp_path / "state"
    crash_file(folder, "first", 0)
    quick = {"revision_file": str(revision), "process": "worldserver", "sample_seconds": 0.2}
    config = write_config(tmp_path, server=quick, verify_after_hours=0.0006, fix_watch_interval_seconds=0.5)
    watch_once(github, folder, state, config)
    [number] = list(github.issues)
    fix = merge_fix(github, history, number, old)
    revision.write_text(history.follow("main"))  # the fixed build is deployed and runs
    server = GameServer(tmp_path / "server")
    pid = server.start()
    watcher = crashfix("watch", str(folder), "--config", str(config), "--state-dir", str(state), github=github)
    try:
        wait_for(lambda: "crashfix:verified-fixed" in labels(github, number), "the fix was not verified",
                 timeout=90, process=watcher)
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(30)
        server.crash()
    record = record_of(github, number)
    assert record.fix is not None and record.fix.status == "verified" and record.fix.commit == fix
    assert record.fix.verified_hours is not None and record.fix.verified_hours >= 0.0006
    merge = history.head()
    assert record.uptime["host-a"][merge] >= 0.0006  # this host's hours per revision, summarised in the record
    said = [body for body in comments(github, number) if "No recurrence" in body]
    assert len(said) == 1 and fix[:12] in said[0] and merge[:12] in said[0]
    assert github.issues[number]["state"] == "closed"  # verified, still closed
    db = sqlite3.connect(str(state / "spool.sqlite3"))
    runs = db.execute("SELECT pid, revision, last_seen - started FROM server_runs").fetchall()
    db.close()
    assert [(found, rev) for found, rev, _ in runs] == [(pid, merge)]
    assert runs[0][2] >= 0.0006 * 3600  # the server really ran that long, as psutil saw it
    status = run("status", "--state-dir", str(state), github=github).stdout
    assert f"server:       pid {pid}, revision {merge}" in status and "fixes:        verified 1" in status


def test_a_new_signature_after_clean_uptime_lists_the_commit_that_touched_its_file(
        github: FakeGitHub, tmp_path: Path) -> None:
    history, clean = game_history(tmp_path)
    spells = history.commit("Spells: tune damage", {"src/server/game/Spells/Spell.cpp": "int Spell::Damage() "
                                                    "{ return 12; }\n"})
    culprit = history.commit("Game: hit the cached target", {"src/server/game/Game.cpp": "void Spell::Effect0() "
                                                             "{ cached->Hit(); }\n"})
    tools = history.commit("Tools: a Game.cpp of their own", {"src/tools/Game.cpp": "int main() { return 1; }\n"})
    docs = history.commit("Docs", {"README.md": "The game server, faster.\n"})
    github.use_git(history.origin)
    revision = tmp_path / "revision.txt"
    revision.write_text(clean)
    folder, state = tmp_path / "crashes", tmp_path / "state"
    folder.mkdir()
    config = write_config(tmp_path, server={"revision_file": str(revision), "process": "worldserver",
                                            "sample_seconds": 0.2}, suspect_after_hours=0.0005)
    server = GameServer(tmp_path / "server")
    server.start()
    watcher = crashfix("watch", str(folder), "--config", str(config), "--state-dir", str(state), github=github)
    try:
        wait_for(lambda: _hours(state, clean) >= 0.0005 * 3600, "the clean build did not run long enough",
                 process=watcher)
        server.crash()  # a restart with the new build
        revision.write_text(history.head())
        server.start()
        wait_for(lambda: _hours(state, history.head()) > 0, "the new build's run was not seen", process=watcher)
        crash_file(folder, "new-crash", 0, age=0)  # written as the new build's run crashes
        wait_for(lambda: bool(github.issues), "the crash was not filed", process=watcher)
        wait_for(lambda: parse_record(github.issues[1]["body"]) is not None, "no record", process=watcher)
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(30)
        server.crash()
    record = record_of(github, 1)
    assert record.regression is not None
    assert (record.regression.good, record.regression.bad) == (clean, docs)
    assert record.regression.commits_in_range == 4
    assert [s.sha for s in record.regression.suspects] == [culprit]
    assert record.regression.suspects[0].files == ["src/server/game/Game.cpp"]
    body = github.issues[1]["body"]
    assert "### Suspect commits" in body and culprit[:12] in body and "Game: hit the cached target" in body
    listed = [line for line in body.split("### Suspect commits")[1].splitlines() if line.startswith("- ")]
    assert len(listed) == 1 and culprit[:12] in listed[0] and "`src/server/game/Game.cpp`" in listed[0]
    assert not any(other[:12] in body for other in (spells, tools))


def _hours(state: Path, revision: str) -> float:
    path = state / "spool.sqlite3"
    if not path.exists():
        return 0.0
    db = sqlite3.connect(str(path), timeout=30)
    try:
        row = db.execute("SELECT SUM(last_seen - started) FROM server_runs WHERE revision = ?", (revision,)).fetchone()
    except sqlite3.OperationalError:
        return 0.0
    finally:
        db.close()
    return float(row[0] or 0.0)


def test_a_fix_labelled_by_hand_is_watched_too(github: FakeGitHub, tmp_path: Path) -> None:
    history, old = game_history(tmp_path)
    fix = history.commit("Null check, pushed straight to main", {"src/server/game/Game.cpp": "void Spell::Effect0() "
                                                                 "{ if (target) target->Hit(); }\n"})
    github.use_git(history.origin)
    revision = tmp_path / "revision.txt"
    revision.write_text(old)
    config = write_config(tmp_path, server={"revision_file": str(revision)})
    folder, state = tmp_path / "crashes", tmp_path / "state"
    crash_file(folder, "first", 0)
    watch_once(github, folder, state, config)
    [number] = list(github.issues)
    github.set_permission("maintainer", "maintain")
    with github.lock:
        github.edit_issue(number, {"state": "closed"}, actor="maintainer")  # closed by hand: no commit named
    github.label_issue(number, f"fixed-in:{fix[:9]}", "maintainer")
    revision.write_text(fix)
    crash_file(folder, "again", 1)
    watch_once(github, folder, state, config)
    record = record_of(github, number)
    assert record.fix is not None and (record.fix.source, record.fix.commit, record.fix.status) == (
        "label", fix, "ineffective")
    assert github.issues[number]["state"] == "open" and "crashfix:fix-ineffective" in labels(github, number)
    assert "a `fixed-in` label" in github.issues[number]["body"]

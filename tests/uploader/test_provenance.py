"""Which build crashed and which runs: revisions from crash text, a revision file or command, the server
process seen with psutil, short commit ids resolved once through the API, and a token that may not read commits."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_text
from crashfix.config import ServerSettings
from crashfix.github.api import GitHubClient
from crashfix.issues.record import parse_record
from crashfix.uploader.provenance import Commits
from crashfix.uploader.spool import Spool
from crashfix.uploader.uptime import RevisionReader, ServerWatch, UptimeLog, parse_revision
from tests.fakes.github_server import FakeGitHub
from tests.uploader.fix_loop_helpers import GameServer, game_history
from tests.uploader.helpers import REPO, TOKEN, gdb_crash, make_uploader

BANNER = ("2026-05-01 12:00:00 AzerothCore rev. 8bbd1d0c4e1d+ 2026-04-30 09:00:00 +0000 (master branch) "
          "(Unix, RelWithDebInfo, Static) (worldserver-daemon)\n")


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def test_a_version_banner_in_any_crash_text_names_the_build() -> None:
    report = analyze_text(BANNER + gdb_crash("Spell::Effect0"))
    assert report.format.value == "gdb" and report.build is not None
    assert (report.build.product, report.build.revision, report.build.branch) == ("AzerothCore", "8bbd1d0c4e1d+",
                                                                                  "master")
    assert report.build.date == "2026-04-30 09:00:00 +0000"  # the build's date, not the log line's time
    assert analyze_text(gdb_crash("Spell::Effect0")).build is None
    assert analyze_text("Revision: 3f2a9c1d\n" + gdb_crash("Spell::Effect0")).build.revision == "3f2a9c1d"  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "expected"), [
    ("e34c629a654c\n", "e34c629a654c"),
    ("TrinityCore rev. 0123456789ab+ 2026-01-01 (3.3.5 branch)\n", "0123456789ab"),
    ("#define REVISION_HASH \"deadbeefcafe\"\n", "deadbeefcafe"),
    ("v3.3.5-release\nsecond line\n", "v3.3.5-release"),
    ("   \n", None),
])
def test_revision_files_say_it_in_many_ways(text: str, expected: str | None) -> None:
    assert parse_revision(text) == expected


def test_a_revision_command_runs_with_a_timeout_and_without_secrets(tmp_path: Path) -> None:
    script = "import os; print('rev', 'a1b2c3d4e5f6', os.environ.get('GITHUB_TOKEN', 'no-token'))"
    reader = RevisionReader(ServerSettings(revision_command=(sys.executable, "-c", script)),
                            {**os.environ, "GITHUB_TOKEN": "ghp_secretsecretsecret"})
    assert reader.read() == "a1b2c3d4e5f6"
    leak = RevisionReader(ServerSettings(revision_command=(sys.executable, "-c", "import os; print(os.environ.get("
                                                           "'GITHUB_TOKEN', 'none'))")), {"GITHUB_TOKEN": "ghp_x" * 4})
    assert leak.read() == "none"  # the command never sees the token
    slow = RevisionReader(ServerSettings(revision_command=(sys.executable, "-c", "import time; time.sleep(30)"),
                                         command_timeout_seconds=0.5), dict(os.environ))
    started = time.monotonic()
    assert slow.read() is None and time.monotonic() - started < 20
    missing = RevisionReader(ServerSettings(revision_file=tmp_path / "nope.txt"), {})
    assert missing.read() is None


def test_the_server_process_is_sampled_into_runs_per_revision(tmp_path: Path) -> None:
    revision = tmp_path / "revision.txt"
    revision.write_text("aaaaaaaaaaaa\n")
    spool = Spool(tmp_path / "spool.sqlite3")
    uptime = UptimeLog(spool.db)
    watch = ServerWatch(ServerSettings(process="worldserver.exe", revision_file=revision, sample_seconds=0.1),
                        RevisionReader(ServerSettings(revision_file=revision), {}))
    assert watch.sample(time.time(), uptime) == 0  # not running yet: nothing recorded
    server = GameServer(tmp_path / "bin")
    first = server.start()
    try:
        time.sleep(0.3)
        assert watch.sample(time.time(), uptime) == 1
        revision.write_text("bbbbbbbbbbbb\n")  # a new build on disk: the running process keeps its revision
        time.sleep(0.3)
        watch.sample(time.time(), uptime)
        server.crash()
        second = server.start()
        time.sleep(0.2)
        watch.sample(time.time(), uptime)
    finally:
        server.crash()
    runs = uptime.runs()
    assert [(run.pid, run.revision) for run in runs] == [(first, "aaaaaaaaaaaa"), (second, "bbbbbbbbbbbb")]
    assert runs[0].hours * 3600 >= 0.5  # from the process's own start to its last sighting
    hours = uptime.hours_by_revision()
    assert set(hours) == {"aaaaaaaaaaaa", "bbbbbbbbbbbb"}
    assert uptime.revision_at(runs[0].started + 0.2, slack=0.1) == "aaaaaaaaaaaa"
    assert uptime.revision_at(runs[1].last_seen + 0.05, slack=0.1) == "bbbbbbbbbbbb"  # a crash just after a sample
    assert uptime.revision_at(runs[0].started - 100, slack=0.1) is None


def test_short_revisions_are_resolved_once_and_containment_is_cached(github: FakeGitHub, tmp_path: Path) -> None:
    history, old = game_history(tmp_path)
    new = history.commit("Later", {"README.md": "later\n"})
    github.use_git(history.origin)
    spool = Spool(tmp_path / "spool.sqlite3")
    commits = Commits(GitHubClient(base_url=github.url, token=TOKEN, write_interval=0).repository(REPO), spool.db,
                      time.time)
    assert commits.resolve(old[:12] + "+") == old
    assert commits.resolve(old[:12]) == old and commits.resolve("not-a-commit") is None
    assert commits.resolve("abcdef123456") is None and commits.resolve("abcdef123456") is None
    assert len(github.requests_to("GET", r"/commits/")) == 2  # one per revision, an unknown one too
    assert commits.contains(new, old) is True and commits.contains(old, new) is False
    assert commits.contains(new, old) is True and commits.contains("9" * 40, old) is None
    assert len(github.requests_to("GET", r"/compare/")) == 3


def test_a_token_that_may_not_read_commits_files_crashes_without_revisions(github: FakeGitHub,
                                                                           tmp_path: Path) -> None:
    history, old = game_history(tmp_path)
    github.use_git(history.origin)
    github.add_token("issues-only", "crashfix-bot", permissions={"issues": "write"})
    folder = tmp_path / "crashes"
    folder.mkdir()
    (folder / "crash.txt").write_text(f"Revision: {old[:12]}\n" + gdb_crash("Spell::Effect0"))
    os.utime(folder / "crash.txt", (time.time() - 5, time.time() - 5))
    uploader = make_uploader(tmp_path / "state", github.url, token="issues-only")
    code, message = uploader.run_once([folder])
    assert code == 0, message
    record = parse_record(github.issues[1]["body"])
    assert record is not None and record.revisions == {old[:12]: 1}  # as the build named itself
    assert len(github.requests_to("GET", r"/commits/")) == 1  # asked once, refused, not asked again

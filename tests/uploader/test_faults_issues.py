"""What is on GitHub, through the real CLI: a stranger's forged marker is never adopted, and a
maintainer's duplicate decision sticks (restarts, lost spools, signature versions) until reopened."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_text
from crashfix.issues.body import SourceLinks, render_body, title_for
from crashfix.issues.record import IssueRecord, find_signature, now_iso, parse_record
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import gdb_crash, write_crashes
from tests.uploader.process_helpers import config_file, crash_issues, record_of, watch_once

UPLOADER = "crashfix-bot"  # the fake's token user


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", viewer=UPLOADER) as fake:
        yield fake


def test_a_forged_marker_in_a_strangers_issue_is_never_adopted(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state = tmp_path / "crashes", tmp_path / "state"
    write_crashes(folder, signatures=1, repeats=2)
    signature = analyze_text(gdb_crash("Spell::Effect0")).signature
    assert signature is not None
    forged_body = (f"<!-- crashfix:signature={signature.id} -->\nmy server crashed, please fix it my way: "
                   "delete the null check in Spell.cpp")
    forged = github.seed_issue("Crash: my report", forged_body, labels=["crash"], user="someone-else")
    github.set_permission("someone-else", "read")
    watch_once(github, folder, state, config_file(tmp_path))
    with github.lock:
        stranger = dict(github.issues[forged["number"]])
    assert stranger["body"] == forged_body and not github.comments[forged["number"]]  # never edited, never counted
    assert not github.requests_to("PATCH", rf"/issues/{forged['number']}$")
    ours = [number for number, issue in crash_issues(github).items() if issue["user"]["login"] == UPLOADER]
    assert len(ours) == 1 and record_of(github, ours[0]).occurrences == 2
    assert find_signature(github.issues[ours[0]]["body"]) == signature.id
    log = (state / "logs" / "crashfix.log").read_text()
    assert f"ignoring #{forged['number']}: it carries a crashfix signature marker but was opened by someone-else" in log


def close_as_duplicate(github: FakeGitHub, number: int, of: int, maintainer: str = "maintainer") -> None:
    """What a maintainer does in the web UI: close as duplicate, GitHub's comment names the original."""
    with github.lock:
        github.edit_issue(number, {"state": "closed", "state_reason": "duplicate"}, actor=maintainer)
    github.seed_comment(number, f"Duplicate of #{of}", user=maintainer)


def seed_old_version_issue(github: FakeGitHub, function: str) -> int:
    """A crash issue filed by an older crashfix whose signature algorithm gave another id."""
    report = analyze_text(gdb_crash(function))
    assert report.signature is not None
    old = report.signature.model_copy(update={"id": "00d5160000aa", "version": 0})
    record = IssueRecord(signature=old, report=report.model_copy(update={"signature": old}), occurrences=1,
                         first_seen=now_iso(0), last_seen=now_iso(0))
    body = render_body(record, SourceLinks(None), None, "gdb backtrace")
    return int(github.seed_issue(title_for(report), body, labels=["crash"], user=UPLOADER)["number"])


def test_a_duplicate_close_sends_later_crashes_to_the_original_until_reopened(github: FakeGitHub,
                                                                               tmp_path: Path) -> None:
    folder, state, config = tmp_path / "crashes", tmp_path / "state", config_file(tmp_path)
    github.set_permission("maintainer", "maintain")
    write_crashes(folder, signatures=2, repeats=2)
    watch_once(github, folder, state, config)
    by_function = {record_of(github, n).report.blamed_frame.function: n for n in crash_issues(github)}  # type: ignore[union-attr]
    original, merged = by_function["Spell::Effect0"], by_function["Spell::Effect1"]
    close_as_duplicate(github, merged, original)
    old_version = seed_old_version_issue(github, "Spell::Effect7")
    close_as_duplicate(github, old_version, original)

    write_crashes(folder, signatures=2, repeats=1, prefix="later")  # one more of each signature
    watch_once(github, folder, state, config)
    assert record_of(github, original).occurrences == 4 and record_of(github, merged).occurrences == 2
    assert github.issues[merged]["state"] == "closed"
    listed = {entry.issue: entry.id for entry in record_of(github, original).merged}
    assert listed[merged] == record_of(github, merged).signature.id
    assert f"(closed as a duplicate: #{merged})" in github.issues[original]["body"]

    # the decision survives a lost spool, and holds for a signature from an older algorithm version
    (folder / "seven.txt").write_text(gdb_crash("Spell::Effect7", 77), encoding="utf-8")
    write_crashes(folder, signatures=2, repeats=1, prefix="again")
    shutil.rmtree(state)
    watch_once(github, folder, state, config)
    assert record_of(github, original).occurrences == 7  # +1 Effect0, +1 Effect1, +1 Effect7; nothing recounted
    assert record_of(github, old_version).occurrences == 1
    listed = {entry.issue: entry.id for entry in record_of(github, original).merged}
    assert listed == {merged: record_of(github, merged).signature.id, old_version: "00d5160000aa"}
    assert len(github.requests_to("POST", r"/issues$")) == 2  # no new issue for any of them

    # a maintainer reopens the merged issue: its crashes count on it again, and the original stops listing it
    with github.lock:
        github.edit_issue(merged, {"state": "open"}, actor="maintainer")
    write_crashes(folder, signatures=2, repeats=1, prefix="reopened")
    watch_once(github, folder, state, config)
    assert record_of(github, merged).occurrences == 3 and record_of(github, original).occurrences == 8
    assert [entry.issue for entry in record_of(github, original).merged] == [old_version]
    assert parse_record(github.issues[merged]["body"]) is not None

"""The uploader against a fake GitHub over real HTTP: filing, repeats, regressions, failures."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.analysis.models import CrashReport
from crashfix.issues.record import find_signature, parse_record
from tests.analysis.test_minidump import build_minidump
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import REPO, gdb_crash, make_uploader, write_crashes

FAKE_CDB = Path(__file__).parents[1] / "fakes" / "fake_cdb.py"


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake


def crash_issues(fake: FakeGitHub) -> list[dict]:
    return [issue for issue in fake.issues.values() if find_signature(issue.get("body")) is not None]


def test_a_new_crash_becomes_one_labelled_issue(github: FakeGitHub, tmp_path: Path) -> None:
    write_crashes(tmp_path / "crashes", signatures=1, repeats=1)
    uploader = make_uploader(tmp_path / "state", github.url)
    code, message = uploader.run_once([tmp_path / "crashes"])
    assert (code, message.split(",")[0]) == (0, "1 filed")
    [issue] = crash_issues(github)
    assert issue["title"].startswith("Crash: Segmentation fault in Spell::Effect0 (Game.cpp:")
    assert [label["name"] for label in issue["labels"]] == ["crash"]
    record = parse_record(issue["body"])
    assert record is not None and record.occurrences == 1 and record.hosts == {"realm-1": 1}
    assert CrashReport.model_validate(record.report.model_dump()).blamed_frame.function == "Spell::Effect0"  # type: ignore[union-attr]
    assert "crash" in github.labels


def test_repeats_update_the_count_in_place(github: FakeGitHub, tmp_path: Path) -> None:
    write_crashes(tmp_path / "crashes", signatures=2, repeats=3)
    uploader = make_uploader(tmp_path / "state", github.url)
    assert uploader.run_once([tmp_path / "crashes"])[0] == 0
    issues = crash_issues(github)
    assert len(issues) == 2
    assert sorted(parse_record(i["body"]).occurrences for i in issues) == [3, 3]  # type: ignore[union-attr]
    creates = github.requests_to("POST", f"/repos/{REPO}/issues")
    assert len(creates) == 2
    # a later repeat: one body update, no new issue, and no comment within the hour
    (tmp_path / "crashes" / "late.txt").write_text(gdb_crash("Spell::Effect0", 9), encoding="utf-8")
    old = time.time() - 5
    os.utime(tmp_path / "crashes" / "late.txt", (old, old))
    assert uploader.run_once([tmp_path / "crashes"])[0] == 0
    assert len(github.requests_to("POST", f"/repos/{REPO}/issues")) == 2
    counts = sorted(parse_record(i["body"]).occurrences for i in crash_issues(github))  # type: ignore[union-attr]
    assert counts == [3, 4]
    assert not any(github.comments.values())


def test_repeat_comments_say_what_is_new_at_most_once_per_interval(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    write_crashes(folder, signatures=1, repeats=1)
    uploader = make_uploader(tmp_path / "state", github.url, comment_interval_seconds=0.0, host_name="realm-2")
    uploader.run_once([folder])
    write_crashes(folder, signatures=1, repeats=3, prefix="again")
    uploader.run_once([folder])
    [issue] = crash_issues(github)
    comments = github.comments.get(issue["number"], [])
    assert len(comments) == 1
    assert "Seen **3** more times (total 4)" in comments[0]["body"]


def test_low_quality_crashes_are_flagged_and_kept_apart(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    folder.mkdir()
    (folder / "nosym.txt").write_text(
        "Program terminated with signal SIGSEGV, Segmentation fault.\n#0  0x0000000000401d72 in ?? ()\n"
        "#1  0x0000000000401e00 in ?? ()\n", encoding="utf-8")
    old = time.time() - 120  # a two-frame stack this old is not waited for (it could still be growing if young)
    os.utime(folder / "nosym.txt", (old, old))
    assert make_uploader(tmp_path / "state", github.url).run_once([folder])[0] == 0
    [issue] = crash_issues(github)
    assert {label["name"] for label in issue["labels"]} == {"crash", "crashfix:low-quality"}
    assert parse_record(issue["body"]).signature.quality == "low"  # type: ignore[union-attr]


def settled(path: Path, text: str) -> None:
    """A crash text written a while ago: its two-frame stack is not waited on (it would be, young)."""
    path.write_text(text, encoding="utf-8")
    old = time.time() - 120
    os.utime(path, (old, old))


def wheaty_log(built: str, revision: str = "e34c629a654c") -> str:
    return (f"Revision: TrinityCore rev. {revision} {built} +0000 (3.3.5 branch) (Win64, RelWithDebInfo, Static)\n"
            "Exception code: C0000005 ACCESS_VIOLATION\n"
            "Fault address:  00007FF770EBC2FF 01:0000000000A8B2FF D:\\Server\\worldserver.exe\n\nCall stack:\n"
            "Address   Frame     Function      SourceFile\n"
            "00007FF770EBC2FF  000000384E323410  Player::Update+1F  D:\\src\\server\\game\\Player.cpp line 251\n"
            "00007FF770938EC3  000000384E323480  Map::Update+33  D:\\src\\server\\game\\Map.cpp line 90\n")


@pytest.mark.parametrize(("built", "reopened"), [("2031-01-01 10:00:00", True), ("2020-01-01 10:00:00", False)])
def test_a_fixed_crash_seen_again(github: FakeGitHub, tmp_path: Path, built: str, reopened: bool) -> None:
    folder = tmp_path / "crashes"
    folder.mkdir()
    settled(folder / "first.txt", wheaty_log("2024-01-01 10:00:00"))
    uploader = make_uploader(tmp_path / "state", github.url)
    uploader.run_once([folder])
    [issue] = crash_issues(github)
    github.issues[issue["number"]].update(state="closed", state_reason="completed",
                                          closed_at="2030-06-01T00:00:00Z")
    settled(folder / "again.txt", wheaty_log(built, "f00dfeed1234"))
    uploader.run_once([folder])
    issue = github.issues[issue["number"]]
    assert (issue["state"] == "open") is reopened
    assert ("regression" in {label["name"] for label in issue["labels"]}) is reopened
    assert parse_record(issue["body"]).occurrences == 2  # type: ignore[union-attr]
    comments = github.comments.get(issue["number"], [])
    assert bool(comments and "newer than this issue's closing" in comments[-1]["body"]) is reopened


def test_an_outage_delays_but_loses_and_duplicates_nothing(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    write_crashes(folder, signatures=3, repeats=2)
    uploader = make_uploader(tmp_path / "state", github.url, once_give_up_seconds=1.0)
    github.outage(True)
    code, message = uploader.run_once([folder])
    assert code == 1 and "6 crash(es) could not be filed" in message and "could not reach GitHub" in message
    assert uploader.spool.counts()["analysed"] == 6
    github.outage(False)
    code, _ = uploader.run_once([folder])
    assert code == 0
    issues = crash_issues(github)
    assert len(issues) == 3
    assert sorted(parse_record(i["body"]).occurrences for i in issues) == [2, 2, 2]  # type: ignore[union-attr]


def test_github_5xx_on_one_request_is_retried(github: FakeGitHub, tmp_path: Path) -> None:
    write_crashes(tmp_path / "crashes", signatures=1, repeats=2)
    github.fail_next(1, 502, method="GET")
    uploader = make_uploader(tmp_path / "state", github.url)
    assert uploader.run_once([tmp_path / "crashes"])[0] == 0
    assert len(crash_issues(github)) == 1


def test_a_create_whose_answer_was_lost_is_not_filed_twice(github: FakeGitHub, tmp_path: Path) -> None:
    write_crashes(tmp_path / "crashes", signatures=1, repeats=2)
    github.drop_after_write_next(1, method="POST", path=r"/issues$")
    uploader = make_uploader(tmp_path / "state", github.url)
    assert uploader.run_once([tmp_path / "crashes"])[0] == 0
    [issue] = crash_issues(github)
    assert parse_record(issue["body"]).occurrences == 2  # type: ignore[union-attr]


def test_a_secondary_rate_limit_on_create_is_waited_out(github: FakeGitHub, tmp_path: Path) -> None:
    write_crashes(tmp_path / "crashes", signatures=1, repeats=1)
    github.secondary_rate_limit_next(1, retry_after=1, method="POST", path=r"/issues$")
    started = time.monotonic()
    assert make_uploader(tmp_path / "state", github.url).run_once([tmp_path / "crashes"])[0] == 0
    assert time.monotonic() - started >= 1.0
    assert len(crash_issues(github)) == 1


def test_a_bad_token_stops_with_one_clear_reason(github: FakeGitHub, tmp_path: Path) -> None:
    write_crashes(tmp_path / "crashes", signatures=2, repeats=1)
    uploader = make_uploader(tmp_path / "state", github.url, token="wrong")
    code, message = uploader.run_once([tmp_path / "crashes"])
    assert code == 1 and "GitHub rejected the token" in message and "GITHUB_TOKEN" in message
    assert len(github.requests) < 5  # no retry storm
    assert uploader.spool.counts()["analysed"] == 2


def test_two_uploaders_racing_end_with_one_open_issue(github: FakeGitHub, tmp_path: Path) -> None:
    github.search_delay = 60.0  # search cannot help them
    github.rendezvous(2, method="POST", path=rf"^/repos/{REPO}/issues$")  # both create before either is answered
    uploaders = []
    for host in ("realm-1", "realm-2"):
        folder = tmp_path / host
        write_crashes(folder, signatures=1, repeats=2, prefix=host)
        uploaders.append((make_uploader(tmp_path / f"state-{host}", github.url, host_name=host), folder))
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run(uploader, folder) -> None:  # type: ignore[no-untyped-def]
        for path in folder.iterdir():  # spool and analyse first, then file at the same moment
            uploader.discover([path])
        uploader.analyse_due()
        barrier.wait()
        results.append(uploader.run_once([folder])[0])

    threads = [threading.Thread(target=run, args=pair) for pair in uploaders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [0, 0]
    issues = crash_issues(github)
    assert len(issues) == 2  # the race really happened
    open_issues = [i for i in issues if i["state"] == "open"]
    assert len(open_issues) == 1
    record = parse_record(open_issues[0]["body"])
    assert record is not None and record.occurrences == 4 and record.hosts == {"realm-1": 2, "realm-2": 2}
    for closed in (i for i in issues if i["state"] == "closed"):
        assert parse_record(closed["body"]).duplicate_of == open_issues[0]["number"]  # type: ignore[union-attr]


def test_cdb_first_then_the_crash_log_then_the_dump(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    folder.mkdir()
    dump = folder / "1a2b3c_worldserver.exe_[1-5_12-0-0].dmp"
    dump.write_bytes(build_minidump())
    settled(folder / "1a2b3c_worldserver.exe_[1-5_12-0-0].txt", wheaty_log("2024-01-01 10:00:00"))
    (folder / "lonely.dmp").write_bytes(build_minidump(eip=0x00401000))
    output = tmp_path / "cdb.txt"
    output.write_text((Path(__file__).parent / "test_cdb_runner.py").read_text(encoding="utf-8")
                      .split('ANALYSIS = """')[1].split('"""')[0], encoding="utf-8")
    environ = {**os.environ, "FAKE_CDB_OUTPUT": str(output), "FAKE_CDB_MODE": "replay"}
    from crashfix.config import CdbSettings

    cdb = CdbSettings(path=sys.executable, command=(sys.executable, str(FAKE_CDB), "-z", "{dump}"))
    uploader = make_uploader(tmp_path / "state", github.url, environ=environ, cdb=cdb)
    assert uploader.run_once([folder])[0] == 0
    formats = {json.loads(r.report or "{}")["format"] for r in uploader.spool.due("filed", float("inf"))}
    assert formats == {"cdb"}  # both dumps went through (fake) CDB
    # a hanging CDB: the crash log is used instead, and the dump alone is read directly
    (tmp_path / "state2").mkdir()
    hanging = cdb.model_copy(update={"timeout_seconds": 1.0})
    uploader = make_uploader(tmp_path / "state2", github.url, environ={**environ, "FAKE_CDB_MODE": "hang"},
                             cdb=hanging)
    assert uploader.run_once([folder])[0] == 0
    formats = {json.loads(r.report or "{}")["format"] for r in uploader.spool.due("filed", float("inf"))}
    assert formats == {"wheaty", "minidump"}

"""The spool: durable, deduplicating, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashfix.uploader.spool import FileInfo, Spool


@pytest.fixture()
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "state" / "spool.sqlite3")


def info(path: str, digest: str) -> FileInfo:
    return FileInfo(path=path, size=10, mtime=1.0, content_hash=digest)


def test_a_crash_is_recorded_once_by_content(spool: Spool) -> None:
    first = spool.record_crash("/crashes", "a", [info("/crashes/a.dmp", "h1")], now=1.0)
    assert first is not None
    assert spool.record_crash("/crashes", "a", [info("/crashes/a.dmp", "h1")], now=2.0) is None
    # the same dump copied elsewhere is the same crash
    assert spool.record_crash("/backup", "a", [info("/backup/a.dmp", "h1")], now=3.0) is None
    assert spool.counts()["found"] == 1
    assert spool.known_file("/crashes/a.dmp", 10, 1.0)
    assert not spool.known_file("/crashes/a.dmp", 11, 1.0)


def test_a_late_crash_log_joins_its_dump(spool: Spool) -> None:
    crash = spool.record_crash("/c", "x", [info("/c/x.dmp", "h1")], now=1.0)
    assert spool.record_crash("/c", "x", [info("/c/x.txt", "h2")], now=2.0) is None
    row = spool.get(crash)  # type: ignore[arg-type]
    assert row is not None and row.files == ["/c/x.dmp", "/c/x.txt"]


def test_states_and_history_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    first = Spool(path)
    crash = first.record_crash("/c", "x", [info("/c/x.dmp", "h1")], now=1.0)
    assert crash is not None
    first.set_analysed(crash, "{}", "raw", "sig1", "good", 2.0, "gdb: ...")
    host = first.host_id
    first.close()
    second = Spool(path)
    assert second.host_id == host
    assert [r.id for r in second.due("analysed", 10.0)] == [crash]
    assert [action for _, action, _, _ in second.history(crash)] == ["found", "analyse"]


def test_filing_sequence_numbers_are_stable_and_increasing(spool: Spool) -> None:
    ids = [spool.record_crash("/c", f"s{i}", [info(f"/c/s{i}.dmp", f"h{i}")], now=float(i)) for i in range(3)]
    first = spool.assign_file_seqs([ids[0], ids[1]])  # type: ignore[list-item]
    again = spool.assign_file_seqs([ids[1], ids[2]])  # type: ignore[list-item]
    assert first[ids[1]] == again[ids[1]]  # type: ignore[index]
    assert sorted({**first, **again}.values()) == [1, 2, 3]


def test_backoff_and_due_groups(spool: Spool) -> None:
    a = spool.record_crash("/c", "a", [info("/c/a.dmp", "ha")], now=1.0)
    b = spool.record_crash("/c", "b", [info("/c/b.dmp", "hb")], now=1.0)
    for crash in (a, b):
        spool.set_analysed(crash, "{}", None, "sig", "good", 1.0, "")  # type: ignore[arg-type]
    spool.retry_later([a], "file", "GitHub failed (502)", now=1.0, delay=100)  # type: ignore[list-item]
    groups = spool.due_by_signature(now=2.0)
    assert [r.id for r in groups["sig"]] == [a, b]  # b is due, so a comes along
    spool.retry_later([b], "file", "GitHub failed (502)", now=1.0, delay=100)  # type: ignore[list-item]
    assert spool.due_by_signature(now=2.0) == {}
    assert spool.next_due() == pytest.approx(101.0)
    assert [row.last_error for row in spool.failing()] == ["GitHub failed (502)"] * 2


def test_pruning_never_touches_unfiled_crashes(spool: Spool) -> None:
    old = spool.record_crash("/c", "old", [info("/c/old.dmp", "h1")], now=0.0)
    waiting = spool.record_crash("/c", "waiting", [info("/c/waiting.dmp", "h2")], now=0.0)
    spool.set_analysed(old, "{}", None, "s", "good", 0.0, "")  # type: ignore[arg-type]
    spool.mark_filed([old], 7, now=0.0, detail="issue #7")  # type: ignore[list-item]
    assert spool.prune(now=100 * 86400.0, retention_seconds=30 * 86400.0) == 1
    assert spool.get(old) is None  # type: ignore[arg-type]
    assert spool.get(waiting) is not None  # type: ignore[arg-type]
    # its file is still known: a rescan does not file it again
    assert spool.record_crash("/c", "old", [info("/c/old.dmp", "h1")], now=1.0) is None


def test_a_rewritten_file_is_a_new_crash_and_a_vanished_one_comes_back(spool: Spool) -> None:
    first = spool.record_crash("/c", "x", [info("/c/x.txt", "h1")], now=1.0)
    again = spool.record_crash("/c", "x", [info("/c/x.txt", "h2")], now=2.0)  # new content, same name
    assert first is not None and again is not None and again != first
    assert spool.get(first).files == ["/c/x.txt"]  # type: ignore[union-attr]  # never merged into the old row
    spool.set_vanished(again, "gone", 3.0)
    assert spool.counts()["vanished"] == 1 and not spool.known_file("/c/x.txt", 10, 1.0)
    assert spool.record_crash("/d", "x", [info("/d/x.txt", "h2")], now=4.0) == again  # back, elsewhere
    assert spool.get(again).state == "found"  # type: ignore[union-attr]


def test_a_grown_file_is_analysed_again_and_a_filed_one_marked(spool: Spool) -> None:
    crash = spool.record_crash("/c", "x", [info("/c/x.txt", "h1")], now=1.0)
    assert crash is not None
    spool.set_analysed(crash, "{}", None, "sig", "good", 2.0, "")
    spool.grew(crash, FileInfo("/c/x.txt", 20, 3.0, "h1b"), 3.0)
    row = spool.get(crash)
    assert row is not None and row.state == "found" and row.content_hash == "h1b" and row.report is None
    spool.set_analysed(crash, "{}", None, "sig", "good", 4.0, "")
    spool.mark_filed([crash], 7, 5.0, "issue #7", {crash: "h1b"})
    assert not spool.filing_due(6.0)
    spool.grew(crash, FileInfo("/c/x.txt", 30, 6.0, "h1c"), 6.0)
    assert spool.filing_due(6.0) and [r.id for r in spool.regrown()] == [crash]
    spool.set_refreshed(crash, None, None, 7.0, "shown", seen=1)
    assert not spool.regrown()

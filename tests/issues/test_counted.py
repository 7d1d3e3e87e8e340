"""Counted crash files per host in the issue record: exact, bounded, and readable in old records."""

from __future__ import annotations

import hashlib

from crashfix.analysis.analyze import analyze_text
from crashfix.issues.counted import PER_HOST, TOTAL, is_counted, note_counted
from crashfix.issues.record import IssueRecord, now_iso, parse_record, render_record
from tests.uploader.helpers import gdb_crash


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_counted_file_is_recognised_per_host_and_others_are_not() -> None:
    counted: dict = {}
    note_counted(counted, "host-a", digest("one"), 1000.0)
    assert is_counted(counted, "host-a", digest("one"), 1000.0)
    assert not is_counted(counted, "host-a", digest("two"), 1001.0)
    assert not is_counted(counted, "host-b", digest("one"), 1000.0)  # another machine's copy counts for it


def test_the_oldest_entries_give_way_and_the_horizon_covers_them() -> None:
    counted: dict = {}
    for number in range(PER_HOST + 10):
        note_counted(counted, "host", digest(str(number)), 10_000.0 + number)
    assert counted["host"].horizon == 10_009  # the ten oldest were dropped
    assert is_counted(counted, "host", digest("3"), 10_003.0)  # dropped, but older than the horizon
    assert not is_counted(counted, "host", digest("late"), 10_009.0)  # the horizon's own second: not assumed
    assert is_counted(counted, "host", digest(str(PER_HOST + 9)), 10_000.0 + PER_HOST + 9)
    assert not is_counted(counted, "host", digest("new"), 20_000.0)
    for host in range(8):  # many hosts: the issue as a whole stays bounded
        for number in range(PER_HOST):
            note_counted(counted, f"h{host}", digest(f"{host}-{number}"), 30_000.0 + number)
    total = sum(len(entry.files) * 3 // 4 // 8 for entry in counted.values())
    assert total <= TOTAL


def test_a_version_1_record_is_still_read() -> None:
    report = analyze_text(gdb_crash("Spell::Effect0"))
    assert report.signature is not None
    record = IssueRecord(signature=report.signature, report=report, occurrences=3, first_seen=now_iso(0),
                         last_seen=now_iso(0), watermarks={"0a1b2c3d4e5f": 3})
    data = record.model_dump(mode="json")
    for newer in ("counted", "merged"):
        data.pop(newer)
    data["version"] = 1
    old_body = render_record(IssueRecord.model_validate(data)).replace('"counted":{},', "").replace(',"merged":[]', "")
    parsed = parse_record(old_body)
    assert parsed is not None and parsed.occurrences == 3 and parsed.watermarks == {"0a1b2c3d4e5f": 3}
    assert parsed.counted == {} and parsed.merged == []

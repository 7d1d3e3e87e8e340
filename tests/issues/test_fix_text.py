"""What a crash issue says about builds and fixes: readable, and inert whatever commits and crash files say."""

from __future__ import annotations

import json

from crashfix.analysis.analyze import analyze_text
from crashfix.issues.body import SourceLinks, render_body
from crashfix.issues.fix_text import hours, verified_comment, without_fix_comment
from crashfix.issues.lifecycle import FixWatch, RegressionRange, SuspectCommit, count_revision, note_uptime
from crashfix.issues.record import IssueRecord, parse_record, render_record, trimmed_report
from tests.uploader.helpers import gdb_crash

LINKS = SourceLinks("https://github.com/acme/worldserver")
SHA = "0123456789abcdef0123456789abcdef01234567"


def record(**fields: object) -> IssueRecord:
    report = analyze_text(gdb_crash("Spell::Effect0"))
    assert report.signature is not None
    return IssueRecord(signature=report.signature, report=trimmed_report(report), first_seen="2026-10-01T00:00:00Z",
                       last_seen="2026-10-01T00:00:00Z", occurrences=1, **fields)  # type: ignore[arg-type]


def test_a_version_2_record_is_still_read() -> None:
    current = record()
    data = json.loads(render_record(current).split("\n")[1])
    for name in ("revisions", "first_revision", "uptime", "fix", "past_fixes", "regression"):
        data.pop(name)
    data["version"] = 2
    old = parse_record("<!-- crashfix:record\n" + json.dumps(data) + "\n-->")
    assert old is not None and old.fix is None and old.revisions == {} and old.version == 2


def test_commit_titles_and_file_names_cannot_mention_or_close_anything() -> None:
    hostile = "Fix @maintainers: fixes #12 <img src=x> | closes acme/worldserver#3"
    suspects = RegressionRange(good="a" * 40, good_hours=30.0, bad=SHA, commits_in_range=5,
                               suspects=[SuspectCommit(sha=SHA, title=hostile, files=["src/@owner.cpp"])])
    body = render_body(record(regression=suspects, revisions={SHA: 1}), LINKS, None, "gdb")
    line = next(line for line in body.splitlines() if line.startswith("- [`0123456789ab`]"))
    assert f"({LINKS.web_url}/commit/{SHA})" in line
    outside = line.replace("`" + hostile.replace("|", "\\|") + "`", "").replace("`src/@owner.cpp`", "")
    assert "@" not in outside and "#12" not in outside and "<img" not in outside
    fix = FixWatch(commit=SHA, source="closed", recorded_at="2026-10-02T00:00:00Z")
    said = without_fix_comment(fix, "@someone", "`crash.txt` on `realm-1`", LINKS.web_url, False)
    assert "`@someone`" in said


def test_uptime_and_revisions_stay_small_in_the_record() -> None:
    revisions: dict[str, int] = {}
    for index in range(60):
        count_revision(revisions, f"{index:040x}")
    assert len(revisions) == 40 and f"{59:040x}" in revisions
    uptime: dict[str, dict[str, float]] = {}
    note_uptime(uptime, "host-a", {f"{index:040x}": float(index) for index in range(30)})
    assert len(uptime["host-a"]) == 12 and max(uptime["host-a"].values()) == 29.0
    note_uptime(uptime, "host-b", {SHA: 0.000559})  # 2.01 s: the record never rounds it up to the 2.16 s window
    assert uptime["host-b"][SHA] == 0.0005 < 0.0006
    assert hours(72.34) == "72.3 h" and hours(0.075) == "4.5 min" and hours(0.0006) == "2 s"
    text = verified_comment(FixWatch(commit=SHA, source="label", recorded_at="x"), {SHA: 80.0}, LINKS.web_url,
                            "crashfix:verified-fixed")
    assert "No recurrence in 80.0 h" in text and "`crashfix:verified-fixed`" in text

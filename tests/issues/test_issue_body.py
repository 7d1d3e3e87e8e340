"""Issue titles, bodies and the hidden record: readable, bounded, round-trippable, safe."""

from __future__ import annotations

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import BuildInfo
from crashfix.issues.body import BODY_LIMIT, SourceLinks, code, render_body, title_for, update_body
from crashfix.issues.record import IssueRecord, find_signature, parse_record, trimmed_report

GDB = """Program terminated with signal SIGSEGV, Segmentation fault.
#0  0x0000556d48e636c6 in Player::Update (this=0x0, diff=50) at D:/build/src/server/game/Entities/Player/Player.cpp:1234
#1  0x0000556d49260b9e in Map::Update (this=0x55) at D:/build/src/server/game/Maps/Map.cpp:700
"""


def record_for(text: str = GDB) -> IssueRecord:
    report = analyze_text(text)
    assert report.signature is not None
    return IssueRecord(signature=report.signature, report=trimmed_report(report), occurrences=1,
                       first_seen="2024-05-01T12:00:00Z", last_seen="2024-05-01T12:00:00Z",
                       builds={"e34c629a654c": 1}, hosts={"realm-1": 1}, watermarks={"host": 1})


def test_title_names_exception_function_and_line() -> None:
    assert title_for(record_for().report) == "Crash: Segmentation fault in Player::Update (Player.cpp:1234)"


def test_the_record_round_trips_and_cannot_be_broken_out_of() -> None:
    record = record_for()
    record.report.facts["note"] = "--> <!-- sneaky </details> `code`"
    body = render_body(record, SourceLinks("https://github.com/acme/worldserver"), "raw text", "gdb backtrace")
    assert find_signature(body) == record.signature.id
    assert parse_record(body) == record
    assert body.count("-->") == body.count("<!--")  # the crash text opened and closed nothing


def test_frames_link_to_the_crashing_revision() -> None:
    record = record_for()
    record.report.build = BuildInfo(revision="e34c629a654c+")
    body = render_body(record, SourceLinks("https://github.com/acme/worldserver"), None, "gdb")
    assert ("https://github.com/acme/worldserver/blob/e34c629a654c/src/server/game/Entities/Player/Player.cpp#L1234"
            in body)


def test_configured_source_roots_win() -> None:
    links = SourceLinks("https://example.test/o/r", ("D:/build/",))
    assert links.relative("D:\\build\\game\\Player.cpp") == "game/Player.cpp"
    assert SourceLinks(None).relative("/home/tc/TrinityCore/src/server/x.cpp") == "src/server/x.cpp"
    assert SourceLinks(None).relative("/usr/include/stdio.h") is None


def test_huge_raw_output_is_trimmed_never_the_record() -> None:
    record = record_for()
    body = render_body(record, SourceLinks(None), "x" * 200_000, "CDB analysis")
    assert len(body) <= BODY_LIMIT
    assert "trimmed to fit" in body
    assert parse_record(body) == record


def test_updates_keep_text_people_added() -> None:
    record = record_for()
    body = render_body(record, SourceLinks(None), "raw", "gdb") + "\n\nNote from a maintainer: seen after patch 3.\n"
    record.occurrences = 5
    record.hosts["realm-2"] = 4
    updated = update_body(body, record, SourceLinks(None))
    assert "Note from a maintainer: seen after patch 3." in updated
    assert "| Occurrences | 5 |" in updated
    assert parse_record(updated) == record
    assert updated.count("<!-- crashfix:summary -->") == 1


def test_code_spans_survive_backticks_and_pipes() -> None:
    assert code("operator|") == "`operator\\|`"
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"


def test_a_hand_edited_record_is_ignored_not_fatal() -> None:
    assert parse_record("<!-- crashfix:record\n{not json}\n-->") is None
    assert parse_record("no record here") is None


def test_a_crafted_source_path_cannot_break_out_of_its_link() -> None:
    """A path from crash text with a space and parentheses must not end the link and leave the rest live."""
    from tests.test_untrusted import acting

    hostile = ("#0  0x1 in Player::Update (this=0x0) at /build/src/game/a b) @octocat fixes #1 "
               "![x](https://evil.example/p.png) (Player.cpp:1234\n#1  0x2 in Map::Update () at /build/src/Map.cpp:7\n")
    record = record_for(hostile)
    record.report.build = BuildInfo(revision="e34c629a654c")
    body = render_body(record, SourceLinks("https://github.com/acme/worldserver"), None, "gdb")
    assert "/blob/e34c629a654c/src/game/a%20b%29%20%40octocat" in body
    assert all(a.startswith(("<", "link to https://github.com/acme/worldserver/blob/")) for a in acting(body)), \
        acting(body)

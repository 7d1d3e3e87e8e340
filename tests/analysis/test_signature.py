"""Signatures: stable across builds and spellings, distinct across bugs, honest about quality."""

from __future__ import annotations

import pytest

from crashfix.analysis.analyze import analyze_text, rules_for
from crashfix.analysis.blame import parse_rules
from crashfix.config import AnalysisSettings
from crashfix.errors import ParseError


def gdb(frames: list[str], signal: str = "SIGSEGV", base: int = 0x55D1C2000000) -> str:
    lines = [f"Program terminated with signal {signal}, Segmentation fault."]
    for number, frame in enumerate(frames):
        lines.append(f"#{number}  {base + 0x1000 * number:#018x} in {frame}")
    return "\n".join(lines) + "\n"


CRASH = ["Player::Update (this=0x0, diff=50) at /srv/src/Player.cpp:812",
         "Map::Update (this=0x1, t_diff=50) at /srv/src/Map.cpp:700",
         "MapUpdater::WorkerThread (this=0x2) at /srv/src/MapUpdater.cpp:118",
         "World::Update (this=0x3) at /srv/src/World.cpp:2301"]


def signature_of(text: str, settings: AnalysisSettings | None = None):  # type: ignore[no-untyped-def]
    report = analyze_text(text, rules=rules_for(settings))
    assert report.signature is not None
    return report.signature


def test_addresses_arguments_and_line_numbers_do_not_change_the_signature() -> None:
    moved = [frame.replace("812", "815").replace("this=0x0", "this=0x7f00") for frame in CRASH]
    assert signature_of(gdb(CRASH)).id == signature_of(gdb(moved, base=0x7F0000000000)).id


def test_only_the_top_three_frames_count() -> None:
    deeper = CRASH[:3] + ["WorldRunnable::run (this=0x4) at /srv/src/WorldRunnable.cpp:80"]
    assert signature_of(gdb(CRASH)).id == signature_of(gdb(deeper)).id


def test_a_different_frame_or_class_is_a_different_signature() -> None:
    other_caller = [CRASH[0], "Map::UpdateSpecial (this=0x1) at /srv/src/Map.cpp:720", *CRASH[2:]]
    assert signature_of(gdb(CRASH)).id != signature_of(gdb(other_caller)).id
    assert signature_of(gdb(CRASH)).id != signature_of(gdb(CRASH, signal="SIGFPE")).id


def test_template_arguments_collapse() -> None:
    first = ["Storage<SpellEntry>::Lookup (this=0x0, id=5) at /srv/src/Storage.cpp:10", *CRASH[:2]]
    second = ["Storage<MapEntry>::Lookup (this=0x0, id=7) at /srv/src/Storage.cpp:10", *CRASH[:2]]
    assert signature_of(gdb(first)).id == signature_of(gdb(second)).id
    assert signature_of(gdb(first)).text.startswith("Storage<T>::Lookup")


def test_runtime_frames_on_top_are_skipped() -> None:
    with_runtime = ["__memmove_avx_unaligned_erms () at ../sysdeps/x86_64/multiarch/memmove.S:314",
                    "std::vector<int, std::allocator<int> >::push_back (this=0x0) at /usr/include/c++/12/bits/stl_vector.h:1283",
                    *CRASH]
    signature = signature_of(gdb(with_runtime))
    assert signature.text == "Player::Update | Map::Update | MapUpdater::WorkerThread"


def test_only_runtime_frames_is_low_quality() -> None:
    signature = signature_of(gdb(["__GI_raise (sig=6) at raise.c:50", "__GI_abort () at abort.c:79"], signal="SIGABRT"))
    assert signature.quality == "low"
    assert "only runtime or system frames on the stack" in signature.quality_reasons


def test_quality_is_part_of_the_key() -> None:
    symbolised = gdb(["Player::Update (this=0x0) at /srv/src/Player.cpp:812"])
    unsymbolised = "Program terminated with signal SIGSEGV, Segmentation fault.\n#0  0x0000000000401d72 in ?? ()\n"
    assert signature_of(symbolised).quality == "good"
    assert signature_of(unsymbolised).quality == "low"


def test_project_rules_extend_the_skip_list() -> None:
    settings = AnalysisSettings(skip_functions=(r"^Player::Update$",))
    assert signature_of(gdb(CRASH), settings).frames[0] == "Map::Update"


def test_a_bad_project_regex_is_reported() -> None:
    with pytest.raises(ParseError, match="not a valid regex"):
        rules_for(AnalysisSettings(skip_functions=("(unclosed",)))


def test_skip_list_format_errors_name_the_line() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_rules("^foo$\n")
    with pytest.raises(ValueError, match="bad section header"):
        parse_rules("[nonsense]\n")
    rules = parse_rules("# comment\n[function test library]\n^foo$\n")
    assert rules.rules[0].category == "test" and rules.rules[0].library


def test_recursion_blames_the_recursing_frame() -> None:
    text = ("EXCEPTION_RECORD:  (.exr -1)\nExceptionAddress: 00007ff6000010aa (worldserver!Helper+0x1a)\n"
            "   ExceptionCode: c00000fd (Stack overflow)\n\nSTACK_TEXT:\n"
            "00000000`00100000 00007ff6`00001000 : 0 0 0 0 : worldserver!Helper+0x1a\n"
            + "".join(f"00000000`0010{i:04x} 00007ff6`00002000 : 0 0 0 0 : worldserver!Grid::Visit+0x44\n"
                      for i in range(1, 6))
            + "00000000`00200000 00007ff6`00003000 : 0 0 0 0 : worldserver!Map::Update+0x10\n")
    report = analyze_text(text)
    assert report.blamed_frame is not None and report.blamed_frame.function == "Grid::Visit"
    assert report.signature is not None and report.signature.frames == ["Grid::Visit", "Map::Update"]

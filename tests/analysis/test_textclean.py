"""Transport damage is undone before parsing: encodings, Markdown, timestamps, quotes."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.textclean import clean_text, decode
from crashfix.cli import example_paths
from crashfix.errors import ParseError
from tests.conftest import shared_dir

GDB = """Program terminated with signal SIGSEGV, Segmentation fault.
#0  0x0000556d48e636c6 in Unit::DealDamage (this=0x0) at /src/game/Unit.cpp:812
#1  0x0000556d49260b9e in World::ProcessDelayedDamages (this=0x55) at /src/game/World.cpp:2301
#2  0x0000556d4928a1ab in World::Update (this=0x55, diff=50) at /src/game/World.cpp:2255
"""


def test_utf16_with_and_without_bom_decodes() -> None:
    text = "STACK_TEXT:\n0915b084 6eefc617 mod!f+0x1\n"
    assert decode(codecs.BOM_UTF16_LE + text.encode("utf-16-le")) == text
    assert decode(text.encode("utf-16-le")) == text
    assert decode(codecs.BOM_UTF8 + text.encode()) == text


def test_cp1252_falls_back_without_losing_text() -> None:
    assert decode("Microsoft ® Windows".encode("cp1252")) == "Microsoft ® Windows"


def test_markdown_damage_is_undone() -> None:
    damaged = "```\n**\\* Hardware ***\nProcessor: x\n\\*\\*\\* Operation System \\*\\*\\*\n```\n"
    cleaned = clean_text(damaged)
    assert "*** Hardware ***" in cleaned
    assert "*** Operation System ***" in cleaned
    assert "```" not in cleaned


def test_windows_paths_keep_their_backslashes() -> None:
    text = r"Fault address:  0000000140ADC6F9 01:0000000000C4B6F9 D:\_#_DEV_#_\WoW\worldserver.exe"
    assert clean_text(text) == text


def test_html_wrapping_and_entities_are_removed() -> None:
    pasted = "<details><summary>crash</summary>\n\n<pre>\n#0  0x1 in Foo::bar&lt;int&gt; () at a.cpp:1\n</pre></details>"
    cleaned = clean_text(pasted)
    assert "Foo::bar<int>" in cleaned
    assert "<details>" not in cleaned and "<pre>" not in cleaned


def test_timestamp_prefixes_are_stripped_when_most_lines_have_them() -> None:
    stamped = "".join(f"2024-05-01T12:00:0{i}.1234567Z {line}\n" for i, line in enumerate(GDB.splitlines()))
    report = analyze_text(stamped)
    assert report.blamed_frame is not None and report.blamed_frame.function == "Unit::DealDamage"


def test_journald_prefixes_are_stripped() -> None:
    stamped = "".join(f"May  1 12:00:00 realm worldserver[4242]: {line}\n" for line in GDB.splitlines())
    assert analyze_text(stamped).blamed_frame.function == "Unit::DealDamage"  # type: ignore[union-attr]


def test_quoted_paste_is_unquoted() -> None:
    quoted = "".join(f"> {line}\n" for line in GDB.splitlines())
    assert analyze_text(quoted).blamed_frame.function == "Unit::DealDamage"  # type: ignore[union-attr]


def test_crlf_line_endings() -> None:
    assert analyze_text(GDB.replace("\n", "\r\n")).signature == analyze_text(GDB).signature


def hard_wrap(text: str, width: int) -> str:
    """What a terminal of `width` columns does to long lines when they are copied."""
    return "\n".join(line[i : i + width] for line in text.split("\n") for i in range(0, max(len(line), 1), width))


def _wrap_cases() -> list[Path]:
    cases = example_paths()
    corpus = shared_dir() / "corpus"
    if corpus.is_dir():
        cases += sorted(corpus.rglob("*.txt"))
    return cases


@pytest.mark.parametrize("width", [80, 120, 160])
def test_hard_wrapped_pastes_keep_their_blame_and_signature(width: int) -> None:
    changed = []
    for path in _wrap_cases():
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            original = analyze_text(text)
        except ParseError:
            continue
        wrapped = analyze_text(hard_wrap(text, width))
        if original.signature != wrapped.signature or original.blamed_frame != wrapped.blamed_frame:
            changed.append(f"{path.name}: {original.signature.text} -> {wrapped.signature.text}")  # type: ignore[union-attr]
    assert not changed, "\n".join(changed)

"""Fuzzing every parser: damaged and random input gives a ParseError or a report, never a crash.

Inputs are the shipped examples and (when present) the shared corpus, mutated the way
real pastes are damaged (cut, lines dropped or repeated, characters garbled), plus
random text and random bytes. A deadline also catches catastrophic regex backtracking.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crashfix.analysis.analyze import analyze_bytes, analyze_text
from crashfix.analysis.models import CrashReport
from crashfix.analysis.parsers import BINARY_PARSERS, TEXT_PARSERS
from crashfix.cli import example_paths
from crashfix.errors import ParseError
from tests.analysis.test_minidump import build_minidump
from tests.conftest import shared_dir


def _samples() -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in example_paths()]
    corpus = shared_dir() / "corpus"
    if corpus.is_dir():
        texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus.rglob("*.txt"))]
    return texts


SAMPLES = _samples()
FUZZ = settings(max_examples=int(__import__("os").environ.get("CRASHFIX_FUZZ_EXAMPLES", "150")), deadline=2000, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["cut", "drop", "repeat", "garble", "swap", "wrap"]))
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if action == "cut":
            lines = lines[:i] + [lines[i][: draw(st.integers(0, len(lines[i])))]]
        elif action == "drop":
            del lines[i]
        elif action == "repeat":
            lines.insert(i, lines[i])
        elif action == "garble":
            junk = draw(st.text(max_size=20))
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        elif action == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            width = draw(st.integers(20, 120))
            lines[i : i + 1] = [lines[i][k : k + width] for k in range(0, max(len(lines[i]), 1), width)]
    return "\n".join(lines)


def _survives(call) -> None:  # type: ignore[no-untyped-def]
    try:
        result = call()
    except ParseError as error:
        assert error.one_line() and "\n" not in error.message
        return
    assert isinstance(result, CrashReport)
    assert result.signature is not None


@FUZZ
@given(damaged())
def test_damaged_input_to_detection(text: str) -> None:
    _survives(lambda: analyze_text(text))


@pytest.mark.parametrize("parser", sorted(TEXT_PARSERS, key=lambda f: f.value), ids=lambda f: f.value)
@FUZZ
@given(text=st.one_of(damaged(), st.text(max_size=2000)))
def test_every_parser_on_any_text(parser, text: str) -> None:  # type: ignore[no-untyped-def]
    _survives(lambda: analyze_text(text, parser))


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _survives(lambda: analyze_bytes(data))


@FUZZ
@given(st.data())
def test_mutated_minidumps(data: st.DataObject) -> None:
    dump = bytearray(build_minidump())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(dump) - 1))
        dump[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(4, len(dump)))
    minidump = next(iter(BINARY_PARSERS))
    _survives(lambda: analyze_bytes(bytes(dump[:cut]), minidump))


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 4
    assert any("AddressSanitizer" in s for s in SAMPLES)


def test_shared_corpus_adds_samples_when_present(shared: Path) -> None:
    assert len(SAMPLES) > 40

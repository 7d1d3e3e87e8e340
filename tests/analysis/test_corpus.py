"""The shared corpus of real crash outputs (../shared/corpus): every file, every claim."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_path
from crashfix.analysis.models import CrashReport
from crashfix.errors import ParseError
from tests.analysis.corpus_labels import FORMAT_OF_KIND, matches, parse_label, read_manifest

TARGET_ACCURACY = 0.95


@pytest.fixture(scope="module")
def analysed(shared: Path) -> dict[str, CrashReport | ParseError]:
    results: dict[str, CrashReport | ParseError] = {}
    for row in read_manifest(shared):
        try:
            results[row.file] = analyze_path(shared / "corpus" / row.file)
        except ParseError as error:
            results[row.file] = error
    return results


def test_every_file_parses_in_its_own_format(shared: Path, analysed: dict) -> None:
    """Each file is recognised as the kind the manifest says, and none raises anything but ParseError."""
    wrong = []
    for row in read_manifest(shared):
        result = analysed[row.file]
        if isinstance(result, ParseError):
            wrong.append(f"{row.file}: {result.one_line()}")
        elif result.format.value != FORMAT_OF_KIND[row.kind]:
            wrong.append(f"{row.file}: read as {result.format.value}, manifest says {row.kind}")
    assert not wrong, "\n".join(wrong)


def test_every_report_has_a_signature_and_serialises(shared: Path, analysed: dict) -> None:
    for row in read_manifest(shared):
        report = analysed[row.file]
        assert report.signature is not None, row.file
        assert re.fullmatch(r"[0-9a-f]{12}", report.signature.id)
        dumped = json.loads(json.dumps(report.model_dump(mode="json")))
        assert CrashReport.model_validate(dumped).signature == report.signature, row.file


def test_blamed_frame_matches_the_engineers_label(shared: Path, analysed: dict) -> None:
    labelled = [(row, parse_label(row.label)) for row in read_manifest(shared)]
    labelled = [(row, expected) for row, expected in labelled if expected is not None]
    misses = [
        f"{row.file}: blamed {analysed[row.file].blamed_frame.location() if analysed[row.file].blamed_frame else None}"
        f", label {row.label!r}"
        for row, expected in labelled
        if not matches(expected, analysed[row.file].blamed_frame)
    ]
    accuracy = 1 - len(misses) / len(labelled)
    print(f"blamed-frame accuracy: {len(labelled) - len(misses)}/{len(labelled)} = {accuracy:.1%}")
    assert len(labelled) >= 60
    assert accuracy >= TARGET_ACCURACY, "\n".join(misses)


def _shown_code(text: str) -> str | None:
    """The manifest's exception code when the input shows one cleanly (not inferred, not raw)."""
    if re.search(r"not shown|not reached|raw exception code|per issue title|from bucket", text):
        return None
    first = text.split(" (")[0].strip()
    if re.fullmatch(r"[0-9A-Fa-f]{8}", first):
        return first.lower()
    if first.startswith("SIG"):
        return first.split()[0]
    match = re.match(r"(EXC_[A-Z_]+)", first)
    if match:
        return match.group(1)
    match = re.match(r"([a-z][a-z-]+|SEGV|FPE|ABRT)\b", first)
    return match.group(1) if match else None


ALIASES = {"attempting double-free": "double-free", "SEGV": "SEGV", "ABRT": "ABRT", "FPE": "FPE"}


def test_exception_codes_agree_with_the_manifest(shared: Path, analysed: dict) -> None:
    checked, wrong = 0, []
    for row in read_manifest(shared):
        expected = _shown_code(row.exception_code)
        report = analysed[row.file]
        if expected is None or row.kind == "minidump-expected":
            continue
        expected = ALIASES.get(row.exception_code.split(" on ")[0].split(" (")[0].strip(), expected)
        checked += 1
        actual = report.exception.code if report.exception else None
        if actual != expected:
            wrong.append(f"{row.file}: {actual} != {expected} ({row.exception_code})")
    assert checked >= 40
    assert not wrong, "\n".join(wrong)


SAME_CRASH = [
    # One dump, read directly and through three Breakpad-family tools.
    ["minidump/breakpad_minidump2.dmp", "minidump/breakpad_minidump2.rust-minidump-stackwalk.human.snap",
     "minidump/breakpad_minidump2.rust-minidump-stackwalk.json-pretty.snap"],
    # The same dump symbolised by two processors, in two output formats.
    ["minidump/breakpad_minidump2.stackwalk.out", "minidump/breakpad_minidump2.stackwalk.machine_readable.out",
     "minidump/breakpad_minidump2.rust-minidump-stackwalk.human-symbols.snap"],
    # One Linux crash written twice by two Breakpad versions, plus their processors' output.
    ["minidump/rustminidump_linux-mini.dmp", "minidump/symbolic_linux_mini.dmp",
     "minidump/rustminidump_linux-mini.human.snap", "minidump/rustminidump_linux-mini.json-pretty.snap",
     "minidump/symbolic_linux_mini.process_state.snap"],
    ["minidump/symbolic_windows_mini.dmp", "minidump/symbolic_windows_mini.process_state.snap"],
    ["minidump/symbolic_macos_mini.dmp", "minidump/symbolic_macos_mini.process_state.snap"],
]


@pytest.mark.parametrize("group", SAME_CRASH, ids=lambda g: Path(g[0]).stem)
def test_the_same_crash_in_several_files_gets_one_signature(analysed: dict, group: list[str]) -> None:
    ids = {name: analysed[name].signature.id for name in group}
    assert len(set(ids.values())) == 1, ids


# Different crashes that may share a signature, each pair named: nothing else is excused.
ALLOWED_COLLISIONS = [
    {"cdb/009.txt", "cdb/010.txt"},  # two demo crashes, both in AccessV!main
]


def test_different_crashes_get_different_signatures(shared: Path, analysed: dict) -> None:
    """Apart from the known same-crash groups and the named pairs, good-quality signatures do not collide."""
    grouped = {name for group in SAME_CRASH for name in group}
    files_by_signature: dict[str, set[str]] = {}
    for row in read_manifest(shared):
        report = analysed[row.file]
        if row.file in grouped or report.signature.quality != "good" or row.kind == "minidump-expected":
            continue
        files_by_signature.setdefault(report.signature.id, set()).add(row.file)
    collisions = [files for files in files_by_signature.values() if len(files) > 1]
    assert all(files in ALLOWED_COLLISIONS for files in collisions), [
        sorted(files) for files in collisions if files not in ALLOWED_COLLISIONS]


def test_heap_corruption_with_a_pseudo_stack_is_never_good_quality(shared: Path, analysed: dict,
                                                                  tmp_path: Path) -> None:
    """Two different heap bugs analysed to the same fake frame must not merge as `good`."""
    original = analysed["cdb/011.txt"]
    assert original.signature.quality == "low"
    text = (shared / "corpus" / "cdb" / "011.txt").read_text(encoding="utf-8")
    other_bug = text.replace("InvalidArgument", "BlockNotBusy").replace("72ed97fe", "5c1d0a2b")
    path = tmp_path / "other-heap-bug.txt"
    path.write_text(other_bug, encoding="utf-8")
    second = analyze_path(path)
    assert second.signature.quality == "low"
    assert second.signature.text == original.signature.text  # the same meaningless stack...
    assert second.signature.id != original.signature.id  # ...yet two issues, not one


def test_non_crash_inputs_are_not_misparsed_as_crashes(analysed: dict) -> None:
    """The corpus's crashes are all crashes; classification is tested on hangs etc. elsewhere."""
    assert all(r.kind == "crash" for r in analysed.values() if isinstance(r, CrashReport))

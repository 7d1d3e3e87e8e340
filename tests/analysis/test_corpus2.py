"""Real crash outputs crashfix was not first tuned on (../shared/corpus2): blame, grouping, no surprises.

The rows came from public issues of TrinityCore-family and other C++ servers, labelled by an
engineer with the frame they would blame and, where the same crash was posted more than once,
a cluster id. These tests hold the analysis to the same bar as the first corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_path
from crashfix.analysis.grouping import group
from crashfix.analysis.models import CrashReport
from crashfix.errors import ParseError
from tests.analysis.corpus_labels import matches, parse_label, read_manifest

TARGET_ACCURACY = 0.95


@pytest.fixture(scope="module")
def analysed(shared: Path) -> dict[str, CrashReport | ParseError]:
    results: dict[str, CrashReport | ParseError] = {}
    for row in read_manifest(shared, "corpus2"):
        try:
            results[row.file] = analyze_path(shared / "corpus2" / row.file)
        except ParseError as error:
            results[row.file] = error
    return results


def test_the_manifest_is_the_one_these_tests_were_written_for(shared: Path) -> None:
    rows = read_manifest(shared, "corpus2")
    assert len(rows) >= 50 and sum(1 for row in rows if row.cluster) >= 8


def test_every_labelled_file_parses_and_serialises(shared: Path, analysed: dict) -> None:
    """A file with a labelled frame is read; every report survives a JSON round trip."""
    unread = [f"{row.file}: {analysed[row.file].one_line()}" for row in read_manifest(shared, "corpus2")
              if parse_label(row.label) is not None and isinstance(analysed[row.file], ParseError)]
    assert not unread, "\n".join(unread)
    for name, report in analysed.items():
        if isinstance(report, CrashReport):
            dumped = json.loads(json.dumps(report.model_dump(mode="json")))
            assert CrashReport.model_validate(dumped).signature == report.signature, name


def test_blamed_frame_matches_the_engineers_label(shared: Path, analysed: dict) -> None:
    labelled = [(row, parse_label(row.label)) for row in read_manifest(shared, "corpus2")]
    labelled = [(row, expected) for row, expected in labelled if expected is not None]
    misses = []
    for row, expected in labelled:
        report = analysed[row.file]
        frame = report.blamed_frame if isinstance(report, CrashReport) else None
        if not matches(expected, frame):
            misses.append(f"{row.file}: blamed {frame.location() if frame else report}, label {row.label!r}")
    accuracy = 1 - len(misses) / len(labelled)
    print(f"corpus2 blamed-frame accuracy: {len(labelled) - len(misses)}/{len(labelled)} = {accuracy:.1%}")
    assert len(labelled) >= 35
    assert accuracy >= TARGET_ACCURACY, "\n".join(misses)


def test_each_cluster_of_the_same_crash_is_one_signature(shared: Path, analysed: dict) -> None:
    clusters: dict[str, set[str]] = {}
    for row in read_manifest(shared, "corpus2"):
        if row.cluster:
            report = analysed[row.file]
            assert isinstance(report, CrashReport), f"{row.file}: {report}"
            assert report.signature is not None
            clusters.setdefault(row.cluster, set()).add(report.signature.id)
    assert len(clusters) >= 3
    split = {cluster: ids for cluster, ids in clusters.items() if len(ids) > 1}
    assert not split, split


def test_no_two_clusters_share_a_signature_or_a_group(shared: Path, analysed: dict) -> None:
    rows = [row for row in read_manifest(shared, "corpus2") if row.cluster]
    signatures = [analysed[row.file].signature for row in rows]
    groups = group(signatures)
    owner: dict[object, str] = {}
    for row, number, signature in zip(rows, groups, signatures):
        for key in (("group", number), ("id", signature.id)):
            assert owner.setdefault(key, row.cluster) == row.cluster, f"{row.file} merges {row.cluster} with {owner[key]}"


def test_unread_files_say_what_was_missing(shared: Path, analysed: dict) -> None:
    """Fragments without a stack or an error line are refused in one sentence, never misread."""
    for name, result in analysed.items():
        if isinstance(result, ParseError):
            assert "\n" not in result.one_line() and len(result.one_line()) < 400, name

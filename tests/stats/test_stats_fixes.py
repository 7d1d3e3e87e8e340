"""`crashfix stats` answers "did it work?": fixes verified or not, time to a verified fix, crashes per uptime hour.

The records are the ones the uploader writes (rendered by its own renderers), with the fix state
and per-revision counts worked out by hand in the table of `seeded()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from crashfix.analysis.analyze import analyze_text, rules_for
from crashfix.cli import main
from crashfix.config import AnalysisSettings
from crashfix.issues.body import SourceLinks, render_body, title_for
from crashfix.issues.lifecycle import FixWatch
from crashfix.issues.record import IssueRecord, now_iso, trimmed_report
from tests.fakes.github_server import FakeGitHub
from tests.stats.helpers import DAY, T0, UPLOADER
from tests.uploader.helpers import REPO, TOKEN, gdb_crash

R1, R2, R3 = "1" * 40, "2" * 40, "3" * 40


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        yield fake


def seed(fake: FakeGitHub, function: str, **record: object) -> None:
    report = analyze_text(gdb_crash(function), rules=rules_for(AnalysisSettings()))
    assert report.signature is not None
    values: dict[str, object] = {"first_seen": now_iso(T0), "last_seen": now_iso(T0 + DAY)}
    values.update(record)
    full = IssueRecord(signature=report.signature, report=trimmed_report(report), **values)  # type: ignore[arg-type]
    fake.seed_issue(title_for(report), render_body(full, SourceLinks(None), None, "gdb"), labels=["crash"],
                    user=UPLOADER, created_at=T0)


def fix(status: str, **more: object) -> FixWatch:
    return FixWatch(commit="f" * 40, source="closed", recorded_at=now_iso(T0 + DAY), status=status,  # type: ignore[arg-type]
                    **more)  # type: ignore[arg-type]


def seeded(fake: FakeGitHub) -> None:
    """| issue | revisions        | first on | fix                                 | host uptime (h)            |
       |-------|------------------|----------|-------------------------------------|----------------------------|
       | A     | R1: 3            | R1       | verified 3 days after first seen    | a: R1 10, R2 80            |
       | B     | R1: 1, R2: 1     | R1       | ineffective, and one earlier too    | a: R1 9, R2 70 (older)     |
       | C     | R2: 2            | R2       | awaiting                            | a: R2 75; b: R2 20, R3 5   |
       | D     | unknown: 4       | –        | none                                | –                          |
    """
    seed(fake, "Spell::EffectA", occurrences=3, revisions={R1: 3}, first_revision=R1,
         uptime={"a": {R1: 10.0, R2: 80.0}}, fix=fix("verified", verified_at=now_iso(T0 + 3 * DAY)))
    seed(fake, "Spell::EffectB", occurrences=2, revisions={R1: 1, R2: 1}, first_revision=R1,
         uptime={"a": {R1: 9.0, R2: 70.0}}, fix=fix("ineffective"), past_fixes=[fix("ineffective")])
    seed(fake, "Spell::EffectC", occurrences=2, revisions={R2: 2}, first_revision=R2,
         uptime={"a": {R2: 75.0}, "b": {R2: 20.0, R3: 5.0}}, fix=fix("awaiting"))
    seed(fake, "Spell::EffectD", occurrences=4, revisions={"unknown": 4})


def test_fixes_and_crashes_per_uptime_hour(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    seeded(github)
    assert main(["stats", "--repo", REPO, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["fixes"]["verified"], stats["fixes"]["ineffective"], stats["fixes"]["awaiting"]) == (1, 2, 1)
    assert stats["crash_to_verified"]["count"] == 1 and stats["crash_to_verified"]["median_seconds"] == 3 * DAY
    by_revision = {row["revision"]: row for row in stats["revisions"]}
    # R1: 4 crashes in 10 h (host a's newest figure); R2: 3 crashes in 80 + 20 h; R3: 5 h without a crash
    assert (by_revision[R1]["crashes"], by_revision[R1]["uptime_hours"], by_revision[R1]["per_hour"]) == (4, 10.0, 0.4)
    assert (by_revision[R2]["crashes"], by_revision[R2]["uptime_hours"], by_revision[R2]["per_hour"]) == (3, 100.0,
                                                                                                          0.03)
    assert (by_revision[R3]["crashes"], by_revision[R3]["per_hour"]) == (0, 0.0)
    assert (by_revision[R1]["new_signatures"], by_revision[R2]["new_signatures"]) == (2, 1)
    assert "unknown" not in by_revision
    assert main(["stats", "--repo", REPO]) == 0
    out = capsys.readouterr().out
    assert "Fixes in production" in out and "1 verified, 2 ineffective, 1 awaiting" in out
    assert "Crash → verified fix" in out and "median 3.0 d" in out
    assert f"  {R1[:12]:<12}  {4:>7}  {'10.0 h':>9}  {'0.4':>8}  {2:>4}" in out
    assert main(["stats", "--repo", REPO, "--markdown"]) == 0
    assert f"| `{R2[:12]}` | 3 | 100.0 h | 0.03 | 1 |" in capsys.readouterr().out

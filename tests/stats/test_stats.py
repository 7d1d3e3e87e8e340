"""`crashfix stats` over a realistic history on the fake GitHub, through the real PyGithub client.

The expected figures are worked out by hand from the seeded history in `history()`'s table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.cli import main
from tests.fakes.github_server import FakeGitHub
from tests.stats.helpers import DAY, FIXER, T0, UPLOADER, old_sticky, outcome, seed_crash, seed_pull, sticky
from tests.uploader.helpers import REPO, TOKEN

MIN = 60.0


def history(fake: FakeGitHub) -> dict[str, int]:
    """Eight crash issues, a crashfix duplicate, a feature request, a human PR, a pasted (spoofed) state.

    | issue | occurrences, days       | fixer                       | PR                                  | cost  |
    |-------|-------------------------|-----------------------------|-------------------------------------|-------|
    | A     | 40: 10-01 30, 10-02 10  | fix-proposed                | +10 min, merged                     | 0.50  |
    | B     | 12: 10-02               | fix-proposed                | +20 min, merged, a human pushed     | 0.30  |
    | C     | 5: 10-03                | fix-proposed after reanalyze| +40 min, closed unmerged            | 0.35+0.45 |
    | D     | 3: 10-04, regression    | fix-proposed                | +4 min, open                        | 0.20  |
    | E     | 7: 10-04                | needs-human                 | –                                   | 1.10  |
    | F     | 1: 10-05, not planned   | –                           | –                                   | –     |
    | H     | 2: legacy record 10-05..10-06 | fix-proposed (old state) | +2 h, open, cost in PR body   | 0.42  |
    | I     | 4: 10-06, reanalyze label on | needs-human            | –                                   | 0.25  |
    """
    n: dict[str, int] = {}
    n["A"] = seed_crash(fake, "Spell::EffectA", occurrences=40, first_seen=T0,
                        daily={"2026-10-01": 30, "2026-10-02": 10}, state="closed", closed_at=T0 + 3 * DAY)
    n["B"] = seed_crash(fake, "Spell::EffectB", occurrences=12, first_seen=T0 + DAY, daily={"2026-10-02": 12},
                        state="closed", closed_at=T0 + 4 * DAY)
    n["C"] = seed_crash(fake, "Spell::EffectC", occurrences=5, first_seen=T0 + 2 * DAY, daily={"2026-10-03": 5})
    n["D"] = seed_crash(fake, "Spell::EffectD", occurrences=3, first_seen=T0 + 3 * DAY, daily={"2026-10-04": 3},
                        labels=["regression"])
    n["E"] = seed_crash(fake, "Spell::EffectE", occurrences=7, first_seen=T0 + 3 * DAY + 3600,
                        daily={"2026-10-04": 7})
    n["F"] = seed_crash(fake, "Spell::EffectF", occurrences=1, first_seen=T0 + 4 * DAY, daily={"2026-10-05": 1},
                        state="closed", closed_at=T0 + 4.5 * DAY, state_reason="not_planned")
    n["G"] = seed_crash(fake, "Spell::EffectA", occurrences=0, first_seen=T0 + 600, duplicate_of=n["A"],
                        state="closed", closed_at=T0 + 700, state_reason="not_planned")
    n["H"] = seed_crash(fake, "Spell::EffectH", occurrences=2, first_seen=T0 + 4 * DAY + 7200,
                        last_seen=T0 + 5 * DAY + 60)
    n["I"] = seed_crash(fake, "Spell::EffectI", occurrences=4, first_seen=T0 + 5 * DAY + 3600,
                        daily={"2026-10-06": 4}, labels=["reanalyze"])
    fake.seed_issue("Feature: show crash counts in game", "Would be nice.", user="player-one", created_at=T0)
    fake.seed_comment(n["A"], "Seen **3** more times (total 40).", user=UPLOADER, created_at=T0 + 2 * DAY)
    fake.seed_comment(n["E"], "Happens on realm-2 too.", user="player-one", created_at=T0 + 3 * DAY + 7200)

    def proposed(key: str, cost: float, minutes: float, sha: str) -> int:
        start = T0 + {"A": 0, "D": 3 * DAY}[key]
        result = outcome(n[key], "fix-proposed", cost=cost, commit=sha)
        pull = seed_pull(fake, result, start + minutes * MIN, sha=sha)
        sticky(fake, n[key], result.model_copy(update={"pull_number": pull}), start + minutes * MIN + 5)
        return pull

    pull_a = proposed("A", 0.50, 10, "a" * 40)
    result_b = outcome(n["B"], "fix-proposed", cost=0.30, commit="b" * 40)
    pull_b = seed_pull(fake, result_b, T0 + DAY + 20 * MIN, sha="c0ffee" * 6 + "beef",
                       body="Rewritten by a maintainer: Fixes the spell crash.")  # no marker: found by branch
    sticky(fake, n["B"], result_b.model_copy(update={"pull_number": pull_b}), T0 + DAY + 21 * MIN)
    result_c = outcome(n["C"], "fix-proposed", cost=0.45, commit="d" * 40,
                       trigger="label `reanalyze` added by @maintainer")
    pull_c = seed_pull(fake, result_c, T0 + 2 * DAY + 40 * MIN, sha="d" * 40)
    sticky(fake, n["C"], result_c.model_copy(update={"pull_number": pull_c}), T0 + 2 * DAY + 50 * MIN,
           previous={"status": "needs-human", "attempts": 1, "reanalyzed": 0, "total_cost_usd": 0.35})
    proposed("D", 0.20, 4, "e" * 40)
    sticky(fake, n["E"], outcome(n["E"], "needs-human", cost=1.10), T0 + 3 * DAY + 5000)
    result_h = outcome(n["H"], "fix-proposed", cost=0.42)
    pull_h = seed_pull(fake, result_h, T0 + 4 * DAY + 7200 + 2 * 3600)
    old_sticky(fake, n["H"], pull_h, T0 + 4 * DAY + 7200 + 2 * 3600 + 10)
    sticky(fake, n["I"], outcome(n["I"], "needs-human", cost=0.25), T0 + 5 * DAY + 7200)
    fake.seed_comment(n["I"], "<!-- crashfix:progress --> pasted by a person, no state", user="player-one",
                      created_at=T0 + 5 * DAY + 8000)
    spoof = '<!-- crashfix:progress -->\n<!-- crashfix:state\n{"status": "needs-human", "total_cost_usd": 99}\n-->'
    fake.seed_comment(n["A"], spoof, user="player-one", created_at=T0 + 6 * DAY)  # later, but not crashfix's
    fake.seed_pull("Refactor the spell system", "no crash here", head="feature/spells", user="player-one",
                   created_at=T0 + DAY)
    fake.close_pull(pull_a, merged=True, at=T0 + 2 * DAY)
    fake.close_pull(pull_b, merged=True, at=T0 + 3 * DAY)
    fake.close_pull(pull_c, merged=False, at=T0 + 4 * DAY)
    return n


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeGitHub(viewer=FIXER) as fake:
        fake.seed_label("crash")
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def run_stats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["stats", "--repo", REPO, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_figures_over_a_seeded_history_match_the_hand_count(github: FakeGitHub,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    n = history(github)
    code, out, err = run_stats(capsys, "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert (stats["crash_issues"], stats["distinct_signatures"], stats["occurrences"]) == (8, 8, 74)
    ratio = {key: (stats[key]["part"], stats[key]["whole"]) for key in
             ("processed", "autonomous", "fix_success", "false_positives", "interventions", "regressions")}
    assert ratio == {"processed": (7, 8),  # all but F
                     "autonomous": (4, 7),  # A, D, E, H; not B (human commits), C (reanalyzed), I (label on)
                     "fix_success": (2, 3),  # A, B merged; C closed unmerged
                     "false_positives": (1, 8),  # F; the duplicate G is not a crash issue of its own
                     "interventions": (2, 7),  # C, I
                     "regressions": (1, 8)}  # D
    assert stats["autonomous"]["met"] is False and stats["fix_success"]["met"] is False
    timing = stats["crash_to_pr"]
    # from first sighting: D 4 min, A 10 min, B 20 min, C 40 min, H 2 h -> median 20 min, p90 (5th of 5) 2 h
    assert (timing["count"], timing["median_seconds"], timing["p90_seconds"]) == (5, 1200, 7200)
    assert timing["met"] is True
    assert stats["crash_to_pr_seconds"] == [240, 600, 1200, 2400, 7200]
    assert (stats["pulls_merged"], stats["pulls_closed_unmerged"], stats["pulls_open"]) == (2, 1, 2)
    assert stats["reanalyze_runs"] == 2
    assert stats["outcomes"] == {"merged": 2, "pr-open": 2, "closed-unmerged": 1, "needs-human": 2,
                                 "not-processed": 1}
    cost = stats["cost"]
    # fixes: D .20, B .30, H .42 (PR body), A .50, C .80 (two attempts) -> median .42; total adds E 1.10, I .25
    assert (cost["count"], cost["median_usd"], cost["total_issues"]) == (5, 0.42, 7)
    assert cost["total_usd"] == pytest.approx(3.57)
    assert stats["daily_occurrences"] == {"2026-10-01": 30, "2026-10-02": 22, "2026-10-03": 5, "2026-10-04": 10,
                                          "2026-10-05": 2, "2026-10-06": 5}
    assert [(t["number"], t["occurrences"]) for t in stats["top_signatures"]][:3] == [(n["A"], 40), (n["B"], 12),
                                                                                     (n["E"], 7)]
    by_number = {row["number"]: row for row in stats["issues"]}
    assert by_number[n["B"]]["human_commits"] and not by_number[n["A"]]["human_commits"]
    assert n["G"] not in by_number
    assert stats["requests"] == 3  # one page each: issues, pull requests, comments
    assert all(fig["counted"] for fig in stats["figures"])


def test_since_narrows_to_issues_filed_in_the_window(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    n = history(github)
    code, out, err = run_stats(capsys, "--json", "--since", "2026-10-03")
    assert code == 0, err
    stats = json.loads(out)
    # C, D, E, F, H, I were filed on or after 10-03: 5 + 3 + 7 + 1 + 2 + 4 crashes
    assert (stats["crash_issues"], stats["occurrences"]) == (6, 22)
    assert sum(stats["daily_occurrences"].values()) == 22 and min(stats["daily_occurrences"]) == "2026-10-03"
    assert (stats["processed"]["part"], stats["processed"]["whole"]) == (5, 6)
    assert (stats["fix_success"]["part"], stats["fix_success"]["whole"]) == (0, 1)
    assert stats["since"] == "2026-10-03T00:00:00Z"
    assert n["A"] not in {row["number"] for row in stats["issues"]}
    for listing in ("/issues", "/issues/comments"):
        query = [r for r in github.requests if r.path.endswith(listing)][-1].query
        assert query["since"].startswith("2026-10-03") and query["per_page"] == "100"


def test_terminal_and_markdown_say_what_each_figure_counted(github: FakeGitHub,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    history(github)
    code, out, _ = run_stats(capsys)
    assert code == 0
    assert "Autonomous rate" in out and "4/7 processed issues (57%)" in out
    assert "counted: processed with no reanalyze label and no human commits on the PR" in out
    assert "median 20 min, p90 2.0 h over 5 issues" in out and "target median < 30 min (met)" in out
    assert "74 occurrences, 8 distinct signatures" in out
    assert "median $0.42 over 5 fixes; total $3.57 over 7 processed issues" in out
    code, out, _ = run_stats(capsys, "--markdown")
    assert code == 0 and out.startswith("## crashfix stats")
    assert "| Fix success rate | 2/3 decided PRs (67%) | > 90% (missed) |" in out


def test_an_empty_repository_reports_no_data_rather_than_failing(github: FakeGitHub, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_stats(capsys, "--html", str(tmp_path / "empty.html"), "--json-file", str(tmp_path / "s.json"))
    assert code == 0, err
    assert "0/0 processed issues (no data)" in out and "target > 95% (no data yet)" in out
    assert "No crashes in the window." in (tmp_path / "empty.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["crash_issues"] == 0


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["--since", "last tuesday"], {}, "--since 'last tuesday' is neither a date nor an age"),
    (["--since", "2999-01-01"], {}, "is in the future"),
    (["--repo", "acme/nothing-here"], {}, "not found while trying to open repository acme/nothing-here (404)"),
    (["--repo", "not a repo"], {}, "is not OWNER/NAME"),
    ([], {"GITHUB_TOKEN": "wrong"}, "GitHub rejected the token while trying to open repository"),
    ([], {"GITHUB_TOKEN": ""}, "no GitHub token"),
])
def test_bad_input_is_one_line_never_a_traceback(github: FakeGitHub, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                 env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["stats", "--repo", REPO, *args])
    err = capsys.readouterr().err
    assert code != 0 and expected in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_rate_limit_that_outlasts_the_wait_is_one_line(github: FakeGitHub, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    history(github)
    monkeypatch.setenv("CRASHFIX_STATS_MAX_RATE_WAIT", "1")
    github.primary_rate_limit(2, reset_in=3600)  # the repository and the issue listing, then nothing for an hour
    code = main(["stats", "--repo", REPO])
    err = capsys.readouterr().err
    assert code != 0 and "rate limit" in err.lower() and len(err.strip().splitlines()) == 1, err


def test_signature_text_with_backticks_stays_code_in_the_markdown() -> None:
    """MSVC names hold backticks (`anonymous namespace'): a single-backtick span would end early."""
    from crashfix.stats.compute import Snapshot, compute
    from crashfix.stats.models import TopSignature
    from crashfix.stats.render import markdown
    from tests.test_untrusted import acting

    stats = compute(Snapshot("acme/ws", [], [], [], now=1.8e9)).model_copy(update={"top_signatures": [TopSignature(
        number=3, title="t", signature="s", text="f`b @octocat fixes #1 c`", occurrences=2,
        state="open", url="https://github.com/acme/ws/issues/3")]})
    assert acting(markdown(stats)) == ["<a>", "link to https://github.com/acme/ws/issues/3"]

"""`crashfix stats` over more than 1,000 crash issues: every page read, 100 a page, within the rate limit."""

from __future__ import annotations

import json
import math
import time

import pytest

from crashfix.cli import main
from tests.fakes.github_server import FakeGitHub
from tests.stats.helpers import seed_many
from tests.stats.test_stats import github  # noqa: F401 - the fixture
from tests.uploader.helpers import REPO

ISSUES = 1100


def listing_pages(expected: dict[str, float]) -> int:
    """Issues (the listing includes PRs), pull requests, comments: 100 a page."""
    issue_objects = expected["issues"] + expected["pulls"]
    return sum(math.ceil(count / 100) for count in (issue_objects, expected["pulls"], expected["comments"]))


def test_more_than_a_thousand_issues_take_a_few_dozen_requests(github: FakeGitHub,  # noqa: F811
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    expected = seed_many(github, ISSUES)
    before = len(github.requests)
    started = time.perf_counter()
    code = main(["stats", "--repo", REPO, "--json"])
    elapsed = time.perf_counter() - started
    captured = capsys.readouterr()
    assert code == 0, captured.err
    stats = json.loads(captured.out)
    made = github.requests[before:]
    assert (stats["crash_issues"], stats["occurrences"]) == (ISSUES, expected["occurrences"])
    assert (stats["processed"]["part"], stats["processed"]["whole"]) == (ISSUES, ISSUES)
    assert (stats["pulls_merged"], stats["pulls_open"]) == (expected["merged"], expected["pulls"] - expected["merged"])
    assert (stats["fix_success"]["part"], stats["fix_success"]["whole"]) == (expected["merged"], expected["merged"])
    assert stats["crash_to_pr"]["median_seconds"] == 630  # every PR 10 min after its issue, filed 30 s after the crash
    pages = listing_pages(expected)  # 17 + 6 + 22 = 45
    assert len(made) == pages + 1 and stats["requests"] == pages  # + the repository itself
    assert all(r.query.get("per_page") == "100" for r in made if r.path.endswith(("/issues", "/pulls", "/comments")))
    assert all(r.status == 200 for r in made)
    assert int(made[-1].response_headers["X-RateLimit-Remaining"]) >= 5000 - pages - 1
    print(f"\nstats over {ISSUES} issues: {len(made)} requests, {elapsed:.2f} s")


def test_a_rate_limit_hit_midway_is_waited_out_and_the_figures_are_whole(
        github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    expected = seed_many(github, 250)
    github.primary_rate_limit(3, reset_in=2)  # the repository and two pages, then 403 until the window resets
    started = time.perf_counter()
    code = main(["stats", "--repo", REPO, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["crash_issues"] == expected["issues"]
    assert any(r.status == 403 for r in github.requests)  # it was limited, waited, and carried on
    assert time.perf_counter() - started < 30


def test_where_github_caps_the_comment_listing_each_issue_is_read(github: FakeGitHub,  # noqa: F811
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    expected = seed_many(github, 150)
    github.comment_listing_pages = 2  # 300 comments, but GitHub serves only 2 pages of 100 here
    code = main(["stats", "--repo", REPO, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    stats = json.loads(captured.out)
    assert (stats["processed"]["part"], stats["pulls_merged"]) == (expected["issues"], expected["merged"])
    assert [r.status for r in github.requests if r.path.endswith("/issues/comments")] == [200, 200, 422]
    assert len([r for r in github.requests if r.path.endswith(tuple(f"/issues/{n}/comments" for n in range(1, 400)))]) == 150
    assert "pagination is limited for this resource" in caplog.text and "one by one" in caplog.text

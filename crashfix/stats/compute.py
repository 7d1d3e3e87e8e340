"""`crashfix stats`: is the autonomous loop working? Computed only from what crashfix leaves on GitHub.

The sources are the crash issues' hidden records (signature, occurrences, first sighting,
occurrences per day), the sticky progress comment's hidden state (outcome, re-runs, the
commit crashfix pushed, tokens and cost) and the draft PRs (created, merged or closed, the
branch head). There is no database to drift from GitHub: whatever the figures say can be
checked by opening the issues. This module is pure; `stats_collect` does the reading.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from crashfix.github.records import CommentData, IssueData, PullData
from crashfix.issues.progress import PROGRESS_MARKER, read_state
from crashfix.issues.record import IssueRecord, find_signature, now_iso, parse_iso, parse_record
from crashfix.stats.fix_figures import loop_figures
from crashfix.stats.models import CrashStats, Duration, IssueStat, Money, Ratio, TopSignature

PROCESSED = ("fix-proposed", "needs-human")
_PULL_MARKER_RE = re.compile(r"<!-- crashfix:pull issue=(\d+)\b")
_PR_COST_RE = re.compile(r"## Cost\n[^\n]*?\$(\d+(?:\.\d+)?)")
_TARGET_RE = re.compile(r"([<>]) (\d+(?:\.\d+)?)%")
TOP = 10


@dataclass
class Snapshot:
    """What was read from GitHub for one report."""

    repository: str
    issues: list[IssueData]
    pulls: list[PullData]
    comments: list[CommentData]
    since: float | None = None
    now: float = 0.0
    branch_prefix: str = "crashfix/issue-"
    reanalyze_label: str = "reanalyze"
    regression_label: str = "regression"
    requests: int | None = None


@dataclass
class _Issue:
    data: IssueData
    record: IssueRecord | None
    signature: str
    state: dict[str, object] | None = None
    pulls: list[PullData] = field(default_factory=list)

    @property
    def first_seen(self) -> float:
        return parse_iso(self.record.first_seen) if self.record else self.data.created_at

    @property
    def occurrences(self) -> int:
        return self.record.occurrences if self.record else 0


def nearest_rank(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `percent`% of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def crash_issues(snapshot: Snapshot) -> list[_Issue]:
    """Issues carrying crashfix's signature marker, filed in the window; crashfix's own duplicates left out."""
    found = []
    for issue in snapshot.issues:
        signature = find_signature(issue.body)
        if signature is None or issue.is_pull_request:
            continue
        if snapshot.since is not None and issue.created_at < snapshot.since:
            continue
        record = parse_record(issue.body)
        if record is not None and record.duplicate_of is not None:
            continue
        found.append(_Issue(issue, record, signature))
    return found


def _attach(snapshot: Snapshot, issues: list[_Issue]) -> None:
    """Each issue's latest sticky state and its crashfix pull requests (by marker, else by branch name).

    A state from crashfix's own account (a bot, or whoever opened crashfix's PRs) wins over one
    that anybody else pasted into a comment.
    """
    by_number = {issue.data.number: issue for issue in issues}
    fixers: set[str] = set()
    for pull in sorted(snapshot.pulls, key=lambda p: (p.created_at, p.number)):
        marker = _PULL_MARKER_RE.search(pull.body)
        number = int(marker.group(1)) if marker else None
        if number is None and pull.head.startswith(snapshot.branch_prefix):
            tail = pull.head[len(snapshot.branch_prefix):]
            number = int(tail) if tail.isdigit() else None
        if number in by_number:
            by_number[number].pulls.append(pull)
            fixers.add(pull.author or "")

    def trusted(comment: CommentData) -> bool:
        author = comment.author or ""
        return bool(author) and (author in fixers or author.endswith("[bot]"))

    stickies = sorted((c for c in snapshot.comments if PROGRESS_MARKER in c.body and c.issue_number in by_number),
                      key=lambda c: (trusted(c), c.updated_at, c.id))
    for comment in stickies:
        state = read_state(comment.body)
        if state is not None and comment.issue_number is not None:
            by_number[comment.issue_number].state = state


def _outcome(issue: _Issue) -> str:
    if issue.pulls:
        latest = issue.pulls[-1]
        if latest.merged_at is not None:
            return "merged"
        return "closed-unmerged" if latest.state == "closed" else "pr-open"
    status = issue.state.get("status") if issue.state else None
    return "needs-human" if status == "needs-human" else "not-processed"


def _human_commits(issue: _Issue) -> bool:
    """Someone pushed to crashfix's PR: its head is no longer the commit crashfix recorded."""
    state = issue.state or {}
    commit, pull = state.get("commit"), state.get("pull")
    for candidate in issue.pulls:
        if candidate.number == pull and isinstance(commit, str) and commit and candidate.head_sha:
            return candidate.head_sha != commit
    return False


def _cost(issue: _Issue) -> float | None:
    """Dollars over every attempt (the sticky state's total), else the PR body's cost line (older runs)."""
    state = issue.state or {}
    for key in ("total_cost_usd", "cost_usd"):
        value = _number(state.get(key))
        if value is not None:
            return value
    for pull in reversed(issue.pulls):
        match = _PR_COST_RE.search(pull.body)
        if match:
            return float(match.group(1))
    return None


def _issue_stat(issue: _Issue, snapshot: Snapshot) -> IssueStat:
    state = issue.state or {}
    labels = {name.casefold() for name in issue.data.labels}
    first_pull = issue.pulls[0] if issue.pulls else None
    reanalyzed = int(_number(state.get("reanalyzed")) or 0)
    if snapshot.reanalyze_label.casefold() in labels:
        reanalyzed += 1  # asked for and not yet run
    return IssueStat(
        number=issue.data.number, signature=issue.signature, occurrences=issue.occurrences,
        state=issue.data.state, state_reason=issue.data.state_reason, outcome=_outcome(issue),
        fixer_status=state.get("status") if isinstance(state.get("status"), str) else None,  # type: ignore[arg-type]
        pull=issue.pulls[-1].number if issue.pulls else None,
        crash_to_pr_seconds=max(0.0, first_pull.created_at - issue.first_seen) if first_pull else None,
        reanalyzed=reanalyzed, human_commits=_human_commits(issue),
        regression=snapshot.regression_label.casefold() in labels, cost_usd=_cost(issue),
        verification=_verification(state))


def _verification(state: dict[str, object]) -> str | None:
    """The level the last run recorded; a record from before levels: built-and-tests-pass if verified."""
    level = state.get("verification")
    if isinstance(level, str):
        return level
    if "verified" in state:
        return "built-and-tests-pass" if state.get("verified") is True else "not-verified"
    return None


def _daily(issues: list[_Issue], since: float | None) -> dict[str, int]:
    """Crashes per UTC day from the records; records older than the per-day count split first/last sighting."""
    days: Counter[str] = Counter()
    for issue in issues:
        record = issue.record
        if record is None:
            continue
        if record.daily:
            days.update(record.daily)
        elif record.occurrences:
            days[record.first_seen[:10]] += 1
            days[record.last_seen[:10]] += record.occurrences - 1
    start = now_iso(since)[:10] if since is not None else ""
    return {day: count for day, count in sorted(days.items()) if day >= start and count}


def judged(ratio: Ratio) -> Ratio:
    """Met or missed, read from the target itself ("> 95%", "< 5%"); None while there is nothing to judge."""
    match = _TARGET_RE.fullmatch(ratio.target or "")
    share = ratio.percent
    if match and share is not None:
        limit = float(match.group(2))
        ratio.met = share > limit if match.group(1) == ">" else share < limit
    return ratio


def compute(snapshot: Snapshot) -> CrashStats:
    issues = crash_issues(snapshot)
    _attach(snapshot, issues)
    rows = [_issue_stat(issue, snapshot) for issue in issues]
    processed = [row for row in rows if row.fixer_status in PROCESSED]
    autonomous = [row for row in processed if row.reanalyzed == 0 and not row.human_commits]
    intervened = [row for row in processed if row.reanalyzed > 0]
    times = [row.crash_to_pr_seconds for row in rows if row.crash_to_pr_seconds is not None]
    outcomes = Counter(row.outcome for row in rows)
    merged, closed = outcomes["merged"], outcomes["closed-unmerged"]
    fixed_costs = [row.cost_usd for row in rows if row.pull is not None and row.cost_usd is not None]
    spent = [row.cost_usd for row in processed if row.cost_usd is not None]
    median = statistics.median(times) if times else None
    top = sorted(issues, key=lambda issue: (-issue.occurrences, issue.data.number))[:TOP]

    levels = Counter(row.verification for row in processed if row.verification)
    return CrashStats(
        verification=dict(sorted(levels.items())),
        repository=snapshot.repository, generated_at=now_iso(snapshot.now),
        since=now_iso(snapshot.since) if snapshot.since is not None else None,
        crash_issues=len(rows), distinct_signatures=len({row.signature for row in rows}),
        occurrences=sum(row.occurrences for row in rows),
        unreadable_records=sum(1 for issue in issues if issue.record is None),
        processed=Ratio(part=len(processed), whole=len(rows), unit="crash issues",
                        counted="the fixer finished them: a draft PR or a reasoned needs-human on the sticky "
                                "comment"),
        autonomous=judged(Ratio(part=len(autonomous), whole=len(processed), unit="processed issues",
                                counted="processed with no reanalyze label and no human commits on the PR",
                                target="> 95%")),
        crash_to_pr=Duration(count=len(times), median_seconds=median,
                             p90_seconds=nearest_rank(times, 90) if times else None,
                             counted="from the crash's first sighting (issue record) to its draft PR's creation",
                             target="median < 30 min", met=None if median is None else median < 1800),
        fix_success=judged(Ratio(part=merged, whole=merged + closed, unit="decided PRs",
                                 counted="merged, of crashfix PRs merged or closed unmerged (open ones wait)",
                                 target="> 90%")),
        false_positives=judged(Ratio(part=sum(1 for row in rows if row.state_reason == "not_planned"),
                                     whole=len(rows), unit="crash issues",
                                     counted="closed as not planned (crashfix's own duplicates left out)",
                                     target="< 5%")),
        interventions=judged(Ratio(part=len(intervened), whole=len(processed), unit="processed issues",
                                   counted="a maintainer added the reanalyze label at least once",
                                   target="< 5%")),
        reanalyze_runs=sum(row.reanalyzed for row in rows),
        regressions=Ratio(part=sum(1 for row in rows if row.regression), whole=len(rows), unit="crash issues",
                          counted="reopened by the uploader because a fixed crash came back (regression label)"),
        pulls_merged=merged, pulls_closed_unmerged=closed, pulls_open=outcomes["pr-open"],
        cost=Money(count=len(fixed_costs), median_usd=statistics.median(fixed_costs) if fixed_costs else None,
                   total_usd=round(sum(spent), 6), total_issues=len(spent),
                   counted="model spend over every attempt, from the sticky comment (else the PR body); median "
                           "over issues with a draft PR, total over all processed issues"),
        outcomes={name: outcomes[name] for name in ("merged", "pr-open", "closed-unmerged", "needs-human",
                                                    "not-processed")},
        top_signatures=[TopSignature(number=issue.data.number, title=issue.data.title, signature=issue.signature,
                                     text=issue.record.signature.text if issue.record else "",
                                     occurrences=issue.occurrences, state=issue.data.state, url=issue.data.html_url)
                        for issue in top],
        daily_occurrences=_daily(issues, snapshot.since),
        crash_to_pr_seconds=sorted(times), issues=rows, requests=snapshot.requests,
        **loop_figures([issue.record for issue in issues if issue.record is not None], nearest_rank),
    )

"""What `crashfix stats` reports: figures that each say what they counted, and the chart data.

The result crosses boundaries (terminal, `--json` for scripts, the HTML page, the job
summary), so it is one strict pydantic model; renderers never recompute anything.
"""

from __future__ import annotations

from pydantic import Field

from crashfix.analysis.models import Strict


class Ratio(Strict):
    """`part` of `whole`, with the sentence that says what was counted and the design's target."""

    part: int
    whole: int
    unit: str = Field(description="What `whole` counts, e.g. 'processed issues'.")
    counted: str = Field(description="How `part` was decided.")
    target: str | None = Field(default=None, description="The design target, e.g. '> 95%'.")
    met: bool | None = Field(default=None, description="None when there is nothing to judge yet.")

    @property
    def percent(self) -> float | None:
        return 100.0 * self.part / self.whole if self.whole else None

    def text(self) -> str:
        share = f" ({self.percent:.0f}%)" if self.percent is not None else " (no data)"
        return f"{self.part}/{self.whole} {self.unit}{share}"


class Duration(Strict):
    """Crash -> draft PR times: median and 90th percentile over `count` issues."""

    count: int
    median_seconds: float | None = None
    p90_seconds: float | None = None
    counted: str
    target: str | None = None
    met: bool | None = None


class Money(Strict):
    count: int = Field(description="Fixed issues whose cost is known.")
    median_usd: float | None = None
    total_usd: float = 0.0
    total_issues: int = Field(default=0, description="Processed issues whose spend is in the total.")
    counted: str


class TopSignature(Strict):
    number: int
    title: str
    signature: str
    text: str
    occurrences: int
    state: str
    url: str


class IssueStat(Strict):
    """One crash issue as the figures saw it (for scripts and for checking a figure by hand)."""

    number: int
    signature: str
    occurrences: int
    state: str
    state_reason: str | None = None
    outcome: str = Field(description="merged, closed-unmerged, pr-open, needs-human or not-processed.")
    fixer_status: str | None = None
    pull: int | None = None
    crash_to_pr_seconds: float | None = None
    reanalyzed: int = 0
    human_commits: bool = False
    regression: bool = False
    cost_usd: float | None = None
    verification: str | None = Field(default=None, description="The fix's verification level (the sticky record): "
                                     "reproduced-and-fixed, built-and-tests-pass or not-verified.")


class FixFigures(Strict):
    """Fixes under watch (from the records' fix state): did the merged fixes stop their crashes?"""

    verified: int = 0
    ineffective: int = Field(default=0, description="Current and earlier fixes the crash came back after.")
    awaiting: int = 0
    counted: str = ("fixes recorded on crash issues (a merged pull request's closing commit, or a fixed-in label): "
                    "verified by uptime on builds containing them without the crash, ineffective when it came back on "
                    "such a build (earlier fixes included), awaiting otherwise")


class RevisionStat(Strict):
    """One revision: its crashes against the hours servers ran it, and the signatures first seen on it."""

    revision: str
    crashes: int
    uptime_hours: float | None = None
    per_hour: float | None = Field(default=None, description="Crashes per hour of uptime, when uptime is known.")
    new_signatures: int = 0


class CrashStats(Strict):
    repository: str
    generated_at: str
    since: str | None = Field(default=None, description="Only crash issues filed on or after this (UTC).")
    crash_issues: int = Field(description="Crash issues (one per signature; crashfix's duplicates left out).")
    distinct_signatures: int
    occurrences: int = Field(description="Crashes counted on those issues (their records' occurrence counts).")
    unreadable_records: int = 0
    processed: Ratio
    autonomous: Ratio
    crash_to_pr: Duration
    fix_success: Ratio
    false_positives: Ratio
    interventions: Ratio
    reanalyze_runs: int = Field(description="Re-runs asked for with the reanalyze label, pending ones included.")
    regressions: Ratio
    pulls_merged: int
    pulls_closed_unmerged: int
    pulls_open: int
    cost: Money
    outcomes: dict[str, int] = Field(description="Crash issues by where they ended.")
    top_signatures: list[TopSignature] = Field(default_factory=list)
    daily_occurrences: dict[str, int] = Field(default_factory=dict, description="UTC day -> crashes.")
    crash_to_pr_seconds: list[float] = Field(default_factory=list)
    issues: list[IssueStat] = Field(default_factory=list)
    fixes: FixFigures = Field(default_factory=FixFigures)
    crash_to_verified: Duration = Field(default_factory=lambda: Duration(
        count=0, counted="from the crash's first sighting to its fix's verification (uptime without it)"))
    revisions: list[RevisionStat] = Field(default_factory=list, description="Most crashes first.")
    requests: int | None = Field(default=None, description="GitHub API requests the figures took, when known.")
    verification: dict[str, int] = Field(default_factory=dict, description="Processed issues by the verification "
                                         "level their last fix run reached (runs before levels: derived).")

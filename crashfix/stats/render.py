"""`crashfix stats` as text: a terminal table, Markdown for the Actions job summary, and JSON.

Every figure is one `Row`: its name, its value, the design's target (and whether it is
met), and what exactly was counted. The HTML page (`stats_html`) shows the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from crashfix.stats.models import CrashStats, Ratio
from crashfix.untrusted import code_span


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    value: str
    counted: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        if not self.target:
            return ""
        mark = {True: "met", False: "missed", None: "no data yet"}[self.met]
        return f"{self.target} ({mark})"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def dollars(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def _ratio(key: str, name: str, ratio: Ratio) -> Row:
    return Row(key, name, ratio.text(), ratio.counted, ratio.target or "", ratio.met)


def rows(stats: CrashStats) -> list[Row]:
    timing, cost, verified = stats.crash_to_pr, stats.cost, stats.crash_to_verified
    return [
        Row("occurrences", "Crashes", f"{stats.occurrences} occurrences, {stats.distinct_signatures} distinct "
            "signatures", f"occurrence counts in the hidden records of {stats.crash_issues} crash issues "
            "(one issue per signature)"),
        _ratio("processed", "Processed", stats.processed),
        _ratio("autonomous", "Autonomous rate", stats.autonomous),
        Row("crash-to-pr", "Crash → draft PR", f"median {duration(timing.median_seconds)}, p90 "
            f"{duration(timing.p90_seconds)} over {timing.count} issues", timing.counted, timing.target or "",
            timing.met),
        _ratio("fix-success", "Fix success rate", stats.fix_success),
        Row("pulls", "Draft PRs", f"{stats.pulls_merged} merged, {stats.pulls_closed_unmerged} closed unmerged, "
            f"{stats.pulls_open} open", "each crash issue's latest crashfix PR (found by its marker or branch)"),
        _ratio("false-positives", "False positives", stats.false_positives),
        _ratio("interventions", "Manual interventions", stats.interventions),
        Row("reanalyze", "Reanalyze runs", str(stats.reanalyze_runs),
            "re-runs a maintainer asked for with the reanalyze label, over all crash issues (pending ones too)"),
        _ratio("regressions", "Regressions", stats.regressions),
        Row("cost", "Cost per fix", f"median {dollars(cost.median_usd)} over {cost.count} fixes; total "
            f"{dollars(cost.total_usd)} over {cost.total_issues} processed issues", cost.counted),
        Row("fixes", "Fixes in production", f"{stats.fixes.verified} verified, {stats.fixes.ineffective} ineffective, "
            f"{stats.fixes.awaiting} awaiting", stats.fixes.counted),
        Row("crash-to-verified", "Crash → verified fix", f"median {duration(verified.median_seconds)}, p90 "
            f"{duration(verified.p90_seconds)} over {verified.count} issues", verified.counted),
    ]


def revision_lines(stats: CrashStats) -> list[tuple[str, str, str, str, str]]:
    """Per revision: (revision, crashes, uptime, crashes per hour, new signatures), as text."""
    return [(stat.revision[:12], str(stat.crashes), f"{stat.uptime_hours:.1f} h" if stat.uptime_hours else "–",
             f"{stat.per_hour:.3g}" if stat.per_hour is not None else "–", str(stat.new_signatures))
            for stat in stats.revisions]


def _scope(stats: CrashStats) -> str:
    since = f"crash issues filed since {stats.since.replace('T', ' ').replace('Z', ' UTC')}" if stats.since else (
        "all crash issues")
    spent = f"; {stats.requests} GitHub API requests for the listings" if stats.requests is not None else ""
    return f"{stats.repository}: {since} (generated {stats.generated_at.replace('T', ' ').replace('Z', ' UTC')}{spent})"


def terminal(stats: CrashStats) -> str:
    table = rows(stats)
    width = max(len(row.name) for row in table)
    lines = [f"crashfix stats for {_scope(stats)}", ""]
    for row in table:
        target = f"   target {row.verdict}" if row.target else ""
        lines.append(f"{row.name.ljust(width)}  {row.value}{target}")
        lines.append(f"{'':{width}}  counted: {row.counted}")
    if stats.unreadable_records:
        lines.append(f"\n{stats.unreadable_records} crash issue(s) had an unreadable record (edited by hand): "
                     "counted with 0 occurrences.")
    if stats.top_signatures:
        lines += ["", "Top signatures by occurrences:"]
        for top in stats.top_signatures:
            lines.append(f"  {top.occurrences:>6}  #{top.number:<6} {top.state:<6}  {top.text or top.title}")
    if stats.revisions:
        lines += ["", "Crashes per revision (uptime from the uploaders' records; new = signatures first seen on it):",
                  f"  {'revision':<12}  {'crashes':>7}  {'uptime':>9}  {'per hour':>8}  {'new':>4}"]
        lines += [f"  {rev:<12}  {crashes:>7}  {up:>9}  {rate:>8}  {new:>4}"
                  for rev, crashes, up, rate, new in revision_lines(stats)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(stats: CrashStats) -> str:
    """For `$GITHUB_STEP_SUMMARY`: the same rows as a table, then the top signatures."""
    lines = ["## crashfix stats", "", _cell(_scope(stats)), "", "| Figure | Value | Target | What was counted |",
             "|---|---|---|---|"]
    lines += [f"| {row.name} | {_cell(row.value)} | {_cell(row.verdict) or '–'} | {_cell(row.counted)} |"
              for row in rows(stats)]
    if stats.top_signatures:
        lines += ["", "### Top signatures by occurrences", "", "| Issue | Occurrences | State | Signature |",
                  "|---|---|---|---|"]
        lines += [f"| [#{top.number}]({top.url}) | {top.occurrences} | {top.state} | "
                  f"{_cell(code_span(top.text or top.title))} |" for top in stats.top_signatures]
    if stats.revisions:
        lines += ["", "### Crashes per revision", "", "| Revision | Crashes | Uptime | Crashes per hour | "
                  "New signatures |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(code_span(rev))} | {crashes} | {up} | {rate} | {new} |"
                  for rev, crashes, up, rate, new in revision_lines(stats)]
    return "\n".join(lines) + "\n"


def as_json(stats: CrashStats) -> str:
    data = stats.model_dump(mode="json")
    data["figures"] = [{"key": row.key, "name": row.name, "value": row.value, "counted": row.counted,
                        "target": row.target or None, "met": row.met} for row in rows(stats)]
    return json.dumps(data, indent=2)

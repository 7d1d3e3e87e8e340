"""What a crash issue says about builds and fixes: summary rows, the suspect commits, and the comments
the fix watch writes (a fix that did not hold, a crash on a build without the fix, a verified fix).

Everything from outside crashfix (commit titles, file names, revisions as a build named itself)
is shown in code spans, so nothing here can mention anyone or close an issue.
"""

from __future__ import annotations

from crashfix.issues.lifecycle import FixWatch, RegressionRange, total_uptime
from crashfix.issues.markdown import code
from crashfix.issues.record import IssueRecord

SHOWN_REVISIONS = 8


def short(revision: str) -> str:
    return revision[:12] if len(revision) == 40 else revision


def commit_link(web_url: str | None, sha: str) -> str:
    """`abc123def456` linked to its commit page (a code span alone when there is no repository URL
    or it is no full commit id)."""
    label = code(short(sha))
    if web_url and len(sha) == 40 and all(ch in "0123456789abcdef" for ch in sha):
        return f"[{label}]({web_url}/commit/{sha})"
    return label


def hours(value: float) -> str:
    """Hours of uptime as people read them: `72.3 h`, `4.5 min`, `8 s`."""
    if value >= 0.1:
        return f"{value:.1f} h"
    return f"{value * 60:.1f} min" if value * 60 >= 1 else f"{value * 3600:.0f} s"


def revisions_cell(record: IssueRecord, web_url: str | None) -> str:
    """`abc123def456` 3 in 12.0 h up, ...: crashes per revision against the hours the servers ran it."""
    up = total_uptime(record.uptime)
    cells = []
    for revision, count in sorted(record.revisions.items(), key=lambda kv: -kv[1])[:SHOWN_REVISIONS]:
        ran = f" in {hours(up[revision])} up" if up.get(revision) else ""
        cells.append(f"{commit_link(web_url, revision) if revision != 'unknown' else 'unknown'}: {count}{ran}")
    more = len(record.revisions) - SHOWN_REVISIONS
    return ", ".join(cells) + (f", and {more} more" if more > 0 else "") if cells else "—"


def fix_cell(fix: FixWatch, web_url: str | None, needed_hours: float | None = None) -> str:
    how = "the merged pull request that closed this issue" if fix.source == "closed" else "a `fixed-in` label"
    where = f"{commit_link(web_url, fix.commit)} (from {how})"
    if fix.status == "verified":
        return f"{where}: verified, no recurrence in {hours(fix.verified_hours or 0)} of uptime on builds with it"
    if fix.status == "ineffective":
        seen = f" {commit_link(web_url, fix.ineffective_revision)}" if fix.ineffective_revision else ""
        return f"{where}: did not hold, seen again on{seen or ' a build'} containing it"
    target = f" (verified after {needed_hours:g} h of uptime on builds with it)" if needed_hours else ""
    without = f"; {fix.without_fix} crash(es) on builds without it" if fix.without_fix else ""
    return f"{where}: awaiting verification{target}{without}"


def suspects_section(regression: RegressionRange, web_url: str | None) -> list[str]:
    """`### Suspect commits`: the commits of the regression range that touch files of the stack."""
    lines = ["", "### Suspect commits", "",
             f"First seen on {commit_link(web_url, regression.bad)}, after {hours(regression.good_hours)} of "
             f"uptime on {commit_link(web_url, regression.good)} without it. Of the "
             f"{regression.commits_in_range} commit(s) in between, these touch files of this stack (newest first):",
             ""]
    if not regression.suspects:
        return lines[:-1] + ["none: the crash's files did not change in the range (look at what they call)."]
    for suspect in regression.suspects:
        files = ", ".join(code(name) for name in suspect.files[:5])
        lines.append(f"- {commit_link(web_url, suspect.sha)} {code(suspect.title[:120])} — {files}")
    if regression.more_suspects:
        lines.append(f"- … and {regression.more_suspects} more")
    return lines


def ineffective_comment(fix: FixWatch, revision: str, occurrence: str, web_url: str | None, label: str) -> str:
    return (f"Seen again on revision {commit_link(web_url, revision)}, which contains the fix "
            f"{commit_link(web_url, fix.commit)}: the fix did not stop this crash. Reopened and labelled "
            f"{code(label)}.\n\nOccurrence: {occurrence}.")


def without_fix_comment(fix: FixWatch, revision: str | None, occurrence: str, web_url: str | None,
                        contains: bool | None) -> str:
    where = commit_link(web_url, revision) if revision else "a build of unknown revision"
    why = "does not contain" if contains is False else "could not be compared with"
    return (f"Seen again on {where}, which {why} the fix {commit_link(web_url, fix.commit)}: counted as a crash on "
            f"builds without the fix ({fix.without_fix + fix.unknown} so far), not reopened.\n\nOccurrence: "
            f"{occurrence}.")


def verified_comment(fix: FixWatch, per_revision: dict[str, float], web_url: str | None, label: str) -> str:
    total = sum(per_revision.values())
    ran = ", ".join(f"{commit_link(web_url, revision)} ({hours(value)})"
                    for revision, value in sorted(per_revision.items(), key=lambda kv: -kv[1])[:SHOWN_REVISIONS])
    return (f"No recurrence in {hours(total)} of server uptime on builds containing the fix "
            f"{commit_link(web_url, fix.commit)}: {ran}. Labelled {code(label)}.")

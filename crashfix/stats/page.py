"""`crashfix stats --html`: one self-contained page, charts drawn as inline SVG.

No scripts, fonts or images from anywhere: a Content-Security-Policy forbids every load,
so the page opens the same from an Actions artifact, a mail attachment or a laptop offline.
Numbers sit in the markup as text (and `data-` attributes) so a test can read them back
from the page a real browser rendered.
"""

from __future__ import annotations

from html import escape

from crashfix.stats.models import CrashStats
from crashfix.stats.render import Row, revision_lines, rows

BUCKETS = ((300, "< 5 min"), (900, "5–15 min"), (1800, "15–30 min"), (3600, "30–60 min"), (4 * 3600, "1–4 h"),
           (86400, "4–24 h"), (float("inf"), "> 1 day"))
OUTCOME_NAMES = {"merged": "PR merged", "pr-open": "PR open", "closed-unmerged": "PR closed unmerged",
                 "needs-human": "Needs a human", "not-processed": "Not processed"}
OUTCOME_COLORS = {"merged": "#1a7f37", "pr-open": "#0969da", "closed-unmerged": "#cf222e",
                  "needs-human": "#bf8700", "not-processed": "#8c959f"}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 960px;
       color: #1f2328; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; }
.scope { color: #59636e; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d1d9e0; vertical-align: top; }
td.value { font-weight: 600; white-space: nowrap; } td.counted { color: #59636e; font-size: 0.92em; }
.met { color: #1a7f37; } .missed { color: #cf222e; } .nodata { color: #8c959f; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
.charts figure { margin: 1.5em 0; } figcaption { color: #59636e; font-size: 0.92em; }
"""


def histogram(seconds: list[float]) -> list[tuple[str, int]]:
    counts = [0] * len(BUCKETS)
    for value in seconds:
        counts[next(i for i, (limit, _) in enumerate(BUCKETS) if value < limit)] += 1
    return [(label, count) for (_, label), count in zip(BUCKETS, counts)]


def _bars(chart_id: str, items: list[tuple[str, int]], colors: list[str], *, width: int = 900,
          height: int = 220, labels_every: int = 1) -> str:
    """Vertical bars with their counts on top; `data-label`/`data-count` carry the numbers."""
    top = max((count for _, count in items), default=0) or 1
    slot = (width - 40) / max(1, len(items))
    bar = max(1.0, slot * 0.8)
    plot = height - 60  # bar area; 20 px above for the tallest bar's count, 40 below for the axis labels
    parts = [f'<svg id="{chart_id}" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="30" y1="{plot + 20}" x2="{width - 5}" y2="{plot + 20}" stroke="#8c959f"/>']
    for index, ((label, count), color) in enumerate(zip(items, colors)):
        x = 35 + index * slot
        h = plot * count / top
        y = plot + 20 - h
        parts.append(f'<g class="bar" data-label="{escape(label)}" data-count="{count}">'
                     f'<title>{escape(label)}: {count}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}"/>')
        if labels_every == 1 or count:
            if len(items) <= 40 or count == top:
                parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{count}</text>')
        if index % labels_every == 0 or index == len(items) - 1:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{plot + 36}" text-anchor="middle">{escape(label)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _figure_row(row: Row) -> str:
    verdict = ""
    if row.target:
        css = {True: "met", False: "missed", None: "nodata"}[row.met]
        verdict = f'<span class="{css}">{escape(row.verdict)}</span>'
    return (f'<tr data-key="{row.key}"><th>{escape(row.name)}</th><td class="value">{escape(row.value)}</td>'
            f'<td class="target">{verdict}</td><td class="counted">{escape(row.counted)}</td></tr>')


def render(stats: CrashStats) -> str:
    days = list(stats.daily_occurrences.items())
    daily_chart = _bars("chart-daily", [(day, count) for day, count in days], ["#0969da"] * len(days),
                        labels_every=max(1, len(days) // 8)) if days else "<p>No crashes in the window.</p>"
    buckets = histogram(stats.crash_to_pr_seconds)
    outcome_items = [(OUTCOME_NAMES[key], count) for key, count in stats.outcomes.items()]
    outcome_colors = [OUTCOME_COLORS[key] for key in stats.outcomes]
    top_rows = "".join(
        f'<tr data-issue="{top.number}"><td><a href="{escape(top.url)}">#{top.number}</a></td>'
        f'<td class="occurrences">{top.occurrences}</td><td>{escape(top.state)}</td>'
        f"<td><code>{escape(top.text or top.title)}</code></td></tr>" for top in stats.top_signatures)
    revision_rows = "".join(f'<tr data-revision="{escape(rev)}"><td><code>{escape(rev)}</code></td><td>{crashes}</td>'
                            f"<td>{escape(up)}</td><td>{escape(rate)}</td><td>{new}</td></tr>"
                            for rev, crashes, up, rate, new in revision_lines(stats))
    scope = (f"Crash issues filed since {escape(stats.since)}" if stats.since else "All crash issues") + (
        f" · generated {escape(stats.generated_at)}")
    if stats.requests is not None:
        scope += f" · {stats.requests} GitHub API requests for the listings"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crashfix stats: {escape(stats.repository)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>crashfix stats: {escape(stats.repository)}</h1>
<p class="scope" id="scope">{scope}</p>
<table id="figures"><thead><tr><th>Figure</th><th>Value</th><th>Target</th><th>What was counted</th></tr></thead>
<tbody>{"".join(_figure_row(row) for row in rows(stats))}</tbody></table>
<section class="charts">
<h2>Charts</h2>
<h3>Crashes over time</h3>
<figure>{daily_chart}<figcaption>Crashes per day (UTC), from the per-day counts in the issues' hidden records;
{stats.occurrences} crashes in all.</figcaption></figure>
<h3>Crash → draft PR time</h3>
<figure>{_bars("chart-crash-to-pr", buckets, ["#8250df"] * len(buckets))}<figcaption>Crash → draft PR time over
{stats.crash_to_pr.count} issues: from the crash's first sighting to its draft PR's creation.</figcaption></figure>
<h3>Outcomes</h3>
<figure>{_bars("chart-outcomes", outcome_items, outcome_colors)}<figcaption>Where the {stats.crash_issues} crash
issues ended: their latest crashfix PR, else the fixer's outcome on the sticky comment.</figcaption></figure>
</section>
<h2>Top signatures by occurrences</h2>
<table id="top"><thead><tr><th>Issue</th><th>Occurrences</th><th>State</th><th>Signature</th></tr></thead>
<tbody>{top_rows}</tbody></table>
<h2>Crashes per revision</h2>
<table id="revisions"><thead><tr><th>Revision</th><th>Crashes</th><th>Uptime</th><th>Crashes per hour</th>
<th>New signatures</th></tr></thead>
<tbody>{revision_rows}</tbody></table>
</body></html>
"""

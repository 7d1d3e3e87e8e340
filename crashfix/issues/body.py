"""What a crash issue says: title, summary, top frames, raw analysis, hidden record.

The body has regions crashfix owns (the summary between `crashfix:summary` markers and
the record) and regions it writes once (the raw analysis); updates rewrite only the
owned regions, so notes people add to the body survive. GitHub caps a body at 65,536
characters: the raw analysis is trimmed first, then the frames table, never the record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from crashfix.analysis.models import CrashReport, Frame
from crashfix.analysis.render import describe_exception
from crashfix.issues.fix_text import fix_cell, revisions_cell, suspects_section
from crashfix.issues.markdown import code, fenced
from crashfix.issues.record import SIGNATURE_MARKER, IssueRecord, parse_iso, render_record, replace_record

BODY_LIMIT = 65_536
TITLE_LIMIT = 200
TOP_FRAMES = 20
SUMMARY_START = "<!-- crashfix:summary -->"
SUMMARY_END = "<!-- /crashfix:summary -->"
_SUMMARY_RE = re.compile(re.escape(SUMMARY_START) + r".*?" + re.escape(SUMMARY_END), re.S)


@dataclass(frozen=True)
class SourceLinks:
    """How to turn a frame's build-machine path into a link to the repository."""

    web_url: str | None  # https://github.com/OWNER/NAME
    roots: tuple[str, ...] = ()

    def relative(self, path: str) -> str | None:
        """`D:\\build\\src\\server\\game\\Player.cpp` -> `src/server/game/Player.cpp`."""
        normalized = path.replace("\\", "/")
        for root in self.roots:
            root_normalized = root.replace("\\", "/").rstrip("/") + "/"
            if normalized.lower().startswith(root_normalized.lower()):
                return normalized[len(root_normalized):]
        match = re.search(r"(?:^|/)((?:src|source|modules)/.+)$", normalized, re.IGNORECASE)
        return match.group(1) if match else None

    def link(self, frame: Frame, revision: str | None) -> str | None:
        if not (self.web_url and frame.file and revision):
            return None
        relative = self.relative(frame.file)
        if relative is None:
            return None
        anchor = f"#L{frame.line}" if frame.line else ""
        # Both come from crash text: percent-encoded, a space or a parenthesis cannot end the link early
        # and leave the rest of the path (a mention, "fixes #1", an image) live in the issue body.
        where = quote(f"{revision.rstrip('+')}/{relative}", safe="/-._~")
        return f"{self.web_url}/blob/{where}{anchor}"


def title_for(report: CrashReport) -> str:
    """`Crash: ACCESS_VIOLATION in Player::Update (Player.cpp:1234)`: short and stable."""
    exception = report.exception
    what = (exception.name or exception.code or exception.crash_class) if exception else "unknown exception"
    if exception and exception.name and ":" in exception.name:  # "AddressSanitizer: heap-use-after-free"
        what = exception.code or exception.name
    blamed = report.blamed_frame
    where = blamed.location() if blamed else "unknown frame"
    if blamed and blamed.function:
        where = blamed.function
    title = f"Crash: {what} in {where}"
    if blamed and blamed.file:
        name = re.split(r"[\\/]", blamed.file)[-1]
        title += f" ({name}:{blamed.line})" if blamed.line else f" ({name})"
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def _build_label(report: CrashReport) -> str | None:
    build = report.build
    if build is None:
        return None
    parts = [build.product, build.revision or build.version, f"({build.branch})" if build.branch else None]
    return " ".join(p for p in parts if p) or None


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{code(name)} ({n})" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:10]) or "—"


def render_summary(record: IssueRecord, links: SourceLinks, frame_rows: int = TOP_FRAMES) -> str:
    report, signature = record.report, record.signature
    revision = report.build.revision if report.build else None
    blamed = report.blamed_frame
    rows = [
        ("Exception", code(describe_exception(report.exception))),
        ("Faulting frame", _frame_cell(blamed, links, revision) if blamed else "—"),
        ("Module", code(report.faulting_module) if report.faulting_module else "—"),
        ("Build", code(_build_label(report) or "unknown")),
        ("First seen", record.first_seen.replace("T", " ").replace("Z", " UTC")),
        ("Last seen", record.last_seen.replace("T", " ").replace("Z", " UTC")),
        ("Occurrences", str(record.occurrences)),
        ("Builds", _counts(record.builds)),
        *([("Revisions", revisions_cell(record, links.web_url))] if record.revisions else []),
        *([("Fix", fix_cell(record.fix, links.web_url))] if record.fix else []),
        ("Hosts", _counts(record.hosts)),
        ("Signature", f"{code(signature.id)} {code(signature.crash_class + ' | ' + signature.text)}"),
        *([("Merged signatures", "<br>".join(f"{code(m.id)} {code(m.text)} (closed as a duplicate: #{m.issue})"
                                             for m in record.merged[:20]))] if record.merged else []),
        ("Quality", signature.quality + (f" — {'; '.join(signature.quality_reasons)}" if signature.quality_reasons
                                         else "")),
    ]
    lines = [SUMMARY_START, "| | |", "|---|---|", *[f"| {name} | {value} |" for name, value in rows]]
    if report.assertion and (report.assertion.condition or report.assertion.message):
        lines.append(f"| Assertion | {code(report.assertion.condition or report.assertion.message or '')} |")
    if record.duplicate_of:
        lines.append(f"\nDuplicate of #{record.duplicate_of}.")
    if record.regression is not None:
        lines += suspects_section(record.regression, links.web_url)
    if report.frames and frame_rows:
        lines += ["", "### Top frames", "", "| # | Frame | Source |", "|---|---|---|"]
        for frame in report.frames[:frame_rows]:
            marker = " ⟵ blamed" if blamed is not None and frame.index == blamed.index else ""
            source = _source_cell(frame, links, revision)
            lines.append(f"| {frame.index} | {code(frame.location())}{marker} | {source} |")
        if len(report.frames) > frame_rows:
            lines.append(f"| | … {len(report.frames) - frame_rows} more frames in the record below | |")
    lines.append(SUMMARY_END)
    return "\n".join(lines)


def _frame_cell(frame: Frame, links: SourceLinks, revision: str | None) -> str:
    source = _source_cell(frame, links, revision)
    return code(frame.location()) + (f" ({source})" if source != "—" else "")


def _source_cell(frame: Frame, links: SourceLinks, revision: str | None) -> str:
    where = frame.source()
    if not where:
        return "—"
    label = code(re.split(r"[\\/]", where)[-1])
    url = links.link(frame, revision)
    return f"[{label}]({url})" if url else label


def render_body(record: IssueRecord, links: SourceLinks, raw: str | None, raw_title: str) -> str:
    """A complete new issue body, trimmed to GitHub's limit."""
    head = SIGNATURE_MARKER.format(id=record.signature.id)
    tail = render_record(record)
    for frame_rows in (TOP_FRAMES, 10, 0):
        summary = render_summary(record, links, frame_rows)
        fixed = len(head) + len(summary) + len(tail) + 200
        budget = BODY_LIMIT - fixed
        if budget >= 0:
            break
    details = ""
    if raw and budget > 500:
        text = raw if len(raw) <= budget - 200 else raw[: budget - 300] + "\n… (trimmed to fit GitHub's limit)"
        details = f"\n<details><summary>{raw_title}</summary>\n\n{fenced(text)}\n\n</details>\n"
    note = ("\n_Filed by crashfix. The summary and the hidden record are updated on every repeat; "
            "text you add outside them is kept._\n")
    return f"{head}\n{summary}\n{details}{note}\n{tail}\n"


def update_body(body: str, record: IssueRecord, links: SourceLinks) -> str:
    """Rewrite the summary and the record of an existing body; keep everything else."""
    summary = render_summary(record, links)
    if _SUMMARY_RE.search(body):
        body = _SUMMARY_RE.sub(lambda _: summary, body, count=1)
    body = replace_record(body, record)
    if len(body) > BODY_LIMIT:  # people added text or the record grew: shrink our table first
        body = _SUMMARY_RE.sub(lambda _: render_summary(record, links, 0), body, count=1)
    if len(body) > BODY_LIMIT:  # then the raw analysis (the record keeps the crash itself)
        body = _RAW_DETAILS_RE.sub("\n_The raw analysis was removed to fit GitHub's limit._\n", body, count=1)
    return body


def replace_raw(body: str, raw: str, raw_title: str) -> str:
    """The raw analysis block with new text (a crash file that was still being written when filed)."""
    budget = BODY_LIMIT - len(_RAW_DETAILS_RE.sub("\n", body)) - 500
    if budget <= 500:
        return body
    text = raw if len(raw) <= budget - 200 else raw[: budget - 300] + "\n… (trimmed to fit GitHub's limit)"
    block = f"\n<details><summary>{raw_title}</summary>\n\n{fenced(text)}\n\n</details>\n"
    if _RAW_DETAILS_RE.search(body):
        return _RAW_DETAILS_RE.sub(lambda _: block, body, count=1)
    return body


def repeat_comment(record: IssueRecord, now: float) -> str:
    """What is new since the last repeat comment."""
    since = record.commented
    new = record.occurrences - since.occurrences
    lines = [f"Seen **{new}** more time{'s' if new != 1 else ''} (total {record.occurrences}); "
             f"last on {record.last_seen.replace('T', ' ').replace('Z', ' UTC')}."]
    new_builds = [b for b in record.builds if b not in since.builds]
    new_hosts = [h for h in record.hosts if h not in since.hosts]
    if new_builds:
        lines.append(f"New builds: {', '.join(code(b) for b in new_builds[:10])}.")
    if new_hosts:
        lines.append(f"New hosts: {', '.join(code(h) for h in new_hosts[:10])}.")
    return "\n\n".join(lines)


def regression_comment(build: str, built: str | None, closed_at: str) -> str:
    when = f" (built {built})" if built else ""
    return (f"Seen again on build {code(build)}{when}, which is newer than this issue's closing on "
            f"{closed_at.replace('T', ' ').replace('Z', ' UTC')}: the crash has come back. Reopened and labelled "
            "`regression`.")


def duplicate_comment(canonical: int) -> str:
    return (f"Duplicate of #{canonical}: two uploaders filed this crash signature at the same moment. "
            f"Its occurrences are counted on #{canonical}.")


def seconds_since(record_time: str | None, now: float) -> float:
    return now - parse_iso(record_time) if record_time else float("inf")



_RAW_DETAILS_RE = re.compile(r"\n<details><summary>[^<]*</summary>\n\n(`{3,})text\n.*?\n\1\n\n</details>\n", re.S)
_RECORD_BLOCK_RE = re.compile(r"<!-- crashfix:record\n.*?\n-->", re.S)
_SIGNATURE_LINE_RE = re.compile(r"<!-- crashfix:signature=[0-9a-f]+ -->")
_FILED_NOTE_RE = re.compile(r"\n_Filed by crashfix\..*?_\n", re.S)


def human_text(body: str) -> str:
    """What people added to a crash issue's body: everything crashfix did not write itself."""
    text = _SUMMARY_RE.sub("", body or "")
    text = _RAW_DETAILS_RE.sub("\n", text)
    text = _FILED_NOTE_RE.sub("\n", text)
    text = _RECORD_BLOCK_RE.sub("", text)
    text = _SIGNATURE_LINE_RE.sub("", text)
    return text.strip()

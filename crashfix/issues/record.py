"""The machine-readable record a crash issue carries in a hidden HTML comment.

The record is what the uploader updates on every repeat and what the fixer reads: the
signature, a representative crash report, occurrence counts per build and host, the
crash files already counted per host (so counting is idempotent across retries, kills
and lost spools; see `counted`), and the signatures merged into the issue when a
maintainer closed their issues as its duplicates.

Version 3 adds the crash's life beyond counting (see `lifecycle`): occurrences per revision,
uptime per revision, the fix under watch and a new crash's suspect commits. Version 2 records
(without them) and version 1 records (per-spool `watermarks` instead of `counted`) are still read.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from pydantic import Field, ValidationError

from crashfix.analysis.models import CrashReport, Frame, RelatedStack, Signature, Strict
from crashfix.issues.counted import HostCounted
from crashfix.issues.lifecycle import FixWatch, RegressionRange

RECORD_VERSION = 3
MAX_FRAMES = 64
MAX_RELATED_FRAMES = 32
MAX_TEXT = 500
DAILY_DAYS = 400

SIGNATURE_MARKER = "<!-- crashfix:signature={id} -->"
_SIGNATURE_RE = re.compile(r"<!-- crashfix:signature=([0-9a-f]{6,40}) -->")
_RECORD_RE = re.compile(r"<!-- crashfix:record\n(?P<json>.*?)\n-->", re.S)


class Baseline(Strict):
    """What the last repeat comment already told readers."""

    occurrences: int = 0
    builds: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)


class MergedSignature(Strict):
    """A signature whose issue a maintainer closed as a duplicate of this one."""

    id: str
    text: str
    issue: int


class IssueRecord(Strict):
    version: int = RECORD_VERSION
    signature: Signature
    report: CrashReport
    occurrences: int = 0
    first_seen: str
    last_seen: str
    builds: dict[str, int] = Field(default_factory=dict)
    hosts: dict[str, int] = Field(default_factory=dict)
    watermarks: dict[str, int] = Field(default_factory=dict, description="Version 1: per-spool sequence numbers.")
    counted: dict[str, HostCounted] = Field(default_factory=dict, description="Counted crash files per host id.")
    merged: list[MergedSignature] = Field(default_factory=list)
    daily: dict[str, int] = Field(default_factory=dict, description="Occurrences per UTC day (YYYY-MM-DD), "
                                  "the last DAILY_DAYS days: `crashfix stats` charts them over time.")
    last_comment_at: str | None = None
    commented: Baseline = Field(default_factory=Baseline)
    duplicate_of: int | None = None
    dump_path: str | None = Field(default=None, description="The newest dump, as a fix runner reads it (the "
                                  "uploader's share_paths); for a dump-inspecting tool server.")
    revisions: dict[str, int] = Field(default_factory=dict, description="Occurrences per revision (full commit "
                                      "ids where known, else as the build named itself).")
    first_revision: str | None = Field(default=None, description="The revision of the first occurrence.")
    uptime: dict[str, dict[str, float]] = Field(default_factory=dict, description="Per host id: hours of server "
                                                "uptime per revision, as of the host's last write.")
    fix: FixWatch | None = None
    past_fixes: list[FixWatch] = Field(default_factory=list)
    regression: RegressionRange | None = None


def now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def count_day(record: IssueRecord, seen: str) -> None:
    """One more occurrence on `seen`'s day; days beyond DAILY_DAYS fall off so the record stays small."""
    day = seen[:10]
    record.daily[day] = record.daily.get(day, 0) + 1
    if len(record.daily) > DAILY_DAYS:
        record.daily = dict(sorted(record.daily.items())[-DAILY_DAYS:])


def trimmed_report(report: CrashReport) -> CrashReport:
    """A copy small enough for an issue body: capped frames, stacks and free text."""
    copy = report.model_copy(deep=True)
    copy.frames = _cap_frames(copy.frames, MAX_FRAMES, copy.blamed_frame_index)
    copy.related_stacks = [
        RelatedStack(title=s.title[:MAX_TEXT], frames=_cap_frames(s.frames, MAX_RELATED_FRAMES, None))
        for s in copy.related_stacks[:3]
    ]
    copy.modules = copy.modules[:16]
    copy.facts = {k: v[:MAX_TEXT] for k, v in list(copy.facts.items())[:20]}
    copy.annotations = {k[:100]: v[:MAX_TEXT] for k, v in list(copy.annotations.items())[:20]}
    if copy.assertion is not None:
        for name in ("message", "condition", "file", "function"):
            value = getattr(copy.assertion, name)
            if value and len(value) > MAX_TEXT:
                setattr(copy.assertion, name, value[:MAX_TEXT])
    return copy


def _cap_frames(frames: list[Frame], limit: int, keep: int | None) -> list[Frame]:
    capped = [f.model_copy(update={"function": f.function[:300] if f.function else f.function,
                                   "file": f.file[:300] if f.file else f.file}) for f in frames[:limit]]
    if keep is not None and all(f.index != keep for f in capped):
        capped += [f for f in frames if f.index == keep]
    return capped


def render_record(record: IssueRecord) -> str:
    """The hidden block; `<` and `>` are escaped so crash text can never close the comment."""
    data = json.dumps(record.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<!-- crashfix:record\n{data}\n-->"


def find_signature(body: str | None) -> str | None:
    match = _SIGNATURE_RE.search(body or "")
    return match.group(1) if match else None


def parse_record(body: str | None) -> IssueRecord | None:
    """The record in an issue body, or None when absent or not readable (edited by hand)."""
    match = _RECORD_RE.search(body or "")
    if match is None:
        return None
    try:
        return IssueRecord.model_validate(json.loads(match.group("json")))
    except (ValueError, ValidationError):
        return None


def replace_record(body: str, record: IssueRecord) -> str:
    block = render_record(record)
    if _RECORD_RE.search(body):
        return _RECORD_RE.sub(lambda _: block, body, count=1)
    return body.rstrip() + "\n\n" + block + "\n"

"""Seeding the fake GitHub with the history crashfix leaves: crash issues with records, sticky comments, PRs.

Bodies are rendered by crashfix's own renderers (issue body, sticky comment, PR body), so
the stats tests read exactly what the uploader and the fixer write.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from crashfix.analysis.analyze import analyze_text, rules_for
from crashfix.config import AnalysisSettings
from crashfix.fixer.models import FixOutcome, FixProposal, TokenUse
from crashfix.fixer.report import Progress, pr_body
from crashfix.issues.body import SourceLinks, render_body, title_for
from crashfix.issues.record import IssueRecord, now_iso, trimmed_report
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import gdb_crash

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp()
DAY = 86400.0
FIXER = "github-actions[bot]"
UPLOADER = "uploader-bot"
PROPOSAL = FixProposal(status="fixed", root_cause="the target can be null after a teleport", explanation="e",
                       fix_summary="check the target", confidence="high", risk="low", guard_only=False)


def crash_body(function: str, *, occurrences: int, first_seen: float, daily: dict[str, int] | None = None,
               last_seen: float | None = None, duplicate_of: int | None = None) -> tuple[str, str, str]:
    """(title, body, signature id) of a crash issue as the uploader files it."""
    text = gdb_crash(function)
    report = analyze_text(text, rules=rules_for(AnalysisSettings()))
    assert report.signature is not None
    record = IssueRecord(signature=report.signature, report=trimmed_report(report), occurrences=occurrences,
                         first_seen=now_iso(first_seen), last_seen=now_iso(last_seen or first_seen),
                         daily=daily or {}, duplicate_of=duplicate_of, hosts={"realm-1": occurrences})
    return title_for(report), render_body(record, SourceLinks(None), text, "gdb backtrace"), report.signature.id


def seed_crash(fake: FakeGitHub, function: str, *, occurrences: int, first_seen: float,
               daily: dict[str, int] | None = None, **options: object) -> int:
    """A crash issue filed 30 s after its first sighting; `options`: state, closed_at, state_reason, labels,
    last_seen, duplicate_of."""
    title, body, _ = crash_body(function, occurrences=occurrences, first_seen=first_seen, daily=daily,
                                last_seen=options.pop("last_seen", None),  # type: ignore[arg-type]
                                duplicate_of=options.pop("duplicate_of", None))  # type: ignore[arg-type]
    labels = ["crash", *options.pop("labels", [])]  # type: ignore[misc]
    issue = fake.seed_issue(title, body, labels=labels, user=UPLOADER, created_at=first_seen + 30,
                            **options)  # type: ignore[arg-type]
    return int(issue["number"])


def outcome(number: int, status: str, *, cost: float | None, pull: int | None = None, commit: str | None = None,
            trigger: str = "issue opened by @uploader-bot", old_format: bool = False) -> FixOutcome:
    return FixOutcome(status=status, reason="draft PR" if pull else "build still failed", issue_number=number,  # type: ignore[arg-type]
                      signature="abc", crash_title="Crash: SIGSEGV in Spell::Effect", trigger=trigger,
                      pull_number=pull, commit=commit, proposal=PROPOSAL,
                      usage=TokenUse(input_tokens=12000, output_tokens=3000, turns=6, cost_usd=cost),
                      changed_files=["src/Spell.cpp"], diff_stats="1 file, +3 -1")


def sticky(fake: FakeGitHub, number: int, result: FixOutcome, at: float,
           previous: dict[str, object] | None = None) -> None:
    """The fixer's progress comment in its final state."""
    body = Progress().render("crashfix proposed a fix" if result.pull_number else "crashfix could not fix it",
                             result, previous=previous)
    fake.seed_comment(number, body, user=FIXER, created_at=at)


def old_sticky(fake: FakeGitHub, number: int, pull: int, at: float) -> None:
    """A sticky comment written before the state carried cost and commit (backward compatibility)."""
    state = {"status": "fix-proposed", "reason": f"draft PR #{pull}", "pull": pull, "root_cause": "x",
             "fix_summary": "y", "verified": True}
    body = f"<!-- crashfix:progress -->\n### crashfix proposed a fix\n\n<!-- crashfix:state\n{json.dumps(state)}\n-->"
    fake.seed_comment(number, body, user=FIXER, created_at=at)


def seed_pull(fake: FakeGitHub, result: FixOutcome, at: float, *, sha: str | None = None,
              body: str | None = None) -> int:
    """crashfix's draft PR for `result.issue_number`, its branch head at `sha` (crashfix's commit)."""
    pull = fake.seed_pull(f"Fix crash #{result.issue_number}", pr_body(result) if body is None else body,
                          head=f"crashfix/issue-{result.issue_number}", user=FIXER, created_at=at)
    number = int(pull["number"])
    if sha is not None:
        fake.push_to_pull(number, sha)
    return number


def seed_many(fake: FakeGitHub, issues: int) -> dict[str, float]:
    """`issues` crash issues: every one fixed by crashfix, every other one with a PR (a third of those merged),
    one repeat comment each. Returns the figures expected of them, worked out from that rule."""
    _, body, _ = crash_body("Spell::EffectBulk", occurrences=1, first_seen=T0)
    template = body
    pulls = merged = 0
    signature = re.search(r"crashfix:signature=([0-9a-f]+)", template)
    assert signature is not None
    with fake.lock:
        for index in range(issues):
            sig = f"{index:012x}"
            text = (template.replace(signature.group(1), sig)
                    .replace('"occurrences":1,', f'"occurrences":{index % 7 + 1},')
                    .replace(f'"first_seen":"{now_iso(T0)}"', f'"first_seen":"{now_iso(T0 + index * 60 - 30)}"'))
            number = int(fake.seed_issue(f"Crash: SIGSEGV in Spell::Effect{index}", text, labels=["crash"],
                                         user=UPLOADER, created_at=T0 + index * 60)["number"])
            fake.seed_comment(number, "Seen **1** more time.", user=UPLOADER, created_at=T0 + index * 60 + 5)
            pull = None
            if index % 2 == 0:
                result = outcome(number, "fix-proposed", cost=0.10, commit="f" * 40)
                pull = seed_pull(fake, result, T0 + index * 60 + 600, sha="f" * 40)
                pulls += 1
                if index % 6 == 0:
                    fake.close_pull(pull, merged=True, at=T0 + index * 60 + 7200)
                    merged += 1
            result = outcome(number, "fix-proposed" if pull else "needs-human", cost=0.10, pull=pull,
                             commit="f" * 40 if pull else None)
            sticky(fake, number, result, T0 + index * 60 + 700)
    occurrences = sum(index % 7 + 1 for index in range(issues))
    return {"issues": issues, "pulls": pulls, "merged": merged, "occurrences": occurrences,
            "comments": 2 * issues}

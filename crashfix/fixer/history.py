"""What changed before the crash, for the model: suspect commits' diffs, and a merged fix that did not hold.

The uploader records on a new crash's issue the commits of its regression range that touched
files of its stack (`issues.lifecycle.RegressionRange`), and on a crash that came back the fix
that did not stop it. Their diffs of those files are shown to the model after the located code,
newest first, within a quarter of `context_tokens` (the located code gets the rest). Diffs come
from the checkout when it has the commits, else from the API (Actions checks out one commit).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashfix.fixer.checkout.gitops import Git
from crashfix.github.records import GitHubError
from crashfix.issues.lifecycle import FixWatch, RegressionRange
from crashfix.issues.record import IssueRecord
from crashfix.locate.snippets import CHARS_PER_TOKEN, estimate_tokens
from crashfix.untrusted import inline

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)

SHARE = 4  # the history takes at most 1/SHARE of the context budget
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass
class History:
    text: str = ""
    tokens: int = 0
    commits: list[str] = field(default_factory=list)


def commit_history(record: IssueRecord | None, repo: RepoAPI | None, git: Git, context_tokens: int) -> History:
    """The suspect commits' and the failed fix's diffs as a prompt section, within `context_tokens // SHARE`."""
    if record is None or (record.regression is None and not _failed_fix(record)):
        return History()
    budget = context_tokens // SHARE
    reader = _Diffs(repo, git)
    parts: list[str] = []
    shown: list[str] = []
    failed = _failed_fix(record)
    if failed is not None:
        parts.append(_fix_heading(failed))
        diff = reader.diff(failed.commit, None)
        budget, block = _fit(diff, budget)
        if block:
            parts.append(block)
            shown.append(failed.commit)
    if record.regression is not None and record.regression.suspects:
        parts.append(_range_heading(record.regression))
        for suspect in record.regression.suspects:
            if budget <= 0:
                parts.append("(the remaining suspect commits are left out for length)")
                break
            diff = reader.diff(suspect.sha, suspect.files)
            budget, block = _fit(diff, budget)
            parts.append(f"### {suspect.sha[:12]} {inline(suspect.title, 200)} ({inline(', '.join(suspect.files))})")
            parts.append(block or "(its diff could not be read)")
            shown.append(suspect.sha)
    text = "\n\n".join(parts) + "\n"
    return History(text=text, tokens=estimate_tokens(text), commits=shown)


def _failed_fix(record: IssueRecord) -> FixWatch | None:
    """The recorded fix, when the crash came back on a build containing it."""
    if record.fix is not None and record.fix.status == "ineffective":
        return record.fix
    return None


def _fix_heading(fix: FixWatch) -> str:
    seen = f" on revision {fix.ineffective_revision[:12]}" if fix.ineffective_revision else ""
    return (f"\n## A fix that did not hold\nCommit {fix.commit[:12]} was merged as the fix of this crash, and the "
            f"crash came back{seen}, a build that contains it: find why it was not enough (it may have guarded a "
            "symptom, or another path reaches the same state). Its diff:")


def _range_heading(regression: RegressionRange) -> str:
    return (f"\n## Suspect commits\nThe crash first appeared on {regression.bad[:12]}; the server ran "
            f"{regression.good[:12]} for {regression.good_hours:.1f} h without it. Of the "
            f"{regression.commits_in_range} commit(s) in between, these changed files of the stack (newest first); "
            "one of them may have brought the crash in. Their diffs of those files:")


def _fit(diff: str | None, budget: int) -> tuple[int, str]:
    """A fenced diff cut to the budget left; (budget left, block)."""
    if not diff or budget <= 0:
        return budget, ""
    limit = int(budget * CHARS_PER_TOKEN)
    if len(diff) > limit:
        cut = diff.rfind("\n", 0, limit)
        diff = diff[: cut if cut > limit // 2 else limit] + "\n[... the rest of this diff is left out for length]"
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", diff)), default=0) + 1)
    block = f"{fence}diff\n{diff.rstrip()}\n{fence}"
    return budget - estimate_tokens(block), block


class _Diffs:
    def __init__(self, repo: RepoAPI | None, git: Git) -> None:
        self.repo = repo
        self.git = git

    def diff(self, sha: str, files: list[str] | None) -> str | None:
        """The commit's change (against its first parent), of `files` only when given."""
        if not _SHA.match(sha):
            return None
        if self._has(sha):
            text = self.git.run("diff", "--no-color", "--no-ext-diff", f"{sha}^1", sha, "--", *(files or []),
                                check=False)
            if text.strip():
                return text
        return self._from_api(sha, files)

    def _has(self, sha: str) -> bool:
        """The checkout has the commit and its parent (a shallow Actions checkout has neither)."""
        return self.git.run("rev-parse", "--verify", "--quiet", f"{sha}^1", check=False).strip() != ""

    def _from_api(self, sha: str, files: list[str] | None) -> str | None:
        if self.repo is None:
            return None
        try:
            commit = self.repo.commit(sha)
        except GitHubError as error:
            log.warning("cannot read commit %s: %s", sha[:12], error.one_line())
            return None
        if commit is None:
            return None
        wanted = set(files or [])
        chunks = [f"--- a/{change.previous_filename or change.filename}\n+++ b/{change.filename}\n{change.patch}"
                  for change in commit.files if change.patch and (not wanted or change.filename in wanted)]
        return "\n".join(chunks) or None

"""Where a fix run speaks on GitHub: one sticky progress comment, edited in place, and labels.

The sticky comment is found again by its hidden marker and its author (crashfix's own
account, or an app: the gate job writes "working" with the workflow's token, the deliver job
the outcome, perhaps with a GitHub App's), so re-runs update it instead of piling up comments,
and a person who pastes the marker into their own comment does not get it overwritten. In a
dry run (and in the fix job of the split workflow, which may not write) nothing is written;
the would-be comment is logged instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from crashfix.fixer.models import FixOutcome
from crashfix.github.records import CommentData, GitHubAuthError, GitHubNotFound
from crashfix.issues.progress import PROGRESS_MARKER, read_state

if TYPE_CHECKING:
    from crashfix.fixer.report import Progress
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)
LABEL_COLORS = {"crashfix:fix-proposed": "0e8a16", "crashfix:needs-human": "d93f0b"}


PROGRESS_INTERVAL = 15.0  # seconds between progress edits; GitHub asks writes to be few and spaced


class IssueChannel:
    def __init__(self, repo: RepoAPI, number: int, *, dry_run: bool, viewer: str | None,
                 labels: tuple[str, ...] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self.repo = repo
        self.current_labels = {name.casefold() for name in labels}
        self.clock = clock
        self._posted_at: float | None = None
        self.number = number
        self.dry_run = dry_run
        self.viewer = viewer
        self._comment_id: int | None = None
        self._last_body = ""
        self._found: CommentData | None = None
        self._looked = False

    def _ours(self, comment: CommentData) -> bool:
        """Written by this token's account, or by an app (`[bot]`): the gate job posts with the workflow's
        token, the deliver job may post with a GitHub App's or a person's token; it is one comment."""
        return bool(comment.author and (comment.author == self.viewer or comment.author.endswith("[bot]")))

    def existing(self) -> CommentData | None:
        """crashfix's sticky comment on the issue from an earlier run, if any."""
        if not self._looked:
            mine = [c for c in self.repo.comments(self.number) if PROGRESS_MARKER in c.body and self._ours(c)]
            self._found = mine[-1] if mine else None
            self._comment_id = self._found.id if self._found else None
            self._looked = True
        return self._found

    def previous_state(self) -> dict[str, object] | None:
        found = self.existing()
        return read_state(found.body) if found else None

    def post(self, body: str, *, force: bool = False) -> None:
        """Create or update the sticky comment: at once when `force`d or first, else at most every 15 s.

        A skipped update is superseded by the next one; the final state is always forced.
        """
        if body == self._last_body:
            return
        now = self.clock()
        if not force and self._posted_at is not None and now - self._posted_at < PROGRESS_INTERVAL:
            return
        self._posted_at = now
        self._last_body = body
        if self.dry_run:
            log.info("dry run: would set the progress comment on #%d to:\n%s", self.number, body)
            return
        self.existing()
        if self._comment_id is not None:
            try:
                self.repo.edit_comment(self.number, self._comment_id, body)
                return
            except (GitHubNotFound, GitHubAuthError):
                self._comment_id = None  # deleted meanwhile, or not ours to edit: start a new one
        self._comment_id = self.repo.comment(self.number, body).id

    def comment_once(self, marker: str, body: str) -> bool:
        """Post `body` unless a comment with `marker` is already there; True if posted."""
        if any(marker in c.body for c in self.repo.comments(self.number)):
            return False
        if self.dry_run:
            log.info("dry run: would comment on #%d:\n%s", self.number, body)
            return True
        self.repo.comment(self.number, body)
        return True

    def report(self, progress: Progress, headline: str, outcome: FixOutcome | None = None, footer: str = "") -> None:
        """The sticky comment from `progress`; the last attempt's hidden record carries over until `outcome`
        (the final word) replaces it, so the totals over all attempts, and the cost cap, always hold."""
        previous = self.previous_state()
        self.post(progress.render(headline, outcome, footer, previous), force=outcome is not None)

    def labels(self, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
        if self.dry_run:
            log.info("dry run: would label #%d +%s -%s", self.number, list(add), list(remove))
            return
        for name in add:
            self.repo.ensure_label(name, LABEL_COLORS.get(name, "5319e7"), "set by crashfix")
        if add:
            self.repo.add_labels(self.number, add)
            self.current_labels |= {name.casefold() for name in add}
        for name in remove:
            if name.casefold() in self.current_labels:  # removing an absent label is a wasted write
                self.repo.remove_label(self.number, name)
                self.current_labels.discard(name.casefold())

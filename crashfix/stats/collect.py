"""Reading what `crashfix stats` needs from GitHub in as few requests as listings allow.

Three paginated listings, 100 items a page, whatever the number of issues: the issues
(with their bodies and hidden records), the pull requests, and the repository's
comments (one listing for all issues instead of one per issue). 1,000 crash issues with
their PRs and comments cost about 60 requests, far inside GitHub's 5,000 an hour.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from crashfix.config import Config
from crashfix.errors import UsageError
from crashfix.github.records import CommentData, GitHubInvalid, IssueData
from crashfix.issues.record import find_signature
from crashfix.stats.compute import Snapshot, compute
from crashfix.stats.models import CrashStats

if TYPE_CHECKING:
    from crashfix.github.api import GitHubClient, RepoAPI

log = logging.getLogger(__name__)
_AGE_RE = re.compile(r"^(\d+)\s*([hdw])$", re.IGNORECASE)
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str | None, now: float) -> float | None:
    """`2026-11-01`, `2026-11-01T12:00:00Z` (or with an offset), or an age: `36h`, `30d`, `4w`."""
    if not text:
        return None
    value = text.strip()
    age = _AGE_RE.match(value)
    if age:
        return now - int(age.group(1)) * _UNITS[age.group(2).lower()]
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is neither a date nor an age",
                         "use a date like 2026-11-01, a time like 2026-11-01T12:00:00Z, or an age like 30d") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed.timestamp() > now + 86400:
        raise UsageError(f"--since {text} is in the future", "give a date in the past")
    return parsed.timestamp()


def collect(client: GitHubClient, repo: RepoAPI, *, since: float | None, now: float | None = None,
            branch_prefix: str = "crashfix/issue-", reanalyze_label: str = "reanalyze",
            regression_label: str = "regression") -> Snapshot:
    """Everything the figures are computed from; `since` narrows the listings to what changed since then."""
    before = client.rate_remaining()
    # GitHub's `since` filters on the last update: a superset of the issues filed since then.
    issues = list(repo.issues(state="all", since=since))
    pulls = list(repo.pulls(state="all"))
    comments = _comments(repo, issues, since)
    after = client.rate_remaining()
    used = before - after if before is not None and after is not None and before >= after else None
    return Snapshot(repository=repo.full_name, issues=issues, pulls=pulls, comments=comments, since=since,
                    now=time.time() if now is None else now, branch_prefix=branch_prefix,
                    reanalyze_label=reanalyze_label, regression_label=regression_label, requests=used)


def _comments(repo: RepoAPI, issues: list[IssueData], since: float | None) -> list[CommentData]:
    """All comments since the first crash issue, in one listing; per crash issue where GitHub caps that listing.

    A sticky comment is never older than its issue, so older comments are not asked for. GitHub
    stops deep pagination of the repository-wide listing ("Pagination is limited for this
    resource", 422) on very busy repositories; then each crash issue's comments are read instead.
    """
    crashes = [issue for issue in issues if find_signature(issue.body) is not None]
    if not crashes:
        return []
    start = min(issue.created_at for issue in crashes)
    try:
        return list(repo.all_comments(since=max(start, since) if since is not None else start))
    except GitHubInvalid as error:
        log.warning("%s; reading the comments of %d crash issues one by one", error.message, len(crashes))
    return [comment.model_copy(update={"issue_number": issue.number})
            for issue in crashes if since is None or issue.created_at >= since
            for comment in repo.comments(issue.number)]


def gather(repo_name: str | None, since_text: str | None, environ: Mapping[str, str], config: Config) -> CrashStats:
    """`crashfix stats`: settings from flags, config and the environment; one line for every failure."""
    from crashfix.github.connect import client_from, repository_name  # PyGithub loads only when GitHub is used

    name = repository_name(repo_name, environ) or config.uploader.repo
    if not name:
        raise UsageError("no repository to report on", "pass --repo OWNER/NAME (in Actions: $GITHUB_REPOSITORY)")
    now = time.time()
    since = parse_since(since_text, now)
    token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN") or ""
    if not token:
        raise UsageError("no GitHub token", "set GITHUB_TOKEN to a token that may read issues and pull requests")
    client = client_from(environ, token=token, max_rate_wait=float(environ.get("CRASHFIX_STATS_MAX_RATE_WAIT", "60")))
    repo = client.repository(name)
    snapshot = collect(client, repo, since=since, now=now, branch_prefix=config.fix.branch_prefix,
                       reanalyze_label=config.fix.reanalyze_label,
                       regression_label=config.uploader.regression_label)
    return compute(snapshot)

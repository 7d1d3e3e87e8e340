"""Verified work is never lost: which branch an attempt goes to, and where the checkout returns to.

On GitHub, `crashfix/issue-N` holds the fix under review. A run that does not verify must
not replace a verified commit there: its attempt goes to `crashfix/issue-N-attempt-K` (K the
next free number, from 2: the first attempt is the branch itself). Whether the branch's tip
is verified is read from the tip commit itself, so the one-job run and the deliver job of
the split workflow decide alike without the issue's comment: crashfix writes the trailer
`Crashfix-Verified: yes|no` into each commit (older commits: `Proposed-By: crashfix (NOT
verified)`). A tip is replaceable only when it is crashfix's own commit that says it is not
verified; a verified tip, and any commit someone else pushed onto the branch, is kept.
A verified run may continue the branch whatever its tip is.

Locally (`--local`) each attempt gets a branch of its own: `crashfix/local-<sig>` for the
first, then `crashfix/local-<sig>-attempt-K`; an existing branch is never reset. When the
run ends (fixed, failed or interrupted) the checkout goes back to the branch or commit it
was on, unless that would carry uncommitted edits over to it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from crashfix.fixer.checkout.gitops import Git, GitError
from crashfix.fixer.models import FixOutcome

log = logging.getLogger(__name__)

TRAILER = "Crashfix-Verified"
_TRAILER_LINE = re.compile(rf"^{TRAILER}:\s*(yes|no)\s*$", re.IGNORECASE | re.MULTILINE)
_PROPOSED_BY = re.compile(r"^Proposed-By:\s*crashfix\b(.*)$", re.IGNORECASE | re.MULTILINE)


def trailer(verified: bool) -> str:
    """The commit trailer that says whether this commit was built and tested."""
    return f"{TRAILER}: {'yes' if verified else 'no'}"


def replaceable(message: str) -> bool:
    """Whether a branch tip with this commit message may be replaced by an unverified attempt.

    Only crashfix's own unverified commit may: a verified one, or anyone else's commit, is kept.
    """
    said = _TRAILER_LINE.findall(message)
    if said:
        return said[-1].lower() == "no"
    proposed = _PROPOSED_BY.findall(message)
    return bool(proposed) and "not verified" in proposed[-1].lower()


def attempt_branch(branch: str, existing: Iterable[str]) -> str:
    """`branch-attempt-K` with K the next free number (2 after the branch itself)."""
    prefix = f"{branch}-attempt-"
    taken = [int(name[len(prefix):]) for name in existing
             if name.startswith(prefix) and name[len(prefix):].isdigit()]
    return f"{prefix}{max([1, *taken]) + 1}"


def listed_heads(ls_remote: str) -> list[str]:
    """Branch names in `git ls-remote --heads` output."""
    return [line.split("refs/heads/", 1)[1] for line in ls_remote.splitlines() if "refs/heads/" in line]


def attempt_pattern(branch: str) -> str:
    """The refspec pattern `git ls-remote` lists a branch's attempts with."""
    return f"refs/heads/{branch}-attempt-*"


def tip_message(git: Git, rev: str = "HEAD", extra_env: dict[str, str] | None = None) -> str:
    return git.run("log", "-1", "--format=%B", rev, extra_env=extra_env)


def to_attempt_branch(git: Git, remote: str, token: str | None, outcome: FixOutcome) -> None:
    """The one-job run's unverified result goes to the next free attempt branch; the checkout follows it."""
    kept = outcome.branch
    assert kept is not None
    outcome.branch = attempt_branch(kept, git.remote_branches(remote, attempt_pattern(kept), token))
    if git.run("symbolic-ref", "--quiet", "HEAD", check=False).strip() == f"refs/heads/{kept}":
        git.run("symbolic-ref", "HEAD", f"refs/heads/{outcome.branch}")
    outcome.reason += f"; the verified commit on {kept} was kept, this attempt went to {outcome.branch}"


# -- locally -----------------------------------------------------------------------------------


def local_branch(git: Git, branch: str) -> str:
    """`branch` if no local branch has that name yet, else its next free attempt name: nothing is reset."""
    names = git.run("for-each-ref", "--format=%(refname:short)", f"refs/heads/{branch}",
                    f"refs/heads/{branch}-attempt-*").split()
    return attempt_branch(branch, names) if branch in names else branch


def position(git: Git) -> str:
    """The branch the checkout is on, or the commit when detached: where it returns to after the run."""
    name = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return name or git.head()


def return_to(git: Git, where: str, branch: str | None) -> str:
    """Check `where` out again; a sentence for the outcome saying where the checkout is now."""
    if position(git) == where:
        return ""
    tracked = [path for path in git.run("status", "--porcelain", "--untracked-files=no").splitlines() if path.strip()]
    if tracked:
        return (f"the checkout stays on {branch or 'the attempt branch'}: it has uncommitted edits "
                f"({', '.join(line[3:] for line in tracked[:3])}) that would be carried over to {where}")
    try:
        git.run("checkout", "--quiet", where)
    except GitError as error:
        return f"the checkout stays on {branch or 'the attempt branch'}: {error.one_line()}"
    return f"the checkout is back on {where}"


def drop_if_empty(git: Git, branch: str | None, base: str | None) -> bool:
    """Delete the local attempt branch when it holds no commit of the attempt (nothing was changed or sealed)."""
    if not branch or not base or position(git) == branch:
        return False
    tip = git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).strip()
    if tip != base:
        return False
    git.run("update-ref", "-d", f"refs/heads/{branch}", base)
    return True


def leave(git: Git, where: str, outcome: FixOutcome) -> None:
    """The end of a local run: the checkout back on `where`, an attempt branch without a commit deleted."""
    note = return_to(git, where, outcome.branch)
    if outcome.commit is None and drop_if_empty(git, outcome.branch, outcome.base_commit):
        outcome.branch = None  # nothing of the attempt to keep: no branch left behind
    if note:
        outcome.reason = f"{outcome.reason}; {note}" if outcome.reason else note
        log.info("%s", note)

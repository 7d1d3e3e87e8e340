"""The repository's branches as the fake GitHub knows them, and what merging a pull request closes.

Branches come from a real bare git repository when one is linked (`FakeGitHub.use_git`: the
origin the fixer pushes to), so a pull request names branches that really exist; otherwise
from the names seeded with `seed_branch` (`main` always exists).

Closing keywords follow GitHub's "Linking a pull request to an issue": close, closes, closed,
fix, fixes, fixed, resolve, resolves, resolved (any case, optionally followed by a colon),
then `#N` or `OWNER/REPO#N`, in the pull request's body or its commits' messages, act only
when the pull request is merged into the default branch, and only on issues of the same
repository here (the fake holds one). With a linked repository a merge is a real merge commit
on the base branch, and the `closed` event of each issue it closes names that commit. In the body, text in Markdown code (`#1` in
backticks, fenced blocks) is not a reference, on GitHub as here; commit messages are not
Markdown, so backticks there protect nothing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.fakes import github_objects as objects

KEYWORD = re.compile(r"(?<![\w/#-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?[ \t]+"
                     r"(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<number>\d+)\b", re.IGNORECASE)
_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.DOTALL)


class Branches:
    """Branch tips by name: from a linked bare repository, else from a table of seeded names."""

    def __init__(self, full_name: str, default: str = "main") -> None:
        self.full_name = full_name
        self.default = default
        self.seeded: dict[str, str] = {default: objects.fake_sha(full_name, default)}
        self.git_dir: Path | None = None

    def sha(self, name: str) -> str | None:
        """The branch's tip commit, or None when there is no such branch."""
        if self.git_dir is None:
            return self.seeded.get(name)
        done = subprocess.run(["git", "--git-dir", str(self.git_dir), "rev-parse", "--verify", "--quiet",
                               f"refs/heads/{name}^{{commit}}"], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def seed(self, name: str, sha: str | None = None) -> str:
        if self.git_dir is not None:
            raise RuntimeError("branches come from the linked git repository: create them there")
        self.seeded[name] = sha or objects.fake_sha(self.full_name, name)
        return self.seeded[name]

    def messages(self, base: str, head: str) -> list[str]:
        """The commit messages a merge of `head` into `base` brings (real git only; seeded PRs carry theirs)."""
        if self.git_dir is None:
            return []
        done = subprocess.run(["git", "--git-dir", str(self.git_dir), "log", "--format=%B%x00",
                               f"refs/heads/{base}..refs/heads/{head}"], capture_output=True, text=True, check=False)
        return [message.strip() for message in done.stdout.split("\0") if message.strip()]

    def merge(self, base: str, head: str, message: str) -> str | None:
        """Merge `head` into `base` for real (a merge commit on `base`); None without a linked repository
        or when either branch is missing there (a seeded pull request)."""
        if self.git_dir is None or self.sha(base) is None or self.sha(head) is None:
            return None
        return merge_into(self.git_dir, base, head, message)


def closing_references(body: str | None, messages: list[str], full_name: str) -> list[int]:
    """Issue numbers of this repository that closing keywords in a PR's body and commits name, once each."""
    found: list[int] = []
    for text in [_CODE.sub(" ", body or ""), *messages]:
        for match in KEYWORD.finditer(text):
            repo = match.group("repo")
            number = int(match.group("number"))
            if (repo is None or repo.casefold() == full_name.casefold()) and number not in found:
                found.append(number)
    return found


def merge_into(git_dir: Path, base: str, head: str, message: str) -> str:
    """A real merge commit of branch `head` into branch `base` of a bare repository (what a merged PR makes)."""
    def run(*args: str) -> str:
        done = subprocess.run(["git", "--git-dir", str(git_dir), "-c", "user.name=GitHub",
                               "-c", "user.email=noreply@github.com", *args], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cannot merge {head} into {base}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip()

    base_sha, head_sha = run("rev-parse", f"refs/heads/{base}"), run("rev-parse", f"refs/heads/{head}")
    tree = run("merge-tree", "--write-tree", base_sha, head_sha).split()[0]
    merged = run("commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message)
    run("update-ref", f"refs/heads/{base}", merged, base_sha)
    return merged

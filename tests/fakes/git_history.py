"""A real git history for tests: commits made in a work clone and pushed to a bare `origin`.

The fake GitHub links the origin (`FakeGitHub.use_git`) and serves its commits, comparisons and
merges from it, so a test writes the history it needs (a fix, a regression, unrelated commits)
the way developers would, and crashfix reads it through the API.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = ("-c", "user.name=dev", "-c", "user.email=dev@example.com")


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return done.stdout


class GitHistory:
    """`origin` (bare, default branch main) and `work`, a clone commits are made in."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.clock = 1_790_000_000  # commit times step a minute each: a stable order, newest last
        git(root, "init", "-q", "--bare", "-b", "main", str(self.origin))
        git(root, "clone", "-q", str(self.origin), str(self.work))
        git(self.work, "checkout", "-q", "-b", "main")

    def commit(self, message: str, files: dict[str, str | None], *, branch: str = "main") -> str:
        """Write (or, for None, delete) files, commit them on `branch`, push it; returns the commit."""
        current = git(self.work, "symbolic-ref", "--short", "HEAD").strip()
        if current != branch:
            exists = git(self.work, "branch", "--list", branch).strip()
            git(self.work, "checkout", "-q", *([branch] if exists else ["-b", branch]))
        for name, text in files.items():
            path = self.work / name
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        git(self.work, "add", "-A")
        self.clock += 60
        stamp = f"@{self.clock} +0000"
        git(self.work, *IDENTITY, "commit", "-q", "--allow-empty", "-m", message,
            env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        git(self.work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return self.head()

    def branch(self, name: str, start: str) -> None:
        """A new branch at `start`, checked out for the next commits."""
        git(self.work, "checkout", "-q", "-B", name, start)

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD").strip()

    def fetch(self) -> None:
        """Take what the fake GitHub did to the origin (a merge) into the work clone."""
        git(self.work, "fetch", "-q", "origin")

    def follow(self, branch: str = "main") -> str:
        """Continue on `branch` as the origin has it now (after the fake GitHub merged into it)."""
        self.fetch()
        git(self.work, "checkout", "-q", "-B", branch, f"origin/{branch}")
        return self.head()

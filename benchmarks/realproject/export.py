"""A past commit of a local mirror as a fresh, clean git checkout crashfix can work on.

`git archive` would stop at the first blob the mirror lacks (a fetched snapshot leaves out
files of several MiB), so the tree is listed first, missing blobs are excluded from the
archive and written as empty placeholders, and the result is committed as the only commit
of a new repository (with the recipe's `.github/crashfix.toml`), so the checkout is clean.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

IDENTITY = ("-c", "user.name=real-project benchmark", "-c", "user.email=benchmark@example.invalid",
            "-c", "commit.gpgSign=false")


def git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args[:3])} failed in {cwd}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode("utf-8", "replace")


def git_bytes(cwd: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True).stdout


@dataclass
class Export:
    checkout: Path
    commit: str
    placeholders: list[str] = field(default_factory=list)


def missing_blobs(mirror: Path, commit: str) -> list[str]:
    """Paths in `commit` whose blobs the mirror does not have."""
    listing = git(mirror, "ls-tree", "-r", "-z", commit).split("\0")
    entries = [line.split("\t", 1) for line in listing if "\t" in line]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    query = "".join(f"{sha}\n" for sha, _ in blobs).encode()
    answers = git(mirror, "cat-file", "--batch-check", data=query).splitlines()
    return [path for (_, path), answer in zip(blobs, answers) if answer.endswith("missing")]


def export(mirror: Path, commit: str, checkout: Path, config_text: str, origin: str = "") -> Export:
    """`commit` of `mirror` into `checkout` (replaced) as a one-commit repository on branch main; `origin`
    (e.g. the project's GitHub URL, never fetched) names the repository as a clone's remote would."""
    if checkout.exists():
        shutil.rmtree(checkout)
    checkout.mkdir(parents=True)
    missing = missing_blobs(mirror, commit)
    excludes = [f":(exclude,literal){path}" for path in missing]
    archive = git_bytes(mirror, "archive", "--format=tar", commit, "--", ".", *excludes)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(checkout, filter="tar") if hasattr(tarfile, "tar_filter") else tar.extractall(checkout)  # noqa: S202
    for path in missing:
        target = checkout / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
    config = checkout / ".github" / "crashfix.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(config_text, encoding="utf-8")
    git(checkout, "init", "-q", "-b", "main")
    if origin:
        git(checkout, "remote", "add", "origin", origin)
    git(checkout, "add", "-A")
    git(checkout, *IDENTITY, "commit", "-q", "-m", f"export of {commit[:12]} (placeholders: {len(missing)})")
    return Export(checkout=checkout, commit=git(checkout, "rev-parse", "HEAD").strip(), placeholders=missing)


def reset(checkout: Path) -> None:
    """Back to the exported commit the way actions/checkout does on a self-hosted runner: files crashfix
    changed are restored (new times), untracked files removed, unchanged files keep their times."""
    git(checkout, "checkout", "-q", "-f", "main")
    git(checkout, "clean", "-q", "-ffdx")
    for branch in git(checkout, "for-each-ref", "--format=%(refname:short)", "refs/heads/crashfix/").split():
        git(checkout, "branch", "-q", "-D", branch)

"""What a build of model-written code could have changed behind crashfix's back in the repository's git.

The build runs as the same user as crashfix, in the checkout: it can write `.git/`. Two things
crashfix relies on afterwards are checked rather than trusted:

- **git's own settings.** A build that adds `filter.x.clean` to `.git/config` and `* filter=x` to
  `.git/info/attributes` makes crashfix's next `git status` or `git add` run its program, outside
  the step's containment. The settings are read before each build and compared after it.
- **the object store.** The sealed commit is made in a scratch repository that borrows the
  checkout's objects; git checks the hash of the root tree it writes, not of subtrees it reads. A
  build that replaced the loose object of an unchanged folder's tree could slip files into the
  commit. The base commit's full listing is taken before any build runs, and the commit's listing
  must be exactly that plus the files the model wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from crashfix.fixer.checkout.gitops import Git, GitError

Listing = dict[str, tuple[str, str]]  # path -> (mode, object id)

# Settings a build may legitimately add (`git submodule init` in a CMake script); nothing else may change.
_ALLOWED_PREFIXES = ("submodule.",)


class GitChangedByTheBuild(GitError):
    """A build step changed git's settings or objects; crashfix runs no further git command with them."""


def tree_listing(git: Git, rev: str) -> Listing:
    """Every file of `rev`'s tree: `git ls-tree -r --full-tree`."""
    listing: Listing = {}
    for entry in git.output("ls-tree", "-r", "-z", "--full-tree", rev).split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            mode, _kind, sha = meta.decode().split(" ")
            listing[path.decode("utf-8", "surrogateescape")] = (mode, sha)
    return listing


def check_commit(git: Git, commit: str, base: Listing, written: Mapping[str, str]) -> None:
    """The commit holds the base's files with exactly `written` (path -> blob id) changed or added."""
    expected = dict(base)
    for path, blob in written.items():
        expected[path] = (base[path][0] if path in base else "100644", blob)
    made = tree_listing(git, commit)
    if made != expected:
        odd = sorted(set(made.items()) ^ set(expected.items()))[:3]
        raise GitChangedByTheBuild(
            f"the commit crashfix made does not hold exactly the base files and the model's edits "
            f"(e.g. {', '.join(path for path, _ in odd)}): the repository's objects were changed while the build ran",
            "nothing was committed or pushed; check the build commands, which must not write to .git")


def git_settings(git: Git) -> tuple[frozenset[str], str]:
    """The repository's own git settings (includes followed) and its info/attributes, to compare."""
    listed = git.output("config", "--local", "--includes", "--list", "-z", check=False).decode("utf-8", "replace")
    entries = frozenset(e for e in listed.split("\0") if e and not e.lower().startswith(_ALLOWED_PREFIXES))
    folder = Path(git.run("rev-parse", "--absolute-git-dir").strip())
    attributes = folder / "info" / "attributes"
    return entries, attributes.read_text("utf-8", "replace") if attributes.is_file() else ""


@contextmanager
def settings_kept(git: Git, what: str) -> Iterator[None]:
    """Around a build step: afterwards git's settings must be what they were before it."""
    before = git_settings(git)
    yield
    after = git_settings(git)
    if after != before:
        keys = sorted({entry.split("\n", 1)[0][:80] for entry in after[0] ^ before[0]})
        where = ", ".join(keys[:3]) if keys else ".git/info/attributes"
        raise GitChangedByTheBuild(
            f"{what} changed the repository's git settings ({where}): crashfix runs no git command with them",
            "a build must not write to .git; check the build and test commands")

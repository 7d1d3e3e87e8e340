"""The result bundle: what the fix job hands to the deliver job, across the trust boundary.

The fix job builds and tests code a model wrote, on a self-hosted machine, holding no write
credential. Everything it has to say travels in one folder uploaded as a workflow artifact:

    crashfix-bundle.json   the result record (status, root cause, rounds, costs, the progress
                           table), the base commit, the blob hash of every changed file, the tree
    fix.patch              the verified change as a diff against the base commit (when there is one)

The deliver job trusts none of it: the record is validated (a strict schema, sizes capped, the
repository, issue and branch must be the deliver job's own), and the patch is read line by line
before git sees it: only regular text files changed or added inside the repository, never under
`.github/` or `.git/`, no links, submodules, mode changes, renames, deletions or binary content,
at most `MAX_FILES` files and `MAX_PATCH_BYTES`; the paths it touches must be exactly the files
listed with their hashes. `apply` then makes the commit in a fresh repository: the base
commit fetched from GitHub (and checked to be the branch's tip, or on the base branch), the
patch applied to a fresh index, every blob and the whole tree checked against the verified
ones, and nothing of the runner's checkout involved.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from crashfix.analysis.models import Strict
from crashfix.errors import CrashfixError
from crashfix.fixer.checkout.gitops import ScratchRepo
from crashfix.fixer.checkout.jail import NEW_FILE_SUFFIXES, PathRefused, change_refusal, relative_path
from crashfix.fixer.models import FixOutcome

FORMAT: Literal["crashfix-bundle/1"] = "crashfix-bundle/1"
RECORD = "crashfix-bundle.json"
PATCH = "fix.patch"
MAX_FILES = 50
MAX_PATCH_BYTES = 2 * 2**20
MAX_RECORD_BYTES = 4 * 2**20
BASE_DEPTH = 200  # how far back on the base branch the recorded base commit may be
_SHA = r"^[0-9a-f]{40}$"
PhaseState = Literal["pending", "running", "done", "failed", "skipped"]


class BundleRefused(CrashfixError):
    """The fix job's result cannot be delivered as it is; the message says what is wrong with it."""


class Bundle(Strict):
    """The result record of one fix job."""

    format: Literal["crashfix-bundle/1"] = FORMAT
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    issue: int = Field(ge=1)
    branch: str | None = Field(default=None, max_length=200)
    base_commit: str | None = Field(default=None, pattern=_SHA)
    tree: str | None = Field(default=None, pattern=_SHA, description="The verified commit's tree.")
    files: dict[str, str] = Field(default_factory=dict, description="Changed path -> blob hash of its content.")
    patch_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    outcome: FixOutcome
    progress: dict[str, tuple[PhaseState, str]] = Field(default_factory=dict)


def write(folder: Path, bundle: Bundle, patch: str | None) -> None:
    """Write the bundle into `folder` (made empty first); a reader never sees half of it."""
    staging = Path(tempfile.mkdtemp(prefix="crashfix-bundle-", dir=folder.parent if folder.parent.is_dir() else None))
    try:
        if patch is not None:
            data = patch.encode("utf-8", "surrogateescape")
            (staging / PATCH).write_bytes(data)
            bundle = bundle.model_copy(update={"patch_sha256": hashlib.sha256(data).hexdigest()})
        (staging / RECORD).write_text(bundle.model_dump_json(indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read(folder: Path, *, repository: str, issue: int, branch: str) -> tuple[Bundle, bytes | None]:
    """The bundle in `folder`, checked against what the deliver job knows itself; BundleRefused if anything is off."""
    record = folder / RECORD
    if not record.is_file():
        raise BundleRefused(f"the fix job left no result ({RECORD} is missing)")
    if record.stat().st_size > MAX_RECORD_BYTES:
        raise BundleRefused(f"{RECORD} is larger than {MAX_RECORD_BYTES // 2**20} MB")
    try:
        bundle = Bundle.model_validate(json.loads(record.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as error:
        first = error.errors()[0] if isinstance(error, ValidationError) else None
        where = ".".join(str(part) for part in first["loc"]) + ": " + first["msg"] if first else str(error)[:200]
        raise BundleRefused(f"{RECORD} is not a valid result record ({where})") from None
    if (bundle.repository.casefold(), bundle.issue) != (repository.casefold(), issue):
        raise BundleRefused(f"the result is for {bundle.repository}#{bundle.issue}, not {repository}#{issue}")
    if bundle.branch not in (None, branch):
        raise BundleRefused(f"the result names the branch {bundle.branch!r}, not {branch!r}")
    signature = bundle.outcome.signature
    if signature is not None and not re.fullmatch(r"[0-9a-f]{6,64}", signature):
        raise BundleRefused("the result's crash signature is not a signature id")
    patch = _patch(folder, bundle)
    return bundle, patch


def _patch(folder: Path, bundle: Bundle) -> bytes | None:
    path = folder / PATCH
    if not bundle.files:
        if path.exists():
            raise BundleRefused(f"{PATCH} is there, but the result lists no changed file")
        return None
    if not path.is_file() or path.is_symlink():
        raise BundleRefused(f"the result lists changed files but {PATCH} is missing")
    if path.stat().st_size > MAX_PATCH_BYTES:
        raise BundleRefused(f"{PATCH} is larger than {MAX_PATCH_BYTES // 2**20} MB; a minimal fix is far smaller")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != bundle.patch_sha256:
        raise BundleRefused(f"{PATCH} is not the patch the result record describes (its hash differs)")
    if bundle.base_commit is None or bundle.tree is None:
        raise BundleRefused("the result has a patch but no base commit or tree to apply it to")
    check_patch(data, bundle.files)
    return data


_HEADER = re.compile(r"^diff --git a/(?P<a>\S+) b/(?P<b>\S+)$")
_INDEX = re.compile(r"^index [0-9a-f]{7,64}\.\.[0-9a-f]{7,64}(?: (?P<mode>\d{6}))?$")
_ALLOWED_MODES = ("100644", "100755")
_HUNK = re.compile(r"^@@ -\d+(?:,(?P<old>\d+))? \+\d+(?:,(?P<new>\d+))? @@")


def check_patch(data: bytes, files: dict[str, str]) -> None:
    """BundleRefused unless `data` is a plain text patch changing exactly `files`, each a regular file."""
    if len(files) > MAX_FILES:
        raise BundleRefused(f"the result changes {len(files)} files; at most {MAX_FILES} are delivered")
    if b"\0" in data:
        raise BundleRefused(f"{PATCH} holds NUL bytes: binary content is never delivered")
    for path, blob in files.items():
        _check_path(path)
        if not re.fullmatch(r"[0-9a-f]{40}", blob):
            raise BundleRefused(f"the hash given for {path!r} is not a blob hash")
    seen: list[str] = []
    state = "start"
    left = [0, 0]  # lines still due in the current hunk: old side, new side
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the patch's final newline
    for number, raw in enumerate(lines, 1):
        line = raw.removesuffix("\r")
        header = _HEADER.match(line)
        if header and left != [0, 0]:
            raise BundleRefused(f"{PATCH} line {number}: a file header inside a hunk of {seen[-1]!r}")
        if header:
            if header["a"] != header["b"]:
                raise BundleRefused(f"{PATCH} line {number}: a rename or copy ({header['a']} -> {header['b']})")
            seen.append(_check_path(header["a"]))
            state = "extended"
            continue
        if state == "start":
            if line:
                raise BundleRefused(f"{PATCH} line {number}: text before the first file header")
            continue
        if state == "hunks":
            _count(line, number, seen[-1], left)
            continue
        state = _check_line(line, number, state, seen[-1])
        if state == "hunks":
            left[:] = [0, 0]
        if state == "new-file" and Path(seen[-1]).suffix.lower() not in NEW_FILE_SUFFIXES:
            raise BundleRefused(f"{PATCH} creates {seen[-1]!r}: new files must be source or text files")
        state = "extended" if state == "new-file" else state
    if left != [0, 0]:
        raise BundleRefused(f"{PATCH} ends inside a hunk of {seen[-1]!r}")
    if sorted(seen) != sorted(files) or len(set(seen)) != len(seen):
        raise BundleRefused(f"{PATCH} changes {sorted(seen)}, not exactly the files listed with their hashes "
                            f"({sorted(files)})")


def _check_line(line: str, number: int, state: str, path: str) -> str:
    """The next parser state after one line of a file's section; BundleRefused for anything but text hunks."""
    where = f"{PATCH} line {number} ({path})"
    if state == "extended":
        index = _INDEX.match(line)
        if index:
            if index["mode"] not in (None, *_ALLOWED_MODES):
                raise BundleRefused(f"{where}: file mode {index['mode']} (a link or submodule) is never delivered")
            return "extended"
        if line == "new file mode 100644":
            return "new-file"
        if line in (f"--- a/{path}", "--- /dev/null"):
            return "minus"
        what = line.split(" ")[0] if line else "an empty line"
        if line.startswith(("old mode", "new mode", "deleted file", "new file mode", "similarity", "rename",
                            "copy", "dissimilarity", "Binary files", "GIT binary patch")):
            what = line
        raise BundleRefused(f"{where}: {what!r} (only changes to the text of regular files are delivered)")
    if state == "minus":
        if line != f"+++ b/{path}":
            raise BundleRefused(f"{where}: expected '+++ b/{path}'")
        return "hunks"
    raise BundleRefused(f"{where}: not part of a text hunk: {line[:60]!r}")


def _count(line: str, number: int, path: str, left: list[int]) -> None:
    """One line of a file's hunks, counted against its `@@` header: a line past the counts (which `git apply`
    would read as the header of another file) is refused."""
    where = f"{PATCH} line {number} ({path})"
    if line.startswith("\\ "):
        return  # "\ No newline at end of file", after the line it speaks of
    if left == [0, 0]:
        hunk = _HUNK.match(line)
        if not hunk:
            raise BundleRefused(f"{where}: not part of a text hunk: {line[:60]!r}")
        left[:] = [int(hunk["old"] or 1), int(hunk["new"] or 1)]
        return
    kind = line[:1]
    if kind == " " and left[0] and left[1]:
        left[0], left[1] = left[0] - 1, left[1] - 1
    elif kind == "-" and left[0]:
        left[0] -= 1
    elif kind == "+" and left[1]:
        left[1] -= 1
    else:
        raise BundleRefused(f"{where}: a line the hunk header does not count: {line[:60]!r}")


def _check_path(path: str) -> str:
    try:
        clean = relative_path(path)
    except PathRefused as refused:
        raise BundleRefused(f"the result touches {path!r}: {refused}") from None
    if clean != path or clean == ".":
        raise BundleRefused(f"the result touches {path!r}, which is not a plain repository path")
    why = change_refusal(path)
    if why:
        raise BundleRefused(f"the result touches {why}")
    return path


def apply(repo: ScratchRepo, url: str, auth: Mapping[str, str], record: Bundle, patch: bytes, *, branch: str,
          base_branch: str, message: str) -> tuple[str, str]:
    """The commit of `patch` on the recorded base, in `repo` (fresh, with objects of its own).

    Returns the commit and the tip `branch` must still have when it is pushed ("" for none).
    BundleRefused when the base is not where the fix may start from (the branch's tip when the
    branch exists, a recent commit of `base_branch` otherwise) or the result is not the verified tree.
    """
    base, tree = record.base_commit, record.tree
    assert base is not None and tree is not None
    tip = repo.run("ls-remote", "--heads", url, f"refs/heads/{branch}", extra=auth).split()
    if tip:
        if tip[0] != base:
            raise BundleRefused(f"{branch} is at {tip[0][:12]} now, but the fix was made on {base[:12]}: the branch "
                                "moved while the fix ran", "add the label `reanalyze` to try again from its tip")
        repo.run("fetch", "--quiet", "--no-tags", "--depth=1", url, f"+refs/heads/{branch}:refs/crashfix/base",
                 extra=auth)
    else:
        repo.run("fetch", "--quiet", "--no-tags", f"--depth={BASE_DEPTH}", url,
                 f"+refs/heads/{base_branch}:refs/crashfix/base", extra=auth)
        if base not in repo.run("rev-list", "refs/crashfix/base").split():
            raise BundleRefused(f"the fix's base commit {base[:12]} is not among the last {BASE_DEPTH} commits of "
                                f"{base_branch}", "add the label `reanalyze` to try again")
    repo.run("read-tree", base)
    (repo.folder / PATCH).write_bytes(patch)
    repo.run("apply", "--cached", "--whitespace=nowarn", str(repo.folder / PATCH))
    made = repo.run("write-tree").strip()
    if made != tree:
        raise BundleRefused(f"the patch applied to {base[:12]} gives the tree {made[:12]}, not the verified "
                            f"{tree[:12]}")
    repo.check(base, made, record.files)
    return repo.commit_tree(made, base, message), tip[0] if tip else ""

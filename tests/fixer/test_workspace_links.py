"""Files, not links: a hard link in the checkout is another name for a file that may be anywhere
(`.git/config`, a key under $HOME), so the model's tools neither read nor change such a file, and a
file is used only while it is the file that was checked (device + inode, or file id on Windows)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crashfix.fixer.checkout import files
from crashfix.fixer.checkout.workspace import ChangedBehindTheModel, ToolError, Workspace

SECRET = "ghs_SECRET_outside_the_checkout\n"


def hard_link_or_skip(target: Path, link: Path) -> None:
    try:
        os.link(target, link)
    except OSError as error:  # a file system without hard links (FAT, some network drives)
        pytest.skip(f"no hard links here: {error}")


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout with `src/Secret.h`, a hard link to a file outside it (a hostile build can plant one)."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text("void Player::Update(int diff)\n{\n    marker();\n}\n")
    outside = tmp_path / "outside.h"
    outside.write_text("struct Leak { void Secret(); };\n// " + SECRET)
    hard_link_or_skip(outside, root / "src" / "Secret.h")
    return root, outside


def test_read_file_refuses_a_hard_linked_file(linked: tuple[Path, Path]) -> None:
    root, _ = linked
    with pytest.raises(ToolError, match="has 2 hard links"):
        Workspace(root).read_file("src/Secret.h")
    assert "marker()" in Workspace(root).read_file("src/Player.cpp")


def test_edit_refuses_a_hard_linked_file_and_the_file_outside_is_unchanged(linked: tuple[Path, Path]) -> None:
    root, outside = linked
    before = outside.read_bytes()
    workspace = Workspace(root)
    with pytest.raises(ToolError, match="hard links"):
        workspace.edit("src/Secret.h", "struct Leak", "struct Pwned")
    assert outside.read_bytes() == before and workspace.changed_paths() == []


def test_search_listing_and_definitions_leave_a_hard_linked_file_out(linked: tuple[Path, Path]) -> None:
    root, _ = linked
    workspace = Workspace(root)
    assert "ghs_SECRET" not in workspace.search("ghs_|marker")
    assert "src/Player.cpp:3:" in workspace.search("ghs_|marker")
    assert "Secret.h" not in workspace.list_dir("src") and "Player.cpp" in workspace.list_dir("src")
    assert "no definition" in workspace.find_definition("Leak")
    with pytest.raises(ToolError):
        workspace.search("ghs_", "src/Secret.h")


def test_a_hard_link_made_after_the_model_read_the_file_stops_the_edit(tmp_path: Path) -> None:
    """The link count is checked again when the file is opened for writing, not only when it is read."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    player = root / "src" / "Player.cpp"
    player.write_text("int hp = 0;\n")
    data, identity = files.read(player, "src/Player.cpp", 1 << 20)
    hard_link_or_skip(player, tmp_path / "elsewhere.cpp")
    with pytest.raises(files.FileRefused, match="hard links"):
        files.overwrite(player, "src/Player.cpp", b"int hp = 1;\n", identity)
    assert player.read_bytes() == data


def test_a_file_swapped_between_check_and_use_is_not_written(tmp_path: Path) -> None:
    """Another file put in its place (rename over it) has another identity: the write is refused."""
    root = tmp_path / "repo"
    root.mkdir()
    target = root / "World.cpp"
    target.write_text("int world = 0;\n")
    _, identity = files.read(target, "World.cpp", 1 << 20)
    swapped = root / "swap.tmp"
    swapped.write_text("int world = 0;\n")
    os.replace(swapped, target)
    with pytest.raises(files.FileRefused, match="not the file that was read"):
        files.overwrite(target, "World.cpp", b"int world = 1;\n", identity)
    assert target.read_text() == "int world = 0;\n"


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_a_final_symlink_is_never_followed_when_opening(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    link = tmp_path / "link.cpp"
    link.symlink_to(outside)
    with pytest.raises(files.FileRefused, match="not a regular file"):
        files.read(link, "link.cpp", 1 << 20)
    with pytest.raises(files.FileRefused, match="already exists"):
        files.create(link, "link.cpp", b"x")
    assert outside.read_text() == SECRET


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_an_edit_through_a_link_inside_the_checkout_is_recorded_under_the_file_it_names(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text("int hp = 0;\n")
    (root / "src" / "Alias.cpp").symlink_to("Player.cpp")
    workspace = Workspace(root)
    workspace.edit("src/Alias.cpp", "hp = 0", "hp = 1")
    assert workspace.changed_paths() == ["src/Player.cpp"]  # a commit writes the file, not the link
    assert workspace.verified_contents() == {"src/Player.cpp": b"int hp = 1;\n"}


def test_the_commit_takes_what_the_model_wrote_and_refuses_when_a_build_changed_it(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text("int hp = 0;\n")
    workspace = Workspace(root)
    workspace.edit("src/Player.cpp", "hp = 0", "hp = 1")
    workspace.edit("src/Player.cpp", "hp = 1", "hp = 0")  # undone: not a change
    assert workspace.changed_paths() == [] and workspace.verified_contents() == {}
    workspace.edit("src/Player.cpp", "hp = 0", "hp = 2")
    assert workspace.verified_contents() == {"src/Player.cpp": b"int hp = 2;\n"}
    (root / "src" / "Player.cpp").write_text("int hp = 2; // and a backdoor\n")  # what a build could do
    with pytest.raises(ChangedBehindTheModel, match="changed after the model's last edit"):
        workspace.verified_contents()

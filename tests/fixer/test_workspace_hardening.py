"""The model's tools under hostile input: symlinks out of the jail, runaway regexes, odd paths and encodings."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crashfix.fixer.checkout.workspace import Limits, ToolError, Workspace

needs_symlinks = pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text("void Player::Update(int diff)\n{\n    root_marker();\n}\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[remote]\n\turl = https://x-access-token:ghs_SECRET@example.com/o/r\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push # ghs_WORKFLOW\n")
    (root / ".github" / "Hook.h").write_text("struct Secret { void Leak(); };\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "outside" / "Outside.h").write_text("struct Outside { void Leak(); };\n")
    return root


@pytest.fixture
def linked(repo: Path) -> Path:
    """Symlinks planted in the checkout (a hostile commit can hold them): out of it, into .git/ and .github/."""
    outside = repo.parent / "outside"
    (repo / "src" / "pw.txt").symlink_to(outside / "passwd")
    (repo / "src" / "cfg.txt").symlink_to(Path("..") / ".git" / "config")
    (repo / "src" / "ci.txt").symlink_to(Path("..") / ".github" / "workflows" / "ci.yml")
    (repo / "src" / "Outside.h").symlink_to(outside / "Outside.h")
    (repo / "src" / "Hook.h").symlink_to(Path("..") / ".github" / "Hook.h")
    (repo / "src" / "Config.h").symlink_to(Path("..") / ".git" / "config")
    (repo / "src" / "etc").symlink_to(outside, target_is_directory=True)
    (repo / "src" / "Inside.h").symlink_to("Player.cpp")  # a symlink that stays inside is fine
    return repo


# -- 1. every file a tool reads passes the jail --------------------------------------------------


@needs_symlinks
def test_search_does_not_read_through_symlinks_out_of_the_jail(linked: Path) -> None:
    workspace = Workspace(linked)
    found = workspace.search("root|ghs_")
    assert "root:x" not in found and "ghs_SECRET" not in found and "ghs_WORKFLOW" not in found
    assert "src/Player.cpp:3:" in found and "src/Inside.h:3:" in found
    for path in ("src/pw.txt", "src/cfg.txt", "src/ci.txt"):
        assert path not in found
    assert "no match" in workspace.search("ghs_", "src")
    with pytest.raises(ToolError):
        workspace.search("root", "src/etc")
    with pytest.raises(ToolError):
        workspace.search("ghs_", "src/cfg.txt")


@needs_symlinks
def test_list_dir_hides_entries_leading_out_of_the_jail(linked: Path) -> None:
    listing = Workspace(linked).list_dir("src")
    assert "Player.cpp" in listing and "Inside.h" in listing
    for name in ("pw.txt", "cfg.txt", "ci.txt", "Outside.h", "Hook.h", "Config.h", "etc"):
        assert name not in listing


@needs_symlinks
def test_read_file_refuses_symlinks_out_of_the_jail(linked: Path) -> None:
    workspace = Workspace(linked)
    for path in ("src/pw.txt", "src/cfg.txt", "src/ci.txt", "src/etc/passwd", "src/Hook.h"):
        with pytest.raises(ToolError):
            workspace.read_file(path)
    assert "root_marker" in workspace.read_file("src/Inside.h")


@needs_symlinks
def test_find_definition_skips_files_out_of_the_jail(linked: Path) -> None:
    workspace = Workspace(linked)
    assert "no definition" in workspace.find_definition("Outside")
    assert "no definition" in workspace.find_definition("Secret")
    assert "src/Player.cpp:1-4" in workspace.find_definition("Player::Update")


# -- 2. a model's regex cannot run past the search limit ----------------------------------------
# The bound is on work done, not on the wall clock: the `regex` engine's match timeout counts the
# process's CPU time (measured here: a 1.0 s limit stops after 1.00 s of CPU, 2.2 s of wall time on an
# idle 2-core machine beside the test suite and 7.1 s beside three busy processes). CPU time of this
# thread is what a runaway pattern costs, and it does not grow when the machine is busy.


def cpu_seconds() -> float:
    return time.thread_time()


@pytest.mark.parametrize("pattern", [r"(a+)+b", r"(a|aa)+$", r"(a|a)+$", r"(a|aa)+$|(\w+\s?)+$x"])
def test_a_catastrophic_pattern_returns_within_the_limit(repo: Path, pattern: str) -> None:
    (repo / "src" / "Evil.cpp").write_text("a" * 40 + "!\n" + "word " * 30 + "\n")
    workspace = Workspace(repo, Limits(search_seconds=1.0))
    started = cpu_seconds()
    try:
        workspace.search(pattern)  # some engines see through (a+)+b; the others must stop in time
    except ToolError as error:
        assert "the pattern took too long; simplify it" in str(error)
    assert cpu_seconds() - started < 2.0


@pytest.mark.parametrize("pattern", [r"(a|aa)+$", r"(a|a)+$"])
def test_a_pattern_that_backtracks_without_end_is_a_tool_error(repo: Path, pattern: str) -> None:
    (repo / "src" / "Evil.cpp").write_text("a" * 40 + "!\n")
    workspace = Workspace(repo, Limits(search_seconds=0.5))
    started = cpu_seconds()
    with pytest.raises(ToolError, match="the pattern took too long; simplify it"):
        workspace.search(pattern, "src")
    assert cpu_seconds() - started < 1.0


@pytest.mark.parametrize("pattern", [r"a{1000000000}", r"x{4294967294,}", r"(?:(?:a{100}){100}){100}", r"a{,5000}"])
def test_huge_repetition_counts_are_refused_before_compiling(repo: Path, pattern: str) -> None:
    started = cpu_seconds()
    with pytest.raises(ToolError, match="repetition counts"):
        Workspace(repo, Limits(search_seconds=1.0)).search(pattern)
    assert cpu_seconds() - started < 1.0  # compiling a{1000000000} alone would take many seconds and gigabytes


def test_ordinary_patterns_still_work_with_the_bounded_engine(repo: Path) -> None:
    workspace = Workspace(repo, Limits(search_seconds=1.0))
    assert "src/Player.cpp:1:" in workspace.search(r"Player::Update\(int \w+\)")
    assert "src/Player.cpp:3:" in workspace.search(r"(?i)ROOT_MARKER")
    assert "src/Player.cpp:3:" in workspace.search(r"^\s{4}\w{4,11}\(\);$")
    with pytest.raises(ToolError, match="invalid regular expression"):
        workspace.search("(unclosed")


# -- 3. hostile inputs become tool errors, never crashes ----------------------------------------


@pytest.mark.parametrize("path", ["src/a\0.cpp", "src/Player.cpp\0", "src/\x1b[31mred.cpp", "src/a\nb.cpp",
                                  "src/a\x7f.cpp", "src/a\u202e.cpp"])
def test_control_characters_in_paths_are_refused(repo: Path, path: str) -> None:
    workspace = Workspace(repo)
    for call in (lambda: workspace.read_file(path), lambda: workspace.edit(path, "", "int x;\n"),
                 lambda: workspace.edit(path, "root_marker", "x"), lambda: workspace.list_dir(path),
                 lambda: workspace.search("x", path)):
        with pytest.raises(ToolError, match="control"):
            call()


def test_an_edit_a_latin1_file_cannot_hold_is_explained(repo: Path) -> None:
    original = "// Spieler: Schaden f\xfcr Ziele\nint damage = 0;\n".encode("latin-1")
    (repo / "src" / "Legacy.cpp").write_bytes(original)
    workspace = Workspace(repo)
    with pytest.raises(ToolError, match="Latin-1") as error:
        workspace.edit("src/Legacy.cpp", "int damage = 0;", "int damage = 0; // a → b")
    assert "→" in str(error.value)
    assert (repo / "src" / "Legacy.cpp").read_bytes() == original
    assert workspace.changed_paths() == []
    workspace.edit("src/Legacy.cpp", "int damage = 0;", "int damage = 1; // f\xfcr")
    assert (repo / "src" / "Legacy.cpp").read_bytes() == original.replace(b"= 0", b"= 1").replace(
        b"1;", b"1; // f\xfcr")


def test_text_that_cannot_be_written_as_utf8_is_refused(repo: Path) -> None:
    workspace = Workspace(repo)
    with pytest.raises(ToolError, match="cannot be written"):
        workspace.edit("src/Player.cpp", "root_marker", "root_\ud800marker")
    with pytest.raises(ToolError, match="cannot be written"):
        workspace.edit("src/New.cpp", "", "int \ud800;\n")
    assert not (repo / "src" / "New.cpp").exists() and workspace.changed_paths() == []


# -- 4. Windows spellings of protected or foreign paths, refused on every platform --------------


@pytest.mark.parametrize("path", [
    "src/Player.cpp::$DATA", "src/Player.cpp:evil", ".github:stream", "C:src/x.cpp", "src/c:/x.cpp",
    ".github./workflows/ci.yml", ".github /workflows/ci.yml", ".git./config", "src/Player.cpp.", "src/Player.cpp. ",
    "src./Player.cpp", "GITHUB~1/workflows/ci.yml", "src/PLAYER~1.CPP", ".GIT/config", ".GitHub/workflows/ci.yml",
    "src/.GIT/config", "src/sub/.Git/HEAD", "src\\..\\.GITHUB\\workflows\\ci.yml",
])
def test_windows_path_tricks_are_refused(repo: Path, path: str) -> None:
    workspace = Workspace(repo)
    with pytest.raises(ToolError):
        workspace.relative(path)
    with pytest.raises(ToolError):
        workspace.edit(path, "", "int x;\n")
    with pytest.raises(ToolError):
        workspace.read_file(path)
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == "on: push # ghs_WORKFLOW\n"


@pytest.mark.parametrize("path", ["src/Player.cpp", "./src/Player.cpp", "src\\Player.cpp", "src/../src/Player.cpp",
                                  "src/my.file.cpp", "src/~backup.cpp", "docs/v1.2/notes.md", "src/a b.cpp"])
def test_ordinary_paths_still_pass(repo: Path, path: str) -> None:
    assert Workspace(repo).relative(path).startswith(("src/", "docs/"))


@pytest.mark.parametrize("name", [".gitattributes", "src/.gitattributes", ".gitmodules", "CODEOWNERS",
                                  "docs/codeowners", ".mailmap"])
def test_files_that_steer_git_or_review_are_never_changed(repo: Path, name: str) -> None:
    """`*.cpp linguist-generated` would hide the change from its reviewer; a filter line would run code."""
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text("# kept\n")
    workspace = Workspace(repo)
    with pytest.raises(ToolError, match="steers git or code review"):
        workspace.edit(name, "# kept", "*.cpp linguist-generated")
    (repo / name).unlink()
    with pytest.raises(ToolError, match="steers git or code review"):
        workspace.edit(name, "", "*.cpp linguist-generated\n")
    assert not (repo / name).exists() and workspace.changed_paths() == []

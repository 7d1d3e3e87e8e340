"""The fixer's locate step on the test game server: mapping frames, choosing snippets, the budget."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import CrashReport, Frame, RelatedStack, SourceFormat
from crashfix.locate.context import locate
from crashfix.locate.models import CodeContext
from crashfix.locate.snippets import estimate_tokens
from tests.conftest import FIXTURES

GDB = """Program received signal SIGSEGV, Segmentation fault.
0x0000555555559a8e in Player::Update (this=0x55555556feb0, diff=100) at /home/ci/gameserver/src/Player.cpp:13
13	    if (target->GetHealth() > 0)
#0  0x0000555555559a8e in Player::Update (this=0x55555556feb0, diff=diff@entry=100) at /home/ci/gameserver/src/Player.cpp:13
        target = 0x0
#1  0x000055555555869c in Map::Update (this=<optimized out>, diff=diff@entry=100) at /home/ci/gameserver/src/Map.cpp:27
#2  0x0000555555559482 in World::CombatTick (this=this@entry=0x7fffffffe620) at /home/ci/gameserver/src/World.cpp:16
#3  0x0000555555559648 in World::Run (this=this@entry=0x7fffffffe620, scenario="combat") at /home/ci/gameserver/src/World.cpp:45
#4  0x00005555555583ae in main (argc=<optimized out>, argv=<optimized out>) at /home/ci/gameserver/src/main.cpp:20
"""

CDB = r"""(1f40.2a8): Access violation - code c0000005 (first/second chance not available)
worldserver!Player::Update+0x4c:
00007ff6`1a2b3c4d 8b4810          mov     ecx,dword ptr [rax+10h] ds:00000000`00000010=????????
0:011> kn
 # Child-SP          RetAddr               Call Site
00 000000a1`11f8f6b0 00007ff6`1a2b1111     worldserver!Player::Update+0x4c [D:\build\gameserver\src\Player.cpp @ 13]
01 000000a1`11f8f700 00007ff6`1a2b2222     worldserver!Map::Update+0x9d [D:\build\gameserver\src\Map.cpp @ 27]
02 000000a1`11f8f760 00007ff6`1a2b3333     worldserver!World::CombatTick+0x5a [D:\build\gameserver\src\World.cpp @ 16]
03 000000a1`11f8f7b0 00007ffc`12345678     worldserver!World::Run+0x42 [D:\build\gameserver\src\World.cpp @ 45]
04 000000a1`11f8f810 00000000`00000000     kernel32!BaseThreadInitThunk+0x14
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A writable copy of the game server, as the fixer's checkout would be."""
    root = tmp_path / "checkout"
    shutil.copytree(FIXTURES / "gameserver", root)
    return root


def lines_of(root: Path, path: str, start: int, end: int) -> str:
    return "\n".join((root / path).read_text().split("\n")[start - 1 : end])


def report_of(*frames: Frame, blamed: int = 0, related: list[RelatedStack] | None = None) -> CrashReport:
    return CrashReport(format=SourceFormat.GDB, frames=list(frames), blamed_frame_index=blamed,
                       related_stacks=related or [])


def where(context: CodeContext) -> list[tuple[int, str | None, int | None, str]]:
    return [(f.frame_index, f.path, f.line, f.how) for f in context.frames]


# -- mapping frames --------------------------------------------------------------------------------


def test_gdb_report_from_another_linux_checkout(checkout: Path) -> None:
    context = locate(analyze_text(GDB), checkout)
    assert where(context) == [
        (0, "src/Player.cpp", 13, "suffix"), (1, "src/Map.cpp", 27, "suffix"), (2, "src/World.cpp", 16, "suffix"),
        (3, "src/World.cpp", 45, "suffix"), (4, "src/main.cpp", 20, "suffix")]
    first = context.snippets[0]
    assert (first.path, first.start_line, first.end_line, first.frame_index) == ("src/Player.cpp", 8, 18, 0)
    assert first.reason == "frame #0 Player::Update (blamed, crash at line 13)"
    assert first.function == "Player::Update"
    assert first.text == lines_of(checkout, "src/Player.cpp", 8, 18)
    getter = context.snippets[1]  # `target->GetHealth()`: the call on the crash line, in no frame
    assert (getter.path, getter.function, getter.frame_index) == ("src/Unit.cpp", "Unit::GetHealth", None)
    assert getter.reason == "Unit::GetHealth (called on the crash line 13 as GetHealth; found by name)"
    assert [(s.path, s.function) for s in context.snippets[2:5]] == [
        ("src/Map.cpp", "Map::Update"), ("src/World.cpp", "World::CombatTick"), ("src/World.cpp", "World::Run")]
    assert context.snippets[2].reason == "frame #1 Map::Update (caller, line 27)"
    declarations = [s for s in context.snippets if s.reason.startswith("declaration of")]
    assert [(s.path, s.start_line, s.end_line) for s in declarations][0] == ("src/Player.h", 5, 18)
    assert declarations[0].reason.startswith("declaration of class Player (the blamed Update")
    assert [s.path for s in declarations[1:]] == ["src/Map.h", "src/World.h"]  # the callers' classes, last
    assert context.dropped == []
    assert context.estimated_tokens == sum(estimate_tokens(s.text) for s in context.snippets)


def test_cdb_report_with_windows_paths_and_case_differences(checkout: Path) -> None:
    context = locate(analyze_text(CDB), checkout)
    assert [(f.path, f.how) for f in context.frames] == [
        ("src/Player.cpp", "suffix"), ("src/Map.cpp", "suffix"), ("src/World.cpp", "suffix"),
        ("src/World.cpp", "suffix")]
    assert context.frames[0].original_file == "D:\\build\\gameserver\\src\\Player.cpp"
    shouting = analyze_text(CDB.replace(r"D:\build\gameserver\src\Player.cpp", r"d:\BUILD\GameServer\SRC\PLAYER.CPP"))
    again = locate(shouting, checkout)
    assert (again.frames[0].path, again.snippets[0].start_line) == ("src/Player.cpp", 8)


def test_path_mappings_win_over_a_longer_suffix(checkout: Path) -> None:
    (checkout / "code").mkdir()
    shutil.copy(checkout / "src" / "Player.cpp", checkout / "code" / "Player.cpp")
    mappings = {"/home/ci/gameserver/src/": "code"}
    context = locate(analyze_text(GDB), checkout, path_mappings=mappings)
    assert where(context)[0] == (0, "code/Player.cpp", 13, "mapping")
    assert where(context)[1] == (1, "src/Map.cpp", 27, "suffix")  # the mapped file does not exist: fall back
    windows = locate(analyze_text(CDB), checkout, path_mappings={"d:/BUILD/gameserver/SRC": "code"})
    assert (windows.frames[0].path, windows.frames[0].how) == ("code/Player.cpp", "mapping")


def test_exact_repository_relative_and_absolute_paths(checkout: Path) -> None:
    report = report_of(Frame(index=0, function="Player::Update", file="src/Player.cpp", line=13),
                       Frame(index=1, function="Map::Update", file=str(checkout / "src" / "Map.cpp"), line=27))
    assert where(locate(report, checkout))[:2] == [(0, "src/Player.cpp", 13, "path"), (1, "src/Map.cpp", 27, "path")]


def test_same_basename_is_settled_by_the_function_defined_there(checkout: Path) -> None:
    viewer = checkout / "tools" / "viewer"
    viewer.mkdir(parents=True)
    (viewer / "Map.cpp").write_text("\n".join(["// the map viewer tool"] * 20 + ["void Viewer::Draw()", "{", "}", ""]))
    game = report_of(Frame(index=0, function="Map::Update", file="C:\\elsewhere\\Map.cpp", line=27))
    tool = report_of(Frame(index=0, function="Viewer::Draw", file="C:\\elsewhere\\Map.cpp", line=22))
    assert where(locate(game, checkout))[0] == (0, "src/Map.cpp", 27, "suffix")
    assert where(locate(tool, checkout))[0] == (0, "tools/viewer/Map.cpp", 22, "suffix")


def test_frames_without_files_are_found_by_function_name(checkout: Path) -> None:
    bare = """ChildEBP RetAddr
0012fe88 00404200 worldserver!Player::Update+0x1e
0012ff70 004053ec worldserver!Map::Update+0x5f
0012ffc0 7c816fd7 kernel32!BaseProcessStart+0x23
"""
    context = locate(analyze_text(bare), checkout)
    assert where(context) == [(0, "src/Player.cpp", 8, "function-search"), (1, "src/Map.cpp", 24, "function-search")]
    first = context.snippets[0]
    assert (first.path, first.start_line, first.end_line) == ("src/Player.cpp", 8, 18)
    assert first.reason == "frame #0 Player::Update (blamed, found by name)"


def test_an_unmappable_file_falls_back_to_the_function_name(checkout: Path) -> None:
    report = report_of(Frame(index=0, function="World::CombatTick", file="/usr/include/c++/12/bits/unique_ptr.h",
                             line=172),
                       Frame(index=1, function="NotInTheRepo::Anything", file="/x/Nowhere.cpp", line=3),
                       Frame(index=2, function="memcpy", file="/x/string.h", line=3, in_project=False))
    assert where(locate(report, checkout)) == [(0, "src/World.cpp", 9, "function-search"), (1, None, None, "not-found")]


def test_frames_above_the_blamed_one_and_related_stacks(checkout: Path) -> None:
    freed = RelatedStack(title="freed by thread T0 here", frames=[
        Frame(index=0, function="operator delete(void*)", file="/src/libsanitizer/asan/asan_new_delete.cpp", line=164),
        Frame(index=1, function="Map::RemovePlayer(Player*)", file="/home/ci/gameserver/src/Map.cpp", line=21)])
    report = report_of(Frame(index=0, function="Unit::GetHealth", file="/home/ci/gameserver/src/Unit.cpp", line=9),
                       Frame(index=1, function="World::LogoutTick", file="/home/ci/gameserver/src/World.cpp", line=26),
                       blamed=1, related=[freed])
    context = locate(report, checkout)
    reasons = [(s.path, s.reason, s.frame_index) for s in context.snippets]
    assert reasons[0] == ("src/World.cpp", "frame #1 World::LogoutTick (blamed, crash at line 26)", 1)
    assert reasons[1] == ("src/Unit.cpp", "frame #0 Unit::GetHealth (called by the blamed frame, line 9)", 0)
    assert reasons[2] == ("src/Map.cpp", "freed by thread T0 here: frame #1 Map::RemovePlayer(Player*), line 21", None)
    assert context.snippets[2].text == lines_of(checkout, "src/Map.cpp", 18, 22)


def test_overlapping_snippets_of_one_file_are_merged(checkout: Path) -> None:
    report = report_of(Frame(index=0, function="Player::Update", file="src/Player.cpp", line=13),
                       Frame(index=1, function="Player::Update", file="src/Player.cpp", line=15))
    context = locate(report, checkout)
    player = [s for s in context.snippets if s.path == "src/Player.cpp"]
    assert len(player) == 1
    assert player[0].reason == "frame #0 Player::Update (blamed, crash at line 13); frame #1 Player::Update (caller, line 15)"


# -- budget, windows, instructions, safety ----------------------------------------------------------


def test_budget_drops_what_does_not_fit_but_keeps_smaller_later_snippets(checkout: Path) -> None:
    def tokens(path: str, start: int, end: int) -> int:
        return estimate_tokens(lines_of(checkout, path, start, end))

    report = report_of(Frame(index=0, function="Player::Update", file="/b/src/Player.cpp", line=13),
                       Frame(index=1, function="World::Run", file="/b/src/World.cpp", line=45),
                       Frame(index=2, function="Map::Update", file="/b/src/Map.cpp", line=27))
    budget = tokens("src/Player.cpp", 8, 18) + tokens("src/Unit.cpp", 7, 10) + tokens("src/Map.cpp", 24, 28) + 10
    assert tokens("src/World.cpp", 42, 58) > 10
    context = locate(report, checkout, context_tokens=budget)
    assert [s.function for s in context.snippets] == ["Player::Update", "Unit::GetHealth", "Map::Update"]
    assert context.dropped == ["frame #1 World::Run (caller, line 45)",
                               "declaration of class Player (the blamed Update is a member)",
                               "declaration of class World (the calling Run is a member)",
                               "declaration of class Map (the calling Update is a member)"]
    assert context.estimated_tokens == budget - 10
    roomy = locate(report, checkout, context_tokens=budget + 1000)
    assert [s.function for s in roomy.snippets] == [
        "Player::Update", "Unit::GetHealth", "World::Run", "Map::Update", "Player", "World", "Map"]
    assert roomy.dropped == []


def test_the_blamed_snippet_is_kept_even_over_budget(checkout: Path) -> None:
    context = locate(analyze_text(GDB), checkout, context_tokens=20)
    assert len(context.snippets) == 1
    only = context.snippets[0]
    assert only.path == "src/Player.cpp" and only.start_line <= 13 <= only.end_line
    assert only.text == lines_of(checkout, "src/Player.cpp", only.start_line, only.end_line)
    assert context.estimated_tokens <= 20
    assert context.dropped[:5] == [
        "Unit::GetHealth (called on the crash line 13 as GetHealth; found by name)",
        "frame #1 Map::Update (caller, line 27)", "frame #2 World::CombatTick (caller, line 16)",
        "frame #3 World::Run (caller, line 45)", "frame #4 main (caller, line 20)"]
    assert all(reason.startswith("declaration of class") for reason in context.dropped[5:])


def test_a_huge_function_is_windowed_around_the_crash(checkout: Path) -> None:
    body = [f"    total += Step{i}(diff);" for i in range(400)]
    (checkout / "src" / "Huge.cpp").write_text("\n".join(["#include <cstdint>", "", "void Huge::Run(uint32_t diff)",
                                                          "{", *body, "}", ""]))
    report = report_of(Frame(index=0, function="Huge::Run", file="/build/src/Huge.cpp", line=300))
    context = locate(report, checkout)
    signature, window = context.snippets[:2]
    assert (signature.start_line, signature.end_line) == (3, 4)
    assert (window.start_line, window.end_line) == (260, 340)
    assert window.text == lines_of(checkout, "src/Huge.cpp", 260, 340)
    assert "lines 260-340 of 3-405" in window.reason
    small = locate(report, checkout, context_tokens=200)
    assert sum(s.start_line <= 300 <= s.end_line for s in small.snippets) == 1
    assert small.estimated_tokens <= 200


def test_instructions_default_order_explicit_file_and_trimming(checkout: Path) -> None:
    (checkout / "AGENTS.md").write_text("agents notes\n")
    (checkout / "CLAUDE.md").write_text("Build with cmake.\r\nNever touch dep/.\r\n")
    context = locate(analyze_text(GDB), checkout)
    assert (context.instructions_path, context.instructions) == ("CLAUDE.md", "Build with cmake.\nNever touch dep/.\n")
    assert context.estimated_tokens == sum(estimate_tokens(s.text) for s in context.snippets) + estimate_tokens(
        context.instructions)
    (checkout / ".github").mkdir()
    (checkout / ".github" / "notes.md").write_text("".join(f"rule {i}: keep it simple\n" for i in range(2000)))
    explicit = locate(analyze_text(GDB), checkout, instructions_file=".github/notes.md")
    assert explicit.instructions_path == ".github/notes.md"
    assert explicit.instructions is not None and explicit.instructions.startswith("rule 0:")
    assert estimate_tokens(explicit.instructions) <= 2050
    assert explicit.instructions.rstrip().endswith("is not shown]")
    assert locate(analyze_text(GDB), checkout, instructions_file="missing.md").instructions is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_leaving_the_checkout_are_ignored(checkout: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Secret.cpp").write_text("void Secret::Leak()\n{\n    password();\n}\n")
    (outside / "CLAUDE.md").write_text("do what the symlink says\n")
    (checkout / "src" / "Secret.cpp").symlink_to(outside / "Secret.cpp")
    (checkout / "linked").symlink_to(outside, target_is_directory=True)
    (checkout / "CLAUDE.md").symlink_to(outside / "CLAUDE.md")
    (checkout / "src" / "Alias.cpp").symlink_to(checkout / "src" / "Map.cpp")  # inside: fine
    report = report_of(Frame(index=0, function="Secret::Leak", file="/home/ci/gameserver/src/Secret.cpp", line=3),
                       Frame(index=1, function="Map::Update", file="/build/Alias.cpp", line=27))
    context = locate(report, checkout, instructions_file=None)
    assert where(context) == [(0, None, None, "not-found"), (1, "src/Alias.cpp", 27, "suffix")]
    assert all("password" not in s.text for s in context.snippets)
    assert context.instructions is None
    escaping = locate(report, checkout, path_mappings={"/home/ci/gameserver/src": "linked"})
    assert escaping.frames[0].path is None


def test_a_line_outside_the_named_function_prefers_the_function(checkout: Path) -> None:
    """The checkout moved on since the crashed build: the name is more reliable than the line."""
    report = report_of(Frame(index=0, function="Player::Update", file="src/Player.cpp", line=6))
    first = locate(report, checkout).snippets[0]
    assert (first.start_line, first.end_line, first.function) == (8, 18, "Player::Update")
    assert "line 6 is outside it in this checkout" in first.reason


def test_bare_names_match_only_free_functions_and_the_module_picks_among_mains(checkout: Path) -> None:
    for folder in ("a_tools/extractor", "server/worldserver"):
        (checkout / folder).mkdir(parents=True)
        (checkout / folder / "Main.cpp").write_text("int main(int argc, char** argv)\n{\n    return 0;\n}\n")
    report = report_of(Frame(index=0, module="worldserver", function="main"),
                       Frame(index=1, module="worldserver", function="GetHealth"),
                       Frame(index=2, module="worldserver", function="Unit::GetHealth"))
    assert where(locate(report, checkout)) == [
        (0, "server/worldserver/Main.cpp", 1, "function-search"), (1, None, None, "not-found"),
        (2, "src/Unit.cpp", 7, "function-search")]
    elsewhere = report_of(Frame(index=0, module="authserver", function="main"))
    assert where(locate(elsewhere, checkout)) == [(0, "a_tools/extractor/Main.cpp", 1, "function-search")]

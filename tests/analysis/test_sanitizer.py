"""Sanitizer reports: Windows wording, UBSan, LeakSanitizer, ThreadSanitizer, related stacks."""

from __future__ import annotations

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import SourceFormat

WINDOWS_ASAN = r"""=================================================================
==3424==ERROR: AddressSanitizer: access-violation on unknown address 0x000000000010 (pc 0x7ff6a1b2c3d4 bp 0x00000014fe20 sp 0x00000014fda0 T0)
==3424==The signal is caused by a READ memory access.
==3424==Hint: address points to the zero page.
    #0 0x7ff6a1b2c3d3 in Player::Update D:\src\game\Entities\Player\Player.cpp:1234
    #1 0x7ff6a1b2a000 in Map::Update+0x9d (D:\Server\worldserver.exe+0x14000a000)
    #2 0x7ff6a1b29000 in __scrt_common_main_seh d:\a01\_work\43\s\src\vctools\crt\vcstartup\src\startup\exe_common.inl:288
    #3 0x7ffc12341233  (C:\Windows\System32\KERNEL32.DLL+0x180017bd3)
    #4 0x7ffc23452344 in RtlUserThreadStart+0x2b (C:\Windows\SYSTEM32\ntdll.dll+0x18005aa68)

AddressSanitizer can not provide additional info.
SUMMARY: AddressSanitizer: access-violation D:\src\game\Entities\Player\Player.cpp:1234 in Player::Update
==3424==ABORTING
"""


def test_windows_asan_wording_and_frames() -> None:
    report = analyze_text(WINDOWS_ASAN)
    assert report.format is SourceFormat.SANITIZER
    assert report.exception is not None
    assert (report.exception.code, report.exception.crash_class, report.exception.access) == (
        "access-violation", "access-violation", "read")
    assert report.exception.address == 0x10
    assert report.os == "windows"
    assert report.frames[0].file == r"D:\src\game\Entities\Player\Player.cpp" and report.frames[0].line == 1234
    assert (report.frames[1].function, report.frames[1].module) == ("Map::Update", "worldserver.exe")
    assert report.frames[3].function is None and report.frames[3].module == "KERNEL32.DLL"
    assert report.signature is not None and report.signature.text == "Player::Update | Map::Update"
    assert report.crashing_thread == "T0"
    assert report.facts["summary"].startswith("access-violation")


def test_a_windows_and_a_linux_null_dereference_share_a_class() -> None:
    linux = WINDOWS_ASAN.replace("access-violation on unknown address", "SEGV on unknown address")
    assert analyze_text(linux).signature.crash_class == analyze_text(WINDOWS_ASAN).signature.crash_class  # type: ignore[union-attr]


def test_use_after_free_keeps_the_free_and_alloc_stacks() -> None:
    text = """==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x6040000aa5e0 at pc 0x7256d2 bp 0x7ffe sp 0x7ffe
WRITE of size 4 at 0x6040000aa5e0 thread T6
    #0 0x7256d1 in Creature::SetTarget(Unit*) /srv/src/Creature.cpp:407:5
    #1 0x723b13 in CreatureAI::AttackStart(Unit*) /srv/src/CreatureAI.cpp:234:3

0x6040000aa5e0 is located 16 bytes inside of 40-byte region [0x6040000aa5d0,0x6040000aa5f8)
freed by thread T6 here:
    #0 0x7fc900fa35af in operator delete(void*) (/usr/lib/x86_64-linux-gnu/libasan.so.8+0x575af)
    #1 0x72564a in Map::RemoveFromMap(Creature*) /srv/src/Map.cpp:99:9

previously allocated by thread T0 here:
    #0 0x7fc900fa35af in operator new(unsigned long) (/usr/lib/x86_64-linux-gnu/libasan.so.8+0x575af)
    #1 0x72564a in Map::SummonCreature(unsigned int) /srv/src/Map.cpp:50:9

SUMMARY: AddressSanitizer: heap-use-after-free /srv/src/Creature.cpp:407:5 in Creature::SetTarget(Unit*)
"""
    report = analyze_text(text)
    assert report.exception is not None and report.exception.access == "write"
    assert report.crashing_thread == "T6"
    assert [s.title for s in report.related_stacks] == ["freed by thread T6 here", "previously allocated by thread T0 here"]
    assert report.related_stacks[0].frames[1].function == "Map::RemoveFromMap"
    assert report.blamed_frame is not None and report.blamed_frame.function == "Creature::SetTarget"


def test_ubsan_runtime_error_with_stack() -> None:
    text = """/srv/src/game/server/player.cpp:637:32: runtime error: member call on null pointer of type 'CCharacter'
    #0 0x5f5e0d in CPlayer::SetTeam(int, bool) /srv/src/game/server/player.cpp:637:32
    #1 0x5a88f6 in CGameContext::OnMessage(int, CUnpacker*, int) /srv/src/game/server/gamecontext.cpp:2092:15
"""
    report = analyze_text(text)
    assert report.exception is not None and report.exception.crash_class == "undefined-behavior"
    assert report.exception.detail == "member call on null pointer of type 'CCharacter'"
    assert report.blamed_frame is not None and report.blamed_frame.function == "CPlayer::SetTeam"


def test_ubsan_without_stack_still_points_at_the_line() -> None:
    report = analyze_text("src/exif.cpp:744:9: runtime error: signed integer overflow: 1 + 2 cannot be represented\n"
                          "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior src/exif.cpp:744:9 in \n")
    assert report.frames[0].file == "src/exif.cpp" and report.frames[0].line == 744


def test_leaks_are_classified_not_called_crashes() -> None:
    text = """==20068==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 240 byte(s) in 2 object(s) allocated from:
    #0 0x7fa4d4163808 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cc:144
    #1 0x5598029704d3 in Spell::Prepare() /srv/src/Spell.cpp:46

SUMMARY: AddressSanitizer: 240 byte(s) leaked in 2 allocation(s).
"""
    report = analyze_text(text)
    assert report.kind == "leak"
    assert report.blamed_frame is not None and report.blamed_frame.function == "Spell::Prepare"


def test_thread_sanitizer_data_race() -> None:
    text = """==================
WARNING: ThreadSanitizer: data race (pid=9337)
  Write of size 4 at 0x7fe3c3075190 by thread T1:
    #0 WorldSession::Update(unsigned int) /srv/src/WorldSession.cpp:10 (worldserver+0x000000001234)
"""
    report = analyze_text(text)
    assert report.exception is not None and report.exception.code == "data race"
    assert report.frames[0].function == "WorldSession::Update"
    assert (report.frames[0].file, report.frames[0].line, report.frames[0].module) == (
        "/srv/src/WorldSession.cpp", 10, "worldserver")


def test_a_gap_marker_after_a_frame_is_not_glued_onto_it() -> None:
    text = """==9==ERROR: AddressSanitizer: heap-use-after-free on address 0x621000062d48 at pc 0x55f7ad bp 0x7f sp 0x7f
READ of size 1 at 0x621000062d48 thread T0
    #0 0x55f7ac in CCharacter::Tick() /srv/src/game/server/entities/character.cpp:803:2

freed by thread T0 here:
    #0 0x4c685d in free (/srv/DDNet-Server+0x4c685d)
    #1 0x577e10 in CCharacter::operator delete(void*) /srv/src/game/server/entities/character.cpp:19:1
[... truncated in the stored copy of the issue ...]
"""
    freed = analyze_text(text).related_stacks[0].frames
    assert (freed[1].function, freed[1].line) == ("CCharacter::operator delete", 19)
    assert freed[1].file == "/srv/src/game/server/entities/character.cpp"

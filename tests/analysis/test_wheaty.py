"""TrinityCore/AzerothCore crash logs (WheatyExceptionReport), complete and cut."""

from __future__ import annotations

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import SourceFormat

HEADER = """Revision: TrinityCore rev. 2cea7d000c22 2024-04-05 19:44:54 +0200 (3.3.5 branch) (Win64, RelWithDebInfo, Static)\r
Date 5:4:2024. Time 20:1 \r
//=====================================================\r
*** Hardware ***\r
Processor: AMD Ryzen 9 5950X 16-Core Processor            \r
Number Of Processors: 32\r
Physical Memory: 67034256 KB (Available: 40034256 KB)\r
Commit Charge Limit: 71034256 KB\r
\r
*** Operation System ***\r
Microsoft Windows 11 Pro\r
\r
//=====================================================\r
"""

FULL_LOG = HEADER + """Exception code: C0000005 ACCESS_VIOLATION\r
Fault address:  00007FF7A1B2C3D4 01:0000000000A1B3D4 D:\\Server\\worldserver.exe\r
\r
Registers:\r
RAX:0000000000000000\r
CS:RIP:0033:00007FF7A1B2C3D4\r
Flags:00010246\r
\r
Call stack:\r
Address   Frame     Function      SourceFile\r
00007FF7A1B2C3D4  000000C9F1BFEA30  Unit::GetVictim+4  D:\\src\\server\\game\\Entities\\Unit\\Unit.h line 1201\r
00007FF7A1B2A000  000000C9F1BFEA60  [inline] Creature::SelectVictim+3A  D:\\src\\server\\game\\Entities\\Creature\\Creature.cpp line 1010\r
00007FF7A1B2A000  000000C9F1BFEA60  CreatureAI::UpdateVictim+3A  D:\\src\\server\\game\\AI\\CreatureAI.cpp line 270\r
00007FF7A1B29000  000000C9F1BFEAB0  boss_example::UpdateAI+91  D:\\src\\server\\scripts\\Example\\boss_example.cpp line 88\r
00007FF7A1B28000  000000C9F1BFEB00  Creature::Update+2C4  D:\\src\\server\\game\\Entities\\Creature\\Creature.cpp line 700\r
00007FF7A1B27000  000000C9F1BFEC00  std::invoke<void (__cdecl MapUpdater::*)(void),MapUpdater *>+1E  C:\\Program Files\\Microsoft Visual Studio\\2022\\Community\\VC\\Tools\\MSVC\\14.38.33130\\include\\type_traits line 1580\r
00007FFC12341234  000000C9F1BFEF00  BaseThreadInitThunk+10\r
00007FFC23452345  000000C9F1BFEF30  RtlUserThreadStart+2B\r
\r
Call stack:\r
Address   Frame     Function      SourceFile\r
00007FFC34563456  000000C9F1CFF000  NtRemoveIoCompletion+14\r
00007FFC45674567  000000C9F1CFF030  GetQueuedCompletionStatus+53\r
00007FF7A1B10000  000000C9F1CFF060  0001:000000000003A851 D:\\Server\\worldserver.exe\r
========================\r
Local Variables And Parameters\r
\r
Call stack:\r
Address   Frame     Function      SourceFile\r
00007FF7A1B2C3D4  000000C9F1BFEA30  Unit::GetVictim+4  D:\\src\\server\\game\\Entities\\Unit\\Unit.h line 1201\r
\tLocal Unit* this = 0x0\r
\r
"""


def test_the_first_call_stack_is_the_crashing_thread() -> None:
    report = analyze_text(FULL_LOG)
    assert report.format is SourceFormat.WHEATY
    functions = [frame.function for frame in report.frames]
    assert functions[:3] == ["Unit::GetVictim", "Creature::SelectVictim", "CreatureAI::UpdateVictim"]
    assert "NtRemoveIoCompletion" not in functions  # another thread's stack
    assert len(report.frames) == 8
    assert report.frames[0].file.endswith("Unit.h") and report.frames[0].line == 1201
    assert report.exception is not None and report.exception.code == "c0000005"
    assert report.build is not None
    assert (report.build.product, report.build.revision, report.build.branch) == ("TrinityCore", "2cea7d000c22", "3.3.5")
    assert report.build.build_type == "Win64, RelWithDebInfo, Static"
    assert report.arch == "x64"
    assert report.faulting_module == "worldserver.exe"
    assert not any(w.code == "truncated" for w in report.warnings)


def test_signature_skips_runtime_and_thread_frames() -> None:
    report = analyze_text(FULL_LOG)
    assert report.blamed_frame is not None and report.blamed_frame.function == "Unit::GetVictim"
    assert report.signature is not None
    assert report.signature.text == "Unit::GetVictim | Creature::SelectVictim | CreatureAI::UpdateVictim"
    assert report.signature.quality == "good"


def test_assertion_logs_name_the_assert_site() -> None:
    log = HEADER + """Exception code: C0000420 An assertion failure has occurred.\r
\r
Assertion message: \n\
D:\\src\\server\\game\\Spells\\Auras\\SpellAuras.cpp:581 in Aura::_UnapplyForTarget ASSERTION FAILED:\n\
  auraApp->GetRemoveMode()\n\
\n\
\r
Fault address:  00007FF7A1B2C3D4 01:0000000000A1B3D4 D:\\Server\\worldserver.exe\r
\r
Call stack:\r
Address   Frame     Function      SourceFile\r
00007FFC11111111  000000C9F1BFE000  RaiseException+69\r
00007FF7A1000000  000000C9F1BFE100  Trinity::Assert+AB  D:\\src\\common\\Debugging\\Errors.cpp line 70\r
00007FF7A1B2C3D4  000000C9F1BFE200  Aura::_UnapplyForTarget+1F4  D:\\src\\server\\game\\Spells\\Auras\\SpellAuras.cpp line 581\r
00007FF7A1B2C000  000000C9F1BFE300  Aura::UpdateTargetMap+3C1  D:\\src\\server\\game\\Spells\\Auras\\SpellAuras.cpp line 640\r
"""
    report = analyze_text(log)
    assert report.assertion is not None
    assert (report.assertion.function, report.assertion.line) == ("Aura::_UnapplyForTarget", 581)
    assert report.assertion.condition == "auraApp->GetRemoveMode()"
    assert report.blamed_frame is not None and report.blamed_frame.function == "Aura::_UnapplyForTarget"
    assert report.signature is not None and report.signature.crash_class == "assert"


def test_x86_log_without_symbols_keys_on_module_offsets() -> None:
    log = HEADER.replace("Win64", "Win32") + """Exception code: C0000005 ACCESS_VIOLATION\r
Fault address:  0103BC98 01:0004AC98 F:\\Server\\worldserver.exe\r
\r
Call stack:\r
Address   Frame     Function      SourceFile\r
0103BC98  00000000  0001:0004AC98 F:\\Server\\worldserver.exe\r
0102BCAD  00000000  0001:0003ACAD F:\\Server\\worldserver.exe\r
"""
    report = analyze_text(log)
    assert [(f.module, f.section, f.offset) for f in report.frames] == [
        ("worldserver.exe", 1, 0x4AC98), ("worldserver.exe", 1, 0x3ACAD)]
    assert report.signature is not None and report.signature.quality == "low"
    assert report.arch == "x86"


def test_a_log_cut_inside_the_first_frame_falls_back_to_the_fault_address() -> None:
    log = FULL_LOG.split("00007FF7A1B2C3D4  000000C9F1BFEA30  Unit::")[0] + "00007FF7A1B2C3D4  000000C9F1BFEA30  0001:00"
    report = analyze_text(log)
    assert report.frames[0].module == "worldserver.exe"
    assert (report.frames[0].section, report.frames[0].offset) == (1, 0xA1B3D4)
    assert any(w.code == "truncated" for w in report.warnings)


def test_garbage_fault_address_is_ignored() -> None:
    log = HEADER + """Exception code: C0000005 ACCESS_VIOLATION\r
Fault address:  0000000000000000 CCCCCCCC:CCCCCCCCCCCCCCCC \r
\r
Call stack:\r
Address   Frame     Function      SourceFile\r
00007FF7A1B2C3D4  000000C9F1BFEA30  Player::Update+4  D:\\src\\Player.cpp line 12\r
"""
    report = analyze_text(log)
    assert report.blamed_frame is not None and report.blamed_frame.function == "Player::Update"


def test_a_frame_whose_path_is_cut_keeps_its_function() -> None:
    """A paste cut inside the source path: the function is still the function, the path a fragment."""
    cut = FULL_LOG.split("00007FF7A1B2A000  000000C9F1BFEA60  CreatureAI")[0]
    text = cut + "00007FF7A1B2A000  000000C9F1BFEA60  CreatureAI::UpdateVictim+3A  D:\\src\\serv\r\n"
    frames = analyze_text(text).frames
    last = frames[-1]
    assert (last.function, last.file, last.line) == ("CreatureAI::UpdateVictim", "D:\\src\\serv", None)

"""Backtraces a server prints itself (glibc) or an engineer copies from Visual Studio."""

from __future__ import annotations

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import SourceFormat

GLIBC = """AuctionHouseBot: added item 10620
Received SIGSEGV
./mangosd(_ZN13ThreatManager19modifyThreatPercentEP4Uniti+0x1e) [0xa2732e]
./mangosd(_ZN20npc_training_dummyAI8UpdateAIEj+0xe4) [0xb58874]
./mangosd(_ZN8Creature6UpdateEjj+0xacf) [0x89b52f]
./mangosd(_ZN3Map11UpdateCellsEj+0x2a1) [0x82a761]
/lib64/libpthread.so.0(+0x7a51) [0x7ff7d57c6a51]
/lib64/libc.so.6(clone+0x6d) [0x7ff7d486993d]
"""


def test_glibc_backtrace_is_demangled() -> None:
    report = analyze_text(GLIBC)
    assert report.format is SourceFormat.BACKTRACE
    assert [f.function for f in report.frames[:4]] == [
        "ThreatManager::modifyThreatPercent", "npc_training_dummyAI::UpdateAI", "Creature::Update", "Map::UpdateCells"]
    assert report.frames[0].module == "mangosd" and report.frames[0].offset == 0x1E
    assert report.exception is not None and report.exception.code == "SIGSEGV"
    assert report.blamed_frame is not None and report.blamed_frame.function == "ThreatManager::modifyThreatPercent"


def test_handler_frames_before_the_libc_trampoline_are_not_blamed() -> None:
    text = """Error: signal 11:
./worldserver(_Z14SignalHandleri+0x36)[0x55d1c2000216]
/lib/x86_64-linux-gnu/libc.so.6(+0x43090)[0x7fd8a0d82090]
./worldserver(_ZN6Player6UpdateEj+0x2d3)[0x55d1c2000703]
./worldserver(_ZN3Map6UpdateEj+0x46)[0x55d1c20008e6]
"""
    report = analyze_text(text)
    assert report.blamed_frame is not None and report.blamed_frame.function == "Player::Update"


def test_visual_studio_call_stack_window_in_any_language() -> None:
    text = """>\tmangosd.exe!Object::GetTypeId() 行 345\tC++
 \tmangosd.exe!boss_ragnarosAI::CheckForMelee() 行 565\tC++
 \tmangosd.exe!boss_ragnarosAI::UpdateAI(const unsigned int diff) 行 517\tC++
 \tkernel32.dll!BaseThreadInitThunk()\tUnknown
"""
    report = analyze_text(text)
    assert report.format is SourceFormat.BACKTRACE
    assert [(f.module, f.function, f.line) for f in report.frames[:2]] == [
        ("mangosd.exe", "Object::GetTypeId", 345), ("mangosd.exe", "boss_ragnarosAI::CheckForMelee", 565)]
    english = text.replace("行", "Line")
    assert analyze_text(english).signature == report.signature

"""CDB / WinDbg output beyond the corpus: sessions, stacks alone, and non-crash analyses."""

from __future__ import annotations

import pytest

from crashfix.analysis.analyze import analyze_bytes, analyze_text
from crashfix.analysis.models import SourceFormat
from crashfix.errors import ParseError

BANNER = "\n".join([
    "*" * 79, "*" + " " * 77 + "*", "*                        Exception Analysis                                   *",
    "*" + " " * 77 + "*", "*" * 79,
])

SESSION = f"""Microsoft (R) Windows Debugger Version 10.0.22621.1 AMD64
Loading Dump File [D:\\Server\\Crashes\\1a2b3c4d5e6f+_worldserver.exe_[2024_5_1_12_0_0].dmp]
User Mini Dump File: Only registers, stack and portions of memory are available
This dump file has an exception of interest stored in it.
The stored exception information can be accessed via .ecxr.
(1f40.2a8): C++ EH exception - code e06d7363 (first chance)
(1f40.2a8): Access violation - code c0000005 (first/second chance not available)
worldserver!Player::Update+0x4c:
00007ff6`1a2b3c4d 8b4810          mov     ecx,dword ptr [rax+10h] ds:00000000`00000010=????????
0:011> !analyze -v
{BANNER}

KEY_VALUES_STRING: 1

    Key  : AV.Dereference
    Value: NullClassPtr

    Key  : AV.Fault
    Value: Read

    Key  : Failure.Bucket
    Value: NULL_CLASS_PTR_READ_c0000005_worldserver.exe!Player::Update

FILE_IN_CAB:  1a2b3c4d5e6f+_worldserver.exe_[2024_5_1_12_0_0].dmp

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 00007ff61a2b3c4d (worldserver!Player::Update+0x000000000000004c)
   ExceptionCode: c0000005 (Access violation)
  ExceptionFlags: 00000000
NumberParameters: 2
   Parameter[0]: 0000000000000000
   Parameter[1]: 0000000000000010
Attempt to read from address 0000000000000010

PROCESS_NAME:  worldserver.exe

STACK_TEXT:
000000a1`11f8f6b0 00007ff6`1a2b1111     : 00000000`00000000 00000000`00000001 00000000`00000000 00000000`00000000 : worldserver!Player::Update+0x4c [D:\\src\\server\\game\\Entities\\Player\\Player.cpp @ 1234]
000000a1`11f8f700 00007ff6`1a2b2222     : 00000000`00000000 00000000`00000001 00000000`00000000 00000000`00000000 : worldserver!Map::Update+0x9d [D:\\src\\server\\game\\Maps\\Map.cpp @ 700]
000000a1`11f8f760 00007ff6`1a2b3333     : 00000000`00000000 00000000`00000001 00000000`00000000 00000000`00000000 : worldserver!MapUpdater::WorkerThread+0x5a [D:\\src\\server\\game\\Maps\\MapUpdater.cpp @ 118]
000000a1`11f8f7b0 00007ffc`12345678     : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : ucrtbase!thread_start<unsigned int (__cdecl*)(void *),1>+0x42
000000a1`11f8f7e0 00007ffc`23456789     : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : kernel32!BaseThreadInitThunk+0x14
000000a1`11f8f810 00000000`00000000     : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : ntdll!RtlUserThreadStart+0x21

STACK_COMMAND:  ~11s; .ecxr ; kb

SYMBOL_NAME:  worldserver!Player::Update+4c

FAILURE_BUCKET_ID:  NULL_CLASS_PTR_READ_c0000005_worldserver.exe!Player::Update

Followup:     MachineOwner
---------

0:011> q
quit:
"""


def test_whole_session_uses_the_real_exception_not_the_first_chance_one() -> None:
    report = analyze_text(SESSION)
    assert report.format is SourceFormat.CDB
    assert report.kind == "crash"
    assert report.exception is not None
    assert (report.exception.code, report.exception.access, report.exception.address) == ("c0000005", "read", 0x10)
    blamed = report.blamed_frame
    assert blamed is not None
    assert (blamed.module, blamed.function, blamed.line) == ("worldserver", "Player::Update", 1234)
    assert blamed.file == "D:\\src\\server\\game\\Entities\\Player\\Player.cpp"
    assert report.crashing_thread == "11"
    assert report.build is not None and report.build.revision == "1a2b3c4d5e6f+"
    assert report.facts["failure_bucket"].startswith("NULL_CLASS_PTR_READ")
    assert any(w.code == "several-exceptions" for w in report.warnings)
    assert report.signature is not None
    assert report.signature.text == "Player::Update | Map::Update | MapUpdater::WorkerThread"
    assert report.signature.quality == "good"


def test_utf16_redirected_output_reads_the_same() -> None:
    """PowerShell's `cdb ... > out.txt` writes UTF-16LE with a BOM."""
    utf16 = analyze_bytes(b"\xff\xfe" + SESSION.replace("\n", "\r\n").encode("utf-16-le"))
    assert utf16.signature == analyze_text(SESSION).signature


def test_markdown_mangled_paste_keeps_its_signature() -> None:
    pasted = "```\n" + SESSION.replace(BANNER, "#   Exception Analysis   #") + "\n```"
    assert analyze_text(pasted).signature == analyze_text(SESSION).signature


def test_a_bare_k_stack_is_enough() -> None:
    text = """ChildEBP RetAddr
0012fe88 00404200 worldserver!Unit::DealDamage+0x1e
0012ff70 004053ec worldserver!Spell::EffectSchoolDMG+0x5f
0012ffc0 7c816fd7 worldserver!Spell::HandleEffects+0x12
0012fff0 00000000 kernel32!BaseProcessStart+0x23
"""
    report = analyze_text(text)
    assert report.format is SourceFormat.CDB
    assert report.blamed_frame is not None and report.blamed_frame.function == "Unit::DealDamage"
    assert report.exception is None
    assert report.signature is not None and report.signature.crash_class == "unknown"


def test_x64_kn_stack_with_frame_numbers_and_inline_frames() -> None:
    text = """ # Child-SP          RetAddr               Call Site
00 000000bc`aeaaa440 00007ff8`c045e70d     worldserver!Player::Update+0x7f
01 (Inline Function) --------`--------     worldserver!Map::UpdatePlayers+0x12
02 000000bc`aeaaa480 00007ff8`c045e6c5     worldserver!Map::Update+0x2d
"""
    report = analyze_text(text)
    assert [f.function for f in report.frames] == ["Player::Update", "Map::UpdatePlayers", "Map::Update"]
    assert report.frames[1].trust == "inline"


HANG = f"""0:000> !analyze -v -hang
{BANNER}

EXCEPTION_RECORD:  ffffffffffffffff -- (.exr 0xffffffffffffffff)
ExceptionAddress: 0000000000000000
   ExceptionCode: 80000003 (Break instruction exception)

BUGCHECK_STR:  HANG

DEFAULT_BUCKET_ID:  APPLICATION_HANG

DERIVED_WAIT_CHAIN:

BLOCKING_THREAD:  0000000000002a58

STACK_TEXT:
00000000`0393be38 00007ffc`1b2c3d4e : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : ntdll!NtWaitForSingleObject+0x14
00000000`0393be40 00007ff6`1b2c3d4e : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : worldserver!DatabaseWorkerPool::Wait+0x20

FAILURE_BUCKET_ID:  APPLICATION_HANG_cfffffff_worldserver.exe!DatabaseWorkerPool::Wait
"""

BUGCHECK = """3: kd> !analyze -v
*******************************************************************************
*                        Bugcheck Analysis                                    *
*******************************************************************************

SYSTEM_THREAD_EXCEPTION_NOT_HANDLED (7e)
This is a very common BugCheck.
Arguments:
Arg1: ffffffffc0000005, The exception code that was not handled

BUGCHECK_CODE:  7e

PROCESS_NAME:  System

STACK_TEXT:
ffffa108`8a4aee30 fffff807`662ad6b1     : 00000000`00000000 00000000`00000000 ffffe009`a68dc000 00000000`00000000 : nt!RtlpHpVsFreeChunkInsert+0x1b4
ffffa108`8a4aef90 fffff807`84da11ed     : 00000000`00000003 fffff807`84da32d8 fffff780`00000320 00000000`00000000 : GameGuard+0x115b

IMAGE_NAME:  GameGuard.sys

FAILURE_BUCKET_ID:  AV_GameGuard!unknown_function
"""

CLASSIC_BUGCHECK = """Kernel Bitmap Dump File: Kernel address space is available, User address space may not be available.
Bugcheck Analysis
Use !analyze -v to get detailed debugging information.

BugCheck D1, {0, 2, 0, fffff80312345678}

Probably caused by : netdrv.sys ( netdrv+1234 )
"""

MANAGED = f"""{BANNER}

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 00007ffcb7e7908c (KERNELBASE!RaiseException+0x0000000000000068)
   ExceptionCode: e0434352 (CLR exception)

MANAGED_CODE: 1

BUGCHECK_STR:  CLR_EXCEPTION_System.NullReferenceException

STACK_TEXT:
00000003`dc8eec80 00007ffc`91ef1173 : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : Launcher_ni!Launcher.MainForm.OnLoad+0x3d3

FAILURE_BUCKET_ID:  CLR_EXCEPTION_System.NullReferenceException_80004003_Launcher.exe!Launcher.MainForm.OnLoad
"""

SNAPSHOT = f"""Loading Dump File [C:\\dumps\\worldserver.dmp]
User Mini Dump File with Full Memory: Only application data is available
For analysis of this file, run !analyze -v
ntdll!NtWaitForSingleObject+0x14:
00007fff`5d0adbe4 c3              ret
0:000> !analyze -v
{BANNER}

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 0000000000000000
   ExceptionCode: 80000003 (Break instruction exception)

STACK_TEXT:
00000000`0393be38 00007ffc`1b2c3d4e : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : ntdll!NtWaitForSingleObject+0x14

FAILURE_BUCKET_ID:  BREAKPOINT_80000003_worldserver.exe!Unknown
"""


@pytest.mark.parametrize(
    ("text", "kind", "code"),
    [(HANG, "hang", None), (BUGCHECK, "kernel-bugcheck", "bugcheck-7e"),
     (CLASSIC_BUGCHECK, "kernel-bugcheck", "bugcheck-d1"), (MANAGED, "managed", "e0434352"),
     (SNAPSHOT, "snapshot", None)],
    ids=["hang", "bugcheck", "bugcheck-banner", "managed", "snapshot"],
)
def test_non_crash_analyses_are_classified_not_misparsed(text: str, kind: str, code: str | None) -> None:
    report = analyze_text(text)
    assert report.format is SourceFormat.CDB
    assert report.kind == kind
    assert (report.exception.code if report.exception else None) == code
    assert report.signature is not None and report.signature.crash_class == kind


def test_managed_exception_names_the_clr_type() -> None:
    report = analyze_text(MANAGED)
    assert report.exception is not None and report.exception.detail == "System.NullReferenceException"


def test_a_fragment_with_nothing_to_analyse_is_a_clear_error() -> None:
    with pytest.raises(ParseError, match="nothing to analyse"):
        analyze_text("KEY_VALUES_STRING: 1\n\n    Key  : Analysis.CPU.mSec\n    Value: 100\n", SourceFormat.CDB)

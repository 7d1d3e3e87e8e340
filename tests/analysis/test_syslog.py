"""Crash lines from the system's own logs: Windows Application Error events, kernel segfaults."""

from __future__ import annotations

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import SourceFormat


def test_windows_application_error_event() -> None:
    text = """Log Name:      Application
Source:        Application Error
Event ID:      1000
Description:
Faulting application name: worldserver.exe, version: 0.0.0.0, time stamp: 0x65f1a2b3
Faulting module name: worldserver.exe, version: 0.0.0.0, time stamp: 0x65f1a2b3
Exception code: 0xc0000005
Fault offset: 0x0000000000a1b3d4
Faulting process id: 0x1f40
Faulting application path: D:\\Server\\worldserver.exe
Faulting module path: D:\\Server\\worldserver.exe
Report Id: 6b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0
"""
    report = analyze_text(text)
    assert report.format is SourceFormat.SYSTEM_LOG
    assert report.exception is not None and report.exception.code == "c0000005"
    assert (report.frames[0].module, report.frames[0].offset) == ("worldserver.exe", 0xA1B3D4)
    assert report.signature is not None and report.signature.quality == "low"
    assert report.facts["wer_report_id"].startswith("6b1c2d3e")


def test_kernel_segfault_line() -> None:
    text = ("[1234567.890123] worldserver[4242]: segfault at 10 ip 000055d1c2b3a4f5 sp 00007ffd1c0a0000 error 6 "
            "in worldserver[55d1c2000000+1a00000]\n")
    report = analyze_text(text)
    assert report.format is SourceFormat.SYSTEM_LOG
    assert report.exception is not None
    assert (report.exception.code, report.exception.access, report.exception.address) == ("SIGSEGV", "write", 0x10)
    assert (report.frames[0].module, report.frames[0].offset) == ("worldserver", 0xB3A4F5)
    assert report.process == "worldserver"

"""One-line crash records from the operating system's own logs.

- Windows Event Log, Application Error (event 1000):
  `Faulting application name: worldserver.exe, ...` / `Exception code: 0xc0000005` /
  `Fault offset: 0x0000000000a1b3d4` / `Faulting module path: D:\\Server\\worldserver.exe`;
- the Linux kernel's segfault line (`dmesg`, `journalctl -k`):
  `worldserver[4242]: segfault at 10 ip 000055d1c2b3a4f5 sp 00007ffd1c0 error 4 in worldserver[55d1c2000000+1a00000]`.

Both give the faulting module and offset and nothing more: low quality, but often
all a server admin has.
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import describe_ntstatus, describe_signal, normalize_code
from crashfix.analysis.models import CrashReport, ExceptionInfo, Frame, SourceFormat
from crashfix.errors import ParseError

FORMAT = SourceFormat.SYSTEM_LOG

_WER_FIELD = re.compile(r"^\s*(?P<key>Faulting [\w ]+?|Exception code|Fault offset|Report Id)\s*:\s*(?P<value>.*?)\s*$",
                        re.M)
_SEGFAULT = re.compile(
    r"(?P<process>[\w.\-]+)\[(?P<pid>\d+)\]: (?P<what>segfault|general protection fault|trap divide error|"
    r"trap invalid opcode) (?:at (?P<addr>[0-9a-f]+) )?ip:? ?(?P<ip>[0-9a-f]+) sp:? ?[0-9a-f]+ error:? ?(?P<error>\d+)"
    r"(?: in (?P<module>[^\[\s]+)\[(?P<base>[0-9a-f]+)\+(?P<size>[0-9a-f]+)\])?"
)
_KERNEL_SIGNALS = {"segfault": "SIGSEGV", "general protection fault": "SIGSEGV", "trap divide error": "SIGFPE",
                   "trap invalid opcode": "SIGILL"}


def sniff(text: str) -> float:
    head = text[:50_000]
    if "Faulting application name:" in head and "Exception code:" in head:
        return 0.8
    if ("segfault at" in head or "trap " in head or "general protection" in head) and _SEGFAULT.search(head):
        return 0.7
    return 0.0


def parse(text: str) -> CrashReport:
    if "Faulting application name:" in text:
        return _parse_wer(text)
    match = _SEGFAULT.search(text)
    if match is None:
        raise ParseError("no Windows Application Error event and no kernel segfault line found")
    return _parse_segfault(match)


def _parse_wer(text: str) -> CrashReport:
    fields = {m.group("key").lower(): m.group("value") for m in _WER_FIELD.finditer(text)}
    report = CrashReport(format=FORMAT, os="windows")
    code = fields.get("exception code")
    if code:
        code = normalize_code(code)
        name, crash_class = describe_ntstatus(code)
        report.exception = ExceptionInfo(code=code, name=name, crash_class=crash_class)
    module = (fields.get("faulting module name") or "").split(",")[0].strip() or None
    offset = fields.get("fault offset")
    app = (fields.get("faulting application name") or "").split(",")[0].strip() or None
    report.process = app
    report.faulting_module = module
    if module:
        report.frames = [Frame(index=0, module=module, offset=int(offset, 16) if offset else None,
                               trust="context", symbols="none")]
    if fields.get("report id"):
        report.facts["wer_report_id"] = fields["report id"]
    report.warn("missing-symbols", "an event log entry names only the faulting module and offset")
    return report


def _parse_segfault(match: re.Match[str]) -> CrashReport:
    report = CrashReport(format=FORMAT, os="linux", process=match.group("process"))
    name, description, crash_class = describe_signal(_KERNEL_SIGNALS[match.group("what")])
    address = int(match.group("addr"), 16) if match.group("addr") else None
    error = int(match.group("error"))
    access = "write" if error & 2 else "execute" if error & 16 else "read"
    report.exception = ExceptionInfo(code=name, name=description, crash_class=crash_class, address=address,
                                     instruction_address=int(match.group("ip"), 16),
                                     access=access if name == "SIGSEGV" else None)  # type: ignore[arg-type]
    ip = int(match.group("ip"), 16)
    if match.group("module"):
        base = int(match.group("base"), 16)
        report.frames = [Frame(index=0, module=match.group("module"), offset=ip - base, address=ip,
                               trust="context", symbols="none")]
        report.faulting_module = match.group("module")
    else:
        report.frames = [Frame(index=0, address=ip, trust="context", symbols="none")]
    report.warn("missing-symbols", "a kernel log line names only the faulting module and offset")
    return report

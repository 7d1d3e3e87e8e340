"""Minidump files read directly: the last resort when neither CDB nor a crash log exists.

Without symbols a minidump still says what happened (exception code, access, address)
and where (faulting module and offset from the exception context). Caller frames
come from the frame-pointer chain on x86 and from stack scanning elsewhere; scanned
frames are shown but never blamed or keyed, because they are guesses.
"""

from __future__ import annotations

import bisect
import struct

from crashfix.analysis.crash_codes import MACH_EXCEPTIONS, describe_ntstatus, describe_signal
from crashfix.analysis.models import AssertionInfo, CrashReport, ExceptionInfo, Frame, ModuleInfo, SourceFormat
from crashfix.analysis.parsers import minidump_format as fmt
from crashfix.analysis.parsers.assertion import find_assertion

FORMAT = SourceFormat.MINIDUMP

# (instruction pointer, stack pointer, frame pointer) offsets in each CONTEXT layout.
_CONTEXT_REGISTERS = {
    "x86": ("I", 184, 196, 180),
    "amd64": ("Q", 248, 152, 160),
    "arm": ("I", 64, 56, 48),
    "arm64": ("Q", 264, 256, 240),
}
_MAX_FRAMES = 32
_SCAN_BYTES = 64 * 1024
_CRASHPAD_SIMULATED = 0x43507378


def sniff_bytes(data: bytes) -> float:
    return 1.0 if data[:4] == fmt.SIGNATURE else 0.0


def parse_bytes(data: bytes) -> CrashReport:
    reader = fmt.Reader(data)
    dump = fmt.read(data)
    report = CrashReport(format=FORMAT, os=dump.platform, arch=dump.arch)
    if dump.os_version:
        report.facts["os_version"] = dump.os_version
    record = dump.exception
    if record is None or record.code == _CRASHPAD_SIMULATED:
        report.kind = "snapshot"
        report.warn("no-exception", "the minidump holds no exception: it was taken without a crash")
    else:
        report.exception = _exception(record, dump.platform)
        report.crashing_thread = str(record.thread_id)
    context = _context(reader, dump)
    if context is not None:
        report.frames = _walk(reader, dump, *context)
    _add_assertion(report, reader, dump)
    report.annotations = fmt.read_crashpad_annotations(reader, dump)
    if report.frames:
        report.faulting_module = report.frames[0].module
    named = {f.module for f in report.frames if f.module}
    report.modules = [
        ModuleInfo(name=_basename(m.name), base=m.base, size=m.size, version=m.version,
                   debug_file=m.debug_file, debug_id=m.debug_id)
        for m in dump.modules
        if _basename(m.name) in named or m is (dump.modules[0] if dump.modules else None)
    ]
    report.warn("missing-symbols", "a minidump read without symbols gives module offsets, not functions")
    if any(f.trust == "scan" for f in report.frames):
        report.warn("scanned-frames", "caller frames were found by stack scanning and may be wrong")
    return report


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _exception(record: fmt.ExceptionRecord, platform: str | None) -> ExceptionInfo:
    if platform in ("linux", "android", "fuchsia"):
        name, description, crash_class = describe_signal(record.code)
        return ExceptionInfo(code=name, name=description, crash_class=crash_class, address=record.address)
    if platform in ("macos", "ios"):
        return _mach_exception(record)
    code = f"{record.code:08x}"
    subcode = record.parameters[0] if code in ("c0000409", "c0000602") and record.parameters else None
    status_name, crash_class = describe_ntstatus(code, subcode)
    info = ExceptionInfo(code=code, name=status_name, crash_class=crash_class, instruction_address=record.address)
    if code in ("c0000005", "c0000006") and len(record.parameters) >= 2:
        info.access = {0: "read", 1: "write", 8: "execute"}.get(record.parameters[0])  # type: ignore[assignment]
        info.address = record.parameters[1]
    return info


def _mach_exception(record: fmt.ExceptionRecord) -> ExceptionInfo:
    """Mach exceptions; Crashpad unwraps EXC_CRASH and keeps it in the first parameter."""
    params = record.parameters
    if record.code == 0 and len(params) >= 2 and params[0] == 10:
        name, description, crash_class = describe_signal((params[1] >> 24) & 0xFF)
        return ExceptionInfo(code=name, name=f"EXC_CRASH / {name}", crash_class=crash_class,
                             address=record.address, detail=description)
    name, crash_class = MACH_EXCEPTIONS.get(record.code, (f"{record.code:#x}", "unknown"))
    return ExceptionInfo(code=name, name=name, crash_class=crash_class, address=record.address,
                         detail=f"code {record.flags:#x}")


def _context(reader: fmt.Reader, dump: fmt.Minidump) -> tuple[int, int, int] | None:
    """(ip, sp, fp) of the crashing thread, or of the first thread in a snapshot."""
    layout = _CONTEXT_REGISTERS.get(dump.arch or "")
    if layout is None:
        return None
    size_code, ip_at, sp_at, fp_at = layout
    if dump.exception is not None and dump.exception.context_size:
        rva, size = dump.exception.context_rva, dump.exception.context_size
    elif dump.threads:
        rva, size = dump.threads[0].context_rva, dump.threads[0].context_size
    else:
        return None
    width = struct.calcsize(size_code)
    if size < max(ip_at, sp_at, fp_at) + width:
        return None
    return (reader.unpack(size_code, rva + ip_at)[0], reader.unpack(size_code, rva + sp_at)[0],
            reader.unpack(size_code, rva + fp_at)[0])


def _module_frame(dump: fmt.Minidump, index: int, address: int, trust: str, caller: bool) -> Frame:
    lookup = address - 1 if caller else address
    for module in dump.modules:
        if module.contains(lookup):
            return Frame(index=index, module=_basename(module.name), offset=lookup - module.base,
                         address=address, trust=trust, symbols="none")  # type: ignore[arg-type]
    return Frame(index=index, address=address, trust=trust, symbols="none")  # type: ignore[arg-type]


def _walk(reader: fmt.Reader, dump: fmt.Minidump, ip: int, sp: int, fp: int) -> list[Frame]:
    frames = [_module_frame(dump, 0, ip, "context", caller=False)]
    if dump.arch == "x86":
        frames.extend(_frame_pointer_walk(reader, dump, sp, fp, len(frames)))
    if len(frames) < 3:
        frames.extend(_scan(reader, dump, sp, len(frames), 8 if dump.arch in ("amd64", "arm64") else 4))
    return frames


def _frame_pointer_walk(reader: fmt.Reader, dump: fmt.Minidump, sp: int, fp: int, first: int) -> list[Frame]:
    frames: list[Frame] = []
    while len(frames) + first < _MAX_FRAMES and fp >= sp:
        memory = fmt.read_memory(reader, dump, fp, 8)
        if memory is None:
            break
        saved_fp, return_address = struct.unpack("<II", memory)
        if not any(m.contains(return_address - 1) for m in dump.modules):
            break
        frames.append(_module_frame(dump, first + len(frames), return_address, "frame-pointer", caller=True))
        if saved_fp <= fp:
            break
        fp = saved_fp
    return frames


def _scan(reader: fmt.Reader, dump: fmt.Minidump, sp: int, first: int, width: int) -> list[Frame]:
    """Words on the stack that point into a loaded module: possible return addresses."""
    thread = next((t for t in dump.threads if t.stack_start <= sp < t.stack_start + t.stack_size), None)
    if thread is None:
        return []
    offset = sp - thread.stack_start
    size = min(thread.stack_size - offset, _SCAN_BYTES)
    stack = reader.bytes_at(thread.stack_rva + offset, max(size, 0))
    frames: list[Frame] = []
    modules = sorted(dump.modules, key=lambda m: m.base)
    bases = [m.base for m in modules]
    count = len(stack) // width
    values = struct.unpack_from(f"<{count}{'Q' if width == 8 else 'I'}", stack)
    for value in values:
        slot = bisect.bisect_right(bases, value - 1) - 1
        if value > 0x10000 and slot >= 0 and modules[slot].contains(value - 1):
            frames.append(_module_frame(dump, first + len(frames), value, "scan", caller=True))
            if len(frames) + first >= _MAX_FRAMES:
                break
    return frames


def _add_assertion(report: CrashReport, reader: fmt.Reader, dump: fmt.Minidump) -> None:
    """Assertion stream (invalid-parameter handler) or comment stream (TrinityCore ASSERT text)."""
    stream = fmt.read_assertion(reader, dump)
    info: AssertionInfo | None = None
    if stream and (stream["function"] or stream["expression"]):
        info = AssertionInfo(
            file=str(stream["file"]) or None, line=int(stream["line"]) or None,
            function=str(stream["function"]) or None, condition=str(stream["expression"]) or None,
            message={1: "invalid parameter", 2: "pure virtual call"}.get(int(stream["type"])),
        )
    else:
        comment = fmt.read_comment(reader, dump)
        if comment:
            info = find_assertion(comment)
    if info is None:
        return
    report.assertion = info
    if info.function:
        for frame in report.frames:
            frame.index += 1
        report.frames.insert(0, Frame(index=0, function=info.function, file=info.file, line=info.line,
                                      trust="assertion"))

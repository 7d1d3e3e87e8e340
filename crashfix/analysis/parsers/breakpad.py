"""Breakpad-family processor output: what Crashpad/Breakpad servers show for a minidump.

- `minidump_stackwalk` and rust-minidump `minidump-stackwalk --human` text;
- `minidump_stackwalk -m` pipe-separated machine-readable output;
- `minidump-stackwalk --json` (rust-minidump) JSON;
- `minidump_dump` stream listings and symbolic's `ProcessState` debug print, which
  carry the exception record and module list but no walked stack.
"""

from __future__ import annotations

import json
import re

from crashfix.analysis.crash_codes import MACH_EXCEPTIONS, NTSTATUS, describe_signal
from crashfix.analysis.models import CrashReport, ExceptionInfo, Frame, SourceFormat
from crashfix.analysis.symbols import split_symbol, strip_parameters
from crashfix.errors import ParseError

FORMAT = SourceFormat.BREAKPAD

_TRUST = {
    "given as instruction pointer in context": "context", "context": "context",
    "call frame info": "cfi", "cfi": "cfi", "call frame info with scanning": "scan",
    "previous frame's frame pointer": "frame-pointer", "frame_pointer": "frame-pointer", "fp": "frame-pointer",
    "stack scanning": "scan", "scan": "scan", "cfi_scan": "scan", "inlining": "inline", "inline": "inline",
}
_NTSTATUS_BY_NAME = {known.name: code for code, known in NTSTATUS.items()}
_BREAKPAD_ALIASES = {"INT_DIVIDE_BY_ZERO": "INTEGER_DIVIDE_BY_ZERO", "INT_OVERFLOW": "INTEGER_OVERFLOW",
                     "PRIV_INSTRUCTION": "PRIVILEGED_INSTRUCTION", "FLT_DIVIDE_BY_ZERO": "FLOAT_DIVIDE_BY_ZERO",
                     "ILLEGAL_INSTRUCTION": "ILLEGAL_INSTRUCTION", "HEAP_CORRUPTION": "HEAP_CORRUPTION",
                     "STACK_BUFFER_OVERRUN": "STACK_BUFFER_OVERRUN"}
_HUMAN_FRAME = re.compile(r"^\s{0,3}(?P<num>\d+)\s{2}(?P<sym>\S.*?)\s*$")
_HUMAN_SOURCE = re.compile(r"\s*\[(?P<file>[^\[\]]+?) : (?P<line>\d+)(?: \+ 0x[0-9a-f]+)?\]$")
_THREAD = re.compile(r"^Thread (?P<num>\d+)\b.*\(crashed\)", re.M)


def sniff(text: str) -> float:
    head = text[:50_000]
    if "Crash reason:" in head and "(crashed)" in head and _THREAD.search(head):
        return 0.9
    if "Crash|" in head and re.search(r"^Crash\|[^|\n]*\|", head, re.M):
        return 0.9
    if '"crash_info"' in head and '"crashing_thread"' in head:
        return 0.9
    if "MDRawHeader" in head and "MDException" in text:
        return 0.7
    if "ProcessState {" in head and "crash_reason:" in head:
        return 0.7
    return 0.0


def parse(text: str) -> CrashReport:
    head = text[:50_000]
    if '"crash_info"' in head:
        return _parse_json(text)
    if re.search(r"^Crash\|", head, re.M):
        return _parse_machine(text)
    if re.search(r"^Crash reason:", head, re.M):
        return _parse_human(text)
    if "MDRawHeader" in head:
        return _parse_dump_listing(text)
    if "ProcessState {" in head:
        return _parse_process_state(text)
    raise ParseError("not minidump_stackwalk, minidump-stackwalk JSON or minidump_dump output")


def exception_from_reason(reason: str, address: int | None) -> ExceptionInfo:
    """`EXCEPTION_ACCESS_VIOLATION_WRITE`, `SIGSEGV /0x00000000`, `EXC_BAD_ACCESS / KERN_...`."""
    reason = reason.strip()
    head = reason.split(" /")[0].split()[0] if reason else ""
    if head.startswith("SIG"):
        name, description, crash_class = describe_signal(head)
        return ExceptionInfo(code=name, name=description, crash_class=crash_class, address=address)
    if head.startswith("EXC_"):
        crash_class = next((c for _, (n, c) in MACH_EXCEPTIONS.items() if n == head), "unknown")
        return ExceptionInfo(code=head, name=reason, crash_class=crash_class, address=address)
    name = head.removeprefix("EXCEPTION_")
    access = None
    for suffix, kind in (("_READ", "read"), ("_WRITE", "write"), ("_EXEC", "execute")):
        if name.startswith("ACCESS_VIOLATION") and name.endswith(suffix):
            name, access = "ACCESS_VIOLATION", kind
    name = _BREAKPAD_ALIASES.get(name, name)
    code = _NTSTATUS_BY_NAME.get(name)
    if code is None:
        match = re.fullmatch(r"(?:0x)?([0-9a-fA-F]{8})", head)
        code = match.group(1).lower() if match else None
    crash_class = NTSTATUS[code].crash_class if code in NTSTATUS else (head.lower() or "unknown")
    return ExceptionInfo(code=code or head, name=name or None, crash_class=crash_class, access=access,  # type: ignore[arg-type]
                         address=address)


def _int(text: str | int | None) -> int | None:
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _symbol_frame(index: int, symbol: str, trust: str | None) -> Frame:
    file = line = None
    source = _HUMAN_SOURCE.search(symbol)
    if source:
        file, line = source.group("file"), int(source.group("line"))
        symbol = symbol[: source.start()]
    module, function, offset = split_symbol(symbol.replace(" + ", "+"), bare_is_module=True)
    if function:
        function = strip_parameters(function)
    return Frame(index=index, module=module, function=function, file=file, line=line, offset=offset,
                 trust=trust, symbols="full" if function else "none")  # type: ignore[arg-type]


def _parse_human(text: str) -> CrashReport:
    reason = re.search(r"^Crash reason:\s+(.+)$", text, re.M)
    address = re.search(r"^Crash address:\s+(0x[0-9a-fA-F]+)", text, re.M)
    report = CrashReport(format=FORMAT)
    report.exception = exception_from_reason(
        reason.group(1) if reason else "", _int(address.group(1)) if address else None
    )
    thread = _THREAD.search(text)
    if thread is None:
        raise ParseError("minidump_stackwalk output without a crashed thread")
    report.crashing_thread = thread.group("num")
    lines = text[thread.end() :].split("\n")[1:]
    frames: list[Frame] = []
    for line in lines:
        if line.startswith("Thread ") or line.startswith("Loaded modules"):
            break
        match = _HUMAN_FRAME.match(line)
        if match and "=" not in match.group("sym"):
            frames.append(_symbol_frame(len(frames), match.group("sym"), None))
            continue
        found = re.match(r"^\s+Found by: (.+?)\s*$", line)
        if found and frames:
            frames[-1].trust = _TRUST.get(found.group(1))  # type: ignore[assignment]
    report.frames = frames
    os_match = re.search(r"^Operating system:\s+(.+)$", text, re.M)
    report.os = os_match.group(1).strip() if os_match else None
    return report


def _parse_machine(text: str) -> CrashReport:
    report = CrashReport(format=FORMAT)
    crash = re.search(r"^Crash\|(?P<reason>[^|]*)\|(?P<addr>[^|]*)\|(?P<thread>[^|\n]*)", text, re.M)
    if crash is None:
        raise ParseError("machine-readable minidump_stackwalk output without a 'Crash|' line")
    report.exception = exception_from_reason(crash.group("reason"), _int(crash.group("addr")))
    report.crashing_thread = crash.group("thread").strip() or None
    frames: list[Frame] = []
    for match in re.finditer(r"^(?P<t>\d+)\|(?P<n>\d+)\|(?P<mod>[^|]*)\|(?P<fn>[^|]*)\|(?P<file>[^|]*)\|"
                             r"(?P<line>[^|]*)\|(?P<off>[^|\n]*)$", text, re.M):
        if match.group("t") != report.crashing_thread:
            continue
        function = strip_parameters(match.group("fn")) if match.group("fn") else None
        frames.append(Frame(
            index=len(frames), module=match.group("mod") or None, function=function,
            file=match.group("file") or None, line=_int(match.group("line")), offset=_int(match.group("off")),
            symbols="full" if function else "none",
        ))
    report.frames = frames
    os_line = re.search(r"^OS\|([^|]*)\|", text, re.M)
    report.os = os_line.group(1) if os_line else None
    return report


def _parse_json(text: str) -> CrashReport:
    start = text.find("{")
    try:
        data = json.loads(text[start:])
    except ValueError as error:
        raise ParseError(f"minidump-stackwalk JSON that does not parse: {error}") from None
    info = data.get("crash_info") or {}
    report = CrashReport(format=FORMAT)
    report.exception = exception_from_reason(str(info.get("type") or ""), _int(info.get("address")))
    report.crashing_thread = str(info.get("crashing_thread")) if info.get("crashing_thread") is not None else None
    frames: list[Frame] = []
    for raw in (data.get("crashing_thread") or {}).get("frames") or []:
        for inline in raw.get("inlines") or []:
            frames.append(Frame(index=len(frames), module=raw.get("module"),
                                function=strip_parameters(inline.get("function") or "") or None,
                                file=inline.get("file"), line=inline.get("line"), trust="inline"))
        function = raw.get("function")
        offset = _int(raw.get("function_offset")) if function else _int(raw.get("module_offset"))
        frames.append(Frame(
            index=len(frames), module=raw.get("module"), function=strip_parameters(function) if function else None,
            file=raw.get("file"), line=raw.get("line"), offset=offset, address=_int(raw.get("offset")),
            trust=_TRUST.get(str(raw.get("trust"))), symbols="full" if function else "none",  # type: ignore[arg-type]
        ))
    report.frames = frames
    report.os = (data.get("system_info") or {}).get("os")
    return report


def _parse_dump_listing(text: str) -> CrashReport:
    """minidump_dump: the raw exception record and module list; frame 0 from the module table."""
    record = re.search(r"^MDException\n(?P<body>(?:  .*\n?)+)", text, re.M)
    if record is None:
        raise ParseError("minidump_dump output without an MDException stream")
    body = record.group("body")
    code = _int(_field(body, "exception_record.exception_code"))
    address = _int(_field(body, "exception_record.exception_address"))
    params = [_int(v) for v in re.findall(r"exception_information\[\s*\d+\]\s*=\s*(\S+)", body)]
    report = CrashReport(format=FORMAT, crashing_thread=str(_int(_field(body, "thread_id"))))
    platform = _int(_field(text, "platform_id"))
    if platform in (0x8201, 0x8203) and code is not None:
        name, description, crash_class = describe_signal(code)
        report.exception = ExceptionInfo(code=name, name=description, crash_class=crash_class, address=address)
    elif code is not None:
        hex_code = f"{code:08x}"
        known = NTSTATUS.get(hex_code)
        report.exception = ExceptionInfo(code=hex_code, name=known.name if known else None,
                                         crash_class=known.crash_class if known else f"exception-{hex_code}",
                                         instruction_address=address)
        if hex_code == "c0000005" and len(params) >= 2 and params[1] is not None:
            report.exception.access = {0: "read", 1: "write", 8: "execute"}.get(params[0] or 0)  # type: ignore[assignment]
            report.exception.address = params[1]
    modules = []
    for block in text.split("MDRawModule")[1:]:
        base, size = _int(_field(block, "base_of_image")), _int(_field(block, "size_of_image"))
        code_file = re.search(r'^\s*\(code_file\)\s*=\s*"([^"]*)"', block, re.M)
        if base is not None and size is not None and code_file:
            modules.append((base, size, code_file.group(1)))
    report.frames = _frames_from_addresses([address] if address is not None else [], modules, "context")
    return report


def _field(text: str, name: str) -> str | None:
    match = re.search(rf"^\s*{re.escape(name)}\s*=\s*(\S+)", text, re.M)
    return match.group(1) if match else None


def _parse_process_state(text: str) -> CrashReport:
    """symbolic's `ProcessState` debug print (a Rust `{:#?}` dump of Breakpad's state)."""
    reason = re.search(r'crash_reason: "([^"]*)"', text)
    address = re.search(r"crash_address: (\d+)", text)
    report = CrashReport(format=FORMAT)
    report.exception = exception_from_reason(
        reason.group(1) if reason else "", _int(address.group(1)) if address else None
    )
    requesting = re.search(r"requesting_thread: (-?\d+)", text)
    report.crashing_thread = requesting.group(1) if requesting else None
    threads = text.split("CallStack {")[1:]
    index = int(requesting.group(1)) if requesting and int(requesting.group(1)) >= 0 else 0
    if index < len(threads):
        frames: list[Frame] = []
        for match in re.finditer(
            r"instruction: (?P<ip>\d+),\s*trust: (?P<trust>\w+),\s*module: (?:Some\((?P<mod>.*?)\n {20}\)|None)",
            threads[index], re.S,
        ):
            ip = int(match.group("ip"))
            block = match.group("mod") or ""
            base = re.search(r"base_address: (\d+)", block)
            code_file = re.search(r'code_file: "((?:[^"\\]|\\.)*)"', block)
            module = code_file.group(1).replace("\\\\", "\\") if code_file else None
            frames.append(Frame(
                index=len(frames), module=re.split(r"[\\/]", module)[-1] if module else None,
                offset=ip - int(base.group(1)) if base else None, address=ip,
                trust=_TRUST.get(match.group("trust").lower()), symbols="none",  # type: ignore[arg-type]
            ))
        report.frames = frames
    return report


def _frames_from_addresses(addresses: list[int], modules: list[tuple[int, int, str]], trust: str) -> list[Frame]:
    frames: list[Frame] = []
    for address in addresses:
        module = next(((base, name) for base, size, name in modules if base <= address < base + size), None)
        frames.append(Frame(
            index=len(frames), module=re.split(r"[\\/]", module[1])[-1] if module else None,
            offset=address - module[0] if module else None, address=address, trust=trust, symbols="none",  # type: ignore[arg-type]
        ))
    return frames

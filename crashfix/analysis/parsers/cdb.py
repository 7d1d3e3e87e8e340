"""CDB / WinDbg output: `!analyze -v` (all three generations), `k` stacks, whole sessions.

Whole sessions are normal input: module loads, symbol errors and first-chance
exceptions come before the real one, and `k`/`~* k`/`r` output follows the analysis.
The analysis block is the authority; the session fills what the analysis lacks, and
fragments (a pasted STACK_TEXT, a tail with only SYMBOL_NAME and the bucket) still give
what they can.
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import FAST_FAIL_SUBCODES, describe_ntstatus, normalize_code
from crashfix.analysis.models import BuildInfo, CrashReport, ExceptionInfo, Frame, SourceFormat
from crashfix.analysis.parsers import cdb_classify
from crashfix.analysis.parsers.cdb_text import (
    AnalysisText,
    Event,
    collect_k_blocks,
    find_events,
    parse_analysis,
    split_analyses,
    stop_symbols,
)
from crashfix.analysis.parsers.sniffing import marker, score
from crashfix.analysis.parsers.winstack import (
    HEADER,
    parse_bare_stack,
    parse_stack,
    parse_stack_line,
    symbol_to_frame,
)
from crashfix.analysis.symbols import normalize_module
from crashfix.errors import ParseError

FORMAT = SourceFormat.CDB

_MARKERS = (
    marker("Exception Analysis", 0.5),
    marker("Bugcheck Analysis", 0.5),
    marker("!analyze", 0.4, r"^!analyze -v|>\s*!analyze"),
    marker("_", 0.3, r"^(?:FAULTING_IP|STACK_TEXT|EXCEPTION_RECORD|KEY_VALUES_STRING|FAILURE_BUCKET_ID|"
                     r"SYMBOL_NAME|MODULE_NAME|IMAGE_NAME|STACK_COMMAND|BUGCHECK_STR|DEFAULT_BUCKET_ID):"),
    marker("Key", 0.4, r"^\s*Key\s*:\s*(?:Failure\.|AV\.|Analysis\.|WER\.)"),
    marker("RetAddr", 0.4, r"^\s*(?:#\s+)?(?:ChildEBP|Child-SP)\s+RetAddr"),
    marker("`", 0.3, r"^\s*(?:[0-9a-f]{2}\s+)?[0-9a-f]{8}`[0-9a-f]{8}\s+[0-9a-f]{8}`[0-9a-f]{8}"),
    marker(" - code ", 0.4, r"^\([0-9a-f]+\.[0-9a-f]+\): .+ - code [0-9a-f]{8}"),
    marker("Windows Debugger", 0.4),
    marker("Loading Dump File [", 0.4),
    marker("ExceptionCode:", 0.3, r"^\s*ExceptionCode: [0-9a-f]{8}"),
    marker("[0x", 0.4, r"^\s*\[0x[0-9a-f]+\]\s+[\w.$@\-]+[!+]\S+\s+0x[0-9a-f]+"),  # WinDbg's Stack window
)
_EXPORT_SYMBOLS = re.compile(r"Defaulted to export symbols for (?:.*[\\/])?([^\\/\s]+?)(?:\s+-)?\s*$", re.M)
_NO_SYMBOLS = re.compile(r"symbols could not be loaded for (?:.*[\\/])?([^\\/\s]+?)\s*$", re.M)
_EXCEPTION_CODE = re.compile(r"^\s*ExceptionCode:\s*([0-9a-fA-F]{8})(?:\s*\(([^)]*)\))?", re.M)
_EXCEPTION_ADDRESS = re.compile(r"^\s*ExceptionAddress:\s*([0-9a-fA-F`]+)(?:\s*\((.+)\))?", re.M)
_ATTEMPT = re.compile(r"Attempt to (read from|write to|execute non-executable) address ([0-9a-fA-F`]+)")
_SUBCODE = re.compile(r"^\s*Subcode:\s*0x([0-9a-fA-F]+)\s*(\w*)", re.M)
_NTSTATUS = re.compile(r"\(NTSTATUS\)\s*0x([0-9a-fA-F]{8})")
_BUCKET = re.compile(r"_([0-9a-fA-F]{8})_(?P<image>[^!\s]+?)!(?P<function>\S+)$")
_DUMP_NAME = re.compile(r"(?<![0-9a-f])(?P<rev>[0-9a-f]{7,40}\+?)_(?P<exe>[\w.\-]+?\.exe)_\[")
_FRAME_NUMBER = re.compile(r"~(\d+)s")


def sniff(text: str) -> float:
    return score(text[:200_000], _MARKERS)


def parse(text: str) -> CrashReport:
    lines = text.split("\n")
    ranges = split_analyses(lines)
    analyses = [(start, end, parse_analysis(lines[start:end])) for start, end in ranges]
    start, end, analysis = _choose_analysis(analyses)
    session = lines[:start]
    events = find_events(lines)
    report = CrashReport(format=FORMAT)
    export_modules = frozenset(
        normalize_module(m) or m for m in _EXPORT_SYMBOLS.findall(text)
    ) if "export symbols" in text else frozenset()
    export_modules |= _bucket_export_modules(analysis)
    report.frames = _frames(analysis, lines[start:], export_modules)
    report.exception = _exception(analysis, text, events, start)
    if not report.frames:
        report.frames = _fallback_frame(analysis, lines, start, export_modules)
    _fill_facts(report, analysis, text)
    report.crashing_thread = _crashing_thread(analysis, events, start)
    report.kind = cdb_classify.kind(analysis, text, report)
    if export_modules or ("could not be loaded" in text and _NO_SYMBOLS.search(text)):
        report.warn("missing-symbols", "some modules had no symbols when the dump was analysed")
    if len({e.code for e in events if e.line_number < start}) > 1:
        report.warn("several-exceptions", "the session shows several exceptions; the analysed one is used")
    if report.exception is None and not report.frames:
        raise ParseError("CDB output without an exception record or a stack: nothing to analyse")
    if not report.frames:
        report.warn("no-frames", "the CDB output has no stack (the paste may be cut)")
    if not session and not analysis.sections and not report.frames:
        report.warn("truncated", "only a fragment of the CDB output is present")
    return report


def _choose_analysis(analyses: list[tuple[int, int, AnalysisText]]) -> tuple[int, int, AnalysisText]:
    """The last analysis that has a stack or an exception record; else the last one."""
    for start, end, analysis in reversed(analyses):
        if "STACK_TEXT" in analysis.sections or "EXCEPTION_RECORD" in analysis.sections:
            return start, end, analysis
    return analyses[-1]


def _bucket_export_modules(analysis: AnalysisText) -> frozenset[str]:
    """A bucket ending in `image!Unknown` means that image had no symbols."""
    bucket = analysis.first("FAILURE_BUCKET_ID") or analysis.key("Failure.Bucket") or ""
    match = _BUCKET.search(bucket)
    if match and match.group("function").lower() == "unknown":
        return frozenset({normalize_module(match.group("image")) or ""})
    return frozenset()


def _frames(analysis: AnalysisText, tail: list[str], export_modules: frozenset[str]) -> list[Frame]:
    stack = analysis.sections.get("STACK_TEXT")
    if stack and not _pseudo_stack(stack):
        return parse_stack(stack, export_modules)
    for block in collect_k_blocks(tail, HEADER):
        frames = parse_stack(block, export_modules)
        if frames:
            return frames  # the real stack, from a `k` the session ran after the analysis
    if stack:
        return parse_stack(stack, export_modules)
    for block in collect_k_blocks(tail, HEADER):
        frames = parse_stack(block, export_modules)
        if frames:
            return frames
    return parse_bare_stack(tail, export_modules)


def _pseudo_stack(stack: list[str]) -> bool:
    """`!analyze`'s made-up stack for heap corruption and the like: every frame at sp 0, return 0."""
    parsed = [line for line in (parse_stack_line(raw) for raw in stack) if line is not None]
    return bool(parsed) and all(line.stack_pointer == 0 and line.return_address == 0 for line in parsed)


def _fallback_frame(analysis: AnalysisText, lines: list[str], start: int,
                    export_modules: frozenset[str]) -> list[Frame]:
    """No stack: one frame from the best place the output names the faulting code."""
    candidates: list[str] = []
    record = "\n".join(analysis.sections.get("EXCEPTION_RECORD", []))
    match = _EXCEPTION_ADDRESS.search(record)
    if match and match.group(2):
        candidates.append(match.group(2))
    context_symbols = stop_symbols(analysis.sections.get("CONTEXT", []))
    candidates.extend(symbol for _, symbol in context_symbols)
    for name in ("FAULTING_IP", "SYMBOL_NAME"):
        value = analysis.first(name)
        if value:
            candidates.append(value.split(" [")[0])
    bucket = analysis.first("FAILURE_BUCKET_ID") or analysis.key("Failure.Bucket") or ""
    bucket_match = _BUCKET.search(bucket)
    if bucket_match:
        candidates.append(f"{bucket_match.group('image')}!{bucket_match.group('function')}")
    ip_module, ip_offset = analysis.key("Failure.Exception.IP.Module"), analysis.key("Failure.Exception.IP.Offset")
    if ip_module and ip_offset:
        candidates.append(f"{ip_module}+{ip_offset}")
    candidates.extend(symbol for n, symbol in reversed(stop_symbols(lines)) if n < start)
    for candidate in candidates:
        frame = symbol_to_frame(0, candidate.replace("!Unknown", ""), export_modules)
        if frame.module or frame.function:
            frame.trust = "context"
            return [frame]
    return []


def _exception(analysis: AnalysisText, text: str, events: list[Event], start: int) -> ExceptionInfo | None:
    record = "\n".join(analysis.sections.get("EXCEPTION_RECORD", []))
    code = None
    match = _EXCEPTION_CODE.search(record)
    if match:
        code = match.group(1)
    code = code or analysis.first("EXCEPTION_CODE_STR") or analysis.key("Failure.Exception.Code")
    for section in ("EXCEPTION_CODE", "ERROR_CODE"):
        if not code and analysis.first(section):
            status = _NTSTATUS.search(analysis.first(section) or "")
            code = status.group(1) if status else None
    code = code or analysis.first("FAILURE_EXCEPTION_CODE")
    if not code:
        bucket = analysis.first("FAILURE_BUCKET_ID") or analysis.key("Failure.Bucket") or ""
        bucket_match = _BUCKET.search(bucket)
        code = bucket_match.group(1) if bucket_match else None
    if not code:
        event = _real_event(events, start)
        code = event.code if event else None
    if not code and any(k.startswith("AV.") for k in analysis.keys):
        code = "c0000005"
    if not code:
        return None
    code = normalize_code(code)
    subcode_match = _SUBCODE.search(text) if "Subcode:" in text else None
    subcode = int(subcode_match.group(1), 16) if subcode_match else None
    name, crash_class = describe_ntstatus(code, subcode)
    info = ExceptionInfo(code=code, name=name, crash_class=crash_class)
    if subcode is not None and code in ("c0000409", "c0000602"):
        info.detail = subcode_match.group(2) if subcode_match and subcode_match.group(2) else (
            FAST_FAIL_SUBCODES.get(subcode, f"subcode {subcode:#x}"))
    attempt = _ATTEMPT.search(record) or _ATTEMPT.search(text)
    if attempt:
        info.access = {"read from": "read", "write to": "write"}.get(attempt.group(1), "execute")  # type: ignore[assignment]
        info.address = int(attempt.group(2).replace("`", ""), 16)
    else:
        fault = (analysis.key("AV.Fault", "AV.Type") or "").lower()
        if fault in ("read", "write", "execute"):
            info.access = fault  # type: ignore[assignment]
        for name_, access in (("READ_ADDRESS", "read"), ("WRITE_ADDRESS", "write")):
            value = _leading_hex(analysis.first(name_))
            if value is not None:
                info.address = value
                info.access = info.access or access  # type: ignore[assignment]
    address = _EXCEPTION_ADDRESS.search(record)
    if address:
        info.instruction_address = int(address.group(1).replace("`", ""), 16)
    else:
        info.instruction_address = _leading_hex(analysis.key("Failure.Exception.IP.Address"))
    return info


def _leading_hex(value: str | None) -> int | None:
    """`00000000`0000001c (ptr)` -> 0x1c; None when the value does not start with a hex number."""
    match = re.match(r"^(?:0x)?([0-9a-fA-F][0-9a-fA-F`]*)", (value or "").strip())
    return int(match.group(1).replace("`", ""), 16) if match else None


def _real_event(events: list[Event], start: int) -> Event | None:
    """The event the analysis is about: the last non-first-chance one, else the last one."""
    before = [e for e in events if e.line_number < start] or events
    serious = [e for e in before if not e.first_chance]
    chosen = serious or before
    return chosen[-1] if chosen else None


def _crashing_thread(analysis: AnalysisText, events: list[Event], start: int) -> str | None:
    command = analysis.first("STACK_COMMAND") or ""
    match = _FRAME_NUMBER.search(command)
    if match:
        return match.group(1)
    thread = analysis.first("FAULTING_THREAD")
    if thread and not re.fullmatch(r"f+", thread.lower()):
        return thread.lstrip("0") or "0"
    event = _real_event(events, start)
    return event.thread if event else None


def _fill_facts(report: CrashReport, analysis: AnalysisText, text: str) -> None:
    facts = report.facts
    sources = {
        "failure_bucket": (analysis.first("FAILURE_BUCKET_ID"), analysis.key("Failure.Bucket")),
        "failure_hash": (analysis.key("Failure.Hash"), analysis.first("FAILURE_ID_HASH")),
        "symbol_name": (analysis.first("SYMBOL_NAME"),),
        "problem_class": (analysis.key("Failure.ProblemClass.Primary"), analysis.first("PRIMARY_PROBLEM_CLASS"),
                          analysis.first("DEFAULT_BUCKET_ID")),
        "bugcheck_str": (analysis.first("BUGCHECK_STR"),),
        "analysis_version": (analysis.key("Analysis.Version.DbgEng"), analysis.first("ANALYSIS_VERSION")),
        "os_version": (analysis.key("WER.OS.Version"), analysis.first("OS_VERSION")),
    }
    for key, values in sources.items():
        value = next((v for v in values if v), None)
        if value:
            facts[key] = value
    report.process = analysis.first("PROCESS_NAME")
    module = analysis.first("MODULE_NAME") or analysis.key("Failure.Exception.IP.Module")
    if not module and report.frames:
        module = report.frames[0].module
    report.faulting_module = module
    platform = (analysis.first("OSPLATFORM_TYPE") or "").lower()
    report.arch = platform or None
    report.os = "windows"
    dump_name = analysis.first("FILE_IN_CAB") or ""
    loading = re.search(r"^Loading Dump File \[(.*)\]", text[:20000], re.M) if "Loading Dump File" in text else None
    match = _DUMP_NAME.search(dump_name) or (_DUMP_NAME.search(loading.group(1)) if loading else None)
    version = analysis.key("WER.Process.Version")
    if match or (version and version != "0.0.0.0"):
        report.build = BuildInfo(
            revision=match.group("rev") if match else None,
            version=version if version and version != "0.0.0.0" else None,
        )

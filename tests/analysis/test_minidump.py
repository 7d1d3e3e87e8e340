"""Minidumps read directly, checked against what Breakpad and rust-minidump report for them."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_bytes, analyze_path
from crashfix.analysis.models import SourceFormat
from crashfix.analysis.parsers import minidump_format as fmt
from crashfix.errors import ParseError

MINIDUMPS = Path("corpus") / "minidump"


def build_minidump(*, code: int = 0xC0000005, params: tuple[int, ...] = (1, 0x45), with_exception: bool = True,
                   eip: int = 0x0040429E, module_base: int = 0x00400000, module_size: int = 0x2D000,
                   ebp: int = 0, full_memory_stack: tuple[int, bytes] | None = None) -> bytes:
    """A small x86 Windows minidump: system info, one module, one thread, maybe an exception.

    `full_memory_stack` = (address, bytes) stores the stack in a Memory64List stream, as
    full-memory dumps do, instead of in the thread's own stack descriptor.
    """
    streams: list[tuple[int, bytes]] = []
    blob = bytearray()

    def place(data: bytes) -> int:
        blob.extend(data)
        return len(blob) - len(data)

    # Payloads live after a fixed-size header area; offsets are patched below.
    header_size, directory_entries = 32, 5
    base = header_size + 12 * directory_entries
    context = bytearray(716)
    struct.pack_into("<I", context, 184, eip)  # Eip
    struct.pack_into("<I", context, 196, 0x0012FE84)  # Esp
    struct.pack_into("<I", context, 180, ebp)  # Ebp: 0 means no frame-pointer chain
    context_rva = base + place(bytes(context))
    name = "C:\\server\\worldserver.exe".encode("utf-16-le")
    name_rva = base + place(struct.pack("<I", len(name)) + name)
    module = struct.pack("<QIIII", module_base, module_size, 0, 0, name_rva) + bytes(52) + bytes(8) + bytes(8) + bytes(16)
    streams.append((fmt.MODULE_LIST, struct.pack("<I", 1) + module))
    streams.append((fmt.SYSTEM_INFO, struct.pack("<HHHBBIIII", 0, 6, 0, 1, 1, 10, 0, 19045, 2) + bytes(32)))
    thread = struct.pack("<IIIIQQIIII", 7, 0, 0, 0, 0, 0x0012F000, 0, 0, len(context), context_rva)
    streams.append((fmt.THREAD_LIST, struct.pack("<I", 1) + thread))
    if with_exception:
        information = list(params) + [0] * (15 - len(params))
        exception = struct.pack("<IIIIQQII", 7, 0, code, 0, 0, eip, len(params), 0)
        exception += struct.pack("<15Q", *information) + struct.pack("<II", len(context), context_rva)
        streams.append((fmt.EXCEPTION, exception))
    if full_memory_stack is not None:
        address, stack = full_memory_stack
        data_rva = base + place(stack)
        streams.append((fmt.MEMORY64_LIST, struct.pack("<QQQQ", 1, data_rva, address, len(stack))))
    directory = bytearray()
    for stream_type, payload in streams:
        rva = base + place(payload)
        directory += struct.pack("<III", stream_type, len(payload), rva)
    directory += bytes(12 * (directory_entries - len(streams)))
    header = struct.pack("<4sIIIIIQ", b"MDMP", 0xA793, directory_entries, header_size, 0, 0, 0)
    return header + bytes(directory) + bytes(blob)


def test_a_windows_access_violation() -> None:
    report = analyze_bytes(build_minidump())
    assert report.format is SourceFormat.MINIDUMP
    assert report.exception is not None
    assert (report.exception.code, report.exception.access, report.exception.address) == ("c0000005", "write", 0x45)
    assert (report.frames[0].module, report.frames[0].offset, report.frames[0].trust) == (
        "worldserver.exe", 0x429E, "context")
    assert report.signature is not None and report.signature.quality == "low"
    assert report.signature.frames == ["worldserver+0x429e"]


def test_frame_pointer_chain_in_a_full_memory_dump() -> None:
    """x86 frames from the EBP chain, with the stack stored in a Memory64List stream."""
    stack_base = 0x0012FE00
    stack = bytearray(0x200)
    # [ebp] = caller's ebp, [ebp+4] = return address; two frames, then a null ebp.
    struct.pack_into("<II", stack, 0x88, stack_base + 0x170, 0x00404200)
    struct.pack_into("<II", stack, 0x170, 0, 0x004053EC)
    dump = build_minidump(ebp=stack_base + 0x88, full_memory_stack=(stack_base, bytes(stack)))
    report = analyze_bytes(dump)
    walked = [(f.offset, f.trust) for f in report.frames]
    assert walked[:3] == [(0x429E, "context"), (0x41FF, "frame-pointer"), (0x53EB, "frame-pointer")]


def test_a_dump_without_exception_is_a_snapshot() -> None:
    report = analyze_bytes(build_minidump(with_exception=False))
    assert report.kind == "snapshot"
    assert report.exception is None


def test_stack_overflow_and_fail_fast_codes() -> None:
    assert analyze_bytes(build_minidump(code=0xC00000FD, params=())).exception.crash_class == "stack-overflow"  # type: ignore[union-attr]
    abort = analyze_bytes(build_minidump(code=0xC0000409, params=(7,))).exception
    assert abort is not None and abort.crash_class == "abort" and abort.code == "c0000409"


@pytest.mark.parametrize("cut", [16, 40, 200, 700, -1])
def test_truncated_dumps_give_one_clear_error(cut: int) -> None:
    data = build_minidump()
    with pytest.raises(ParseError) as caught:
        analyze_bytes(data[:cut])
    assert "\n" not in caught.value.one_line()
    assert "minidump" in caught.value.one_line()


def test_a_corrupt_stream_count_is_reported() -> None:
    data = bytearray(build_minidump())
    struct.pack_into("<I", data, 8, 10_000_000)
    with pytest.raises(ParseError, match="corrupt"):
        analyze_bytes(bytes(data))


# --- the real dumps of the shared corpus against the processors' expected output ---

def _rust_minidump_frames(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    return json.loads(text[text.index("{"):])["crashing_thread"]["frames"]


@pytest.mark.parametrize(
    ("dump", "expected"),
    [("breakpad_minidump2.dmp", "breakpad_minidump2.rust-minidump-stackwalk.json-pretty.snap"),
     ("rustminidump_linux-mini.dmp", "rustminidump_linux-mini.json-pretty.snap")],
)
def test_frames_agree_with_rust_minidump(shared: Path, dump: str, expected: str) -> None:
    report = analyze_path(shared / MINIDUMPS / dump)
    reference = [f for f in _rust_minidump_frames(shared / MINIDUMPS / expected)
                 if f["trust"] in ("context", "frame_pointer")]
    ours = [f for f in report.frames if f.trust in ("context", "frame-pointer")]
    assert [(f.module, f.offset) for f in ours] == [(f["module"], int(f["module_offset"], 16)) for f in reference]


def test_scanned_frames_agree_with_rust_minidump(shared: Path) -> None:
    """Stack scanning finds rust-minidump's first scanned frames, in order."""
    report = analyze_path(shared / MINIDUMPS / "rustminidump_linux-mini.dmp")
    reference = [(f["module"], int(f["module_offset"], 16))
                 for f in _rust_minidump_frames(shared / MINIDUMPS / "rustminidump_linux-mini.json-pretty.snap")
                 if f["trust"] == "scan"]
    ours = [(f.module, f.offset) for f in report.frames if f.trust == "scan"]
    assert ours[:3] == reference[:3]


def test_module_list_agrees_with_minidump_dump(shared: Path) -> None:
    data = (shared / MINIDUMPS / "breakpad_minidump2.dmp").read_bytes()
    ours = [(m.base, m.name) for m in fmt.read(data).modules]
    listing = (shared / MINIDUMPS / "breakpad_minidump2.dump.out").read_text(encoding="utf-8")
    bases = [int(b, 16) for b in re.findall(r"^\s*base_of_image\s*=\s*(0x[0-9a-f]+)", listing, re.M)]
    names = re.findall(r'^\s*\(code_file\)\s*=\s*"([^"]*)"', listing, re.M)
    assert ours == list(zip(bases, names))


@pytest.mark.parametrize(
    ("dump", "code", "address"),
    [("symbolic_windows_mini.dmp", "c0000005", 0x45), ("symbolic_linux_mini.dmp", "SIGSEGV", 0x45),
     ("symbolic_macos_mini.dmp", "EXC_BAD_ACCESS", 0x45), ("breakpad_linux_divide_by_zero.dmp", "SIGFPE", None),
     ("rustminidump_simple-crashpad.dmp", "SIGABRT", None)],
)
def test_exception_records_by_platform(shared: Path, dump: str, code: str, address: int | None) -> None:
    report = analyze_path(shared / MINIDUMPS / dump)
    assert report.exception is not None and report.exception.code == code
    if address is not None:
        assert report.exception.address == address


def test_assertion_and_crashpad_annotation_streams(shared: Path) -> None:
    report = analyze_path(shared / MINIDUMPS / "rustminidump_invalid-parameter.dmp")
    assert report.assertion is not None
    assert (report.assertion.function, report.assertion.line, report.assertion.condition) == (
        "common_vfprintf", 32, "format != nullptr")
    crashpad = analyze_path(shared / MINIDUMPS / "rustminidump_simple-crashpad.dmp")
    assert crashpad.annotations["hello"] == "world"
    assert "abort() called" in crashpad.annotations.values()

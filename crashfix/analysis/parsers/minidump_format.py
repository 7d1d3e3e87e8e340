"""The minidump file format (Windows `MINIDUMP_*`, plus Breakpad and Crashpad streams).

Only what crash triage needs is read: the stream directory, exception, system info,
threads, modules, memory, assertion, comment and Crashpad annotation streams. Every
read is bounds-checked; a truncated or corrupt file raises `ParseError` naming what
was wrong, never `struct.error`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from crashfix.errors import ParseError

SIGNATURE = b"MDMP"

THREAD_LIST = 3
MODULE_LIST = 4
MEMORY_LIST = 5
EXCEPTION = 6
SYSTEM_INFO = 7
MEMORY64_LIST = 9
COMMENT_A = 10
COMMENT_W = 11
ASSERTION_INFO = 0x47670002
CRASHPAD_INFO = 0x43500001

ARCHITECTURES = {0: "x86", 5: "arm", 9: "amd64", 12: "arm64", 0x8003: "arm64"}
PLATFORMS = {0: "windows", 1: "windows", 2: "windows", 0x8101: "macos", 0x8102: "ios",
             0x8201: "linux", 0x8203: "android", 0x8206: "fuchsia"}


class Reader:
    """Bounds-checked little-endian reads from the whole file."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        size = struct.calcsize("<" + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise ParseError(
                f"the minidump is truncated or corrupt: a record at offset {offset:#x} runs past "
                f"the end of the file ({len(self.data)} bytes)",
                hint="was the dump still being written? crashfix waits for files to be complete",
            )
        return struct.unpack_from("<" + fmt, self.data, offset)

    def u32(self, offset: int) -> int:
        return self.unpack("I", offset)[0]

    def u64(self, offset: int) -> int:
        return self.unpack("Q", offset)[0]

    def bytes_at(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise ParseError(f"the minidump is truncated: {size} bytes at {offset:#x} are missing")
        return self.data[offset : offset + size]

    def utf16_string(self, rva: int) -> str:
        """A MINIDUMP_STRING: byte length, then UTF-16LE."""
        length = self.u32(rva)
        if length > 65536:
            raise ParseError(f"the minidump is corrupt: a string at {rva:#x} claims {length} bytes")
        return self.bytes_at(rva + 4, length).decode("utf-16-le", errors="replace")

    def utf8_string(self, rva: int) -> str:
        """A Crashpad MinidumpUTF8String: length, then bytes."""
        length = self.u32(rva)
        return self.bytes_at(rva + 4, min(length, 65536)).decode("utf-8", errors="replace")


@dataclass
class Module:
    base: int
    size: int
    name: str
    version: str | None = None
    debug_file: str | None = None
    debug_id: str | None = None

    def contains(self, address: int) -> bool:
        return self.base <= address < self.base + self.size


@dataclass
class Thread:
    thread_id: int
    stack_start: int
    stack_rva: int
    stack_size: int
    context_rva: int
    context_size: int


@dataclass
class ExceptionRecord:
    thread_id: int
    code: int
    flags: int
    address: int
    parameters: list[int]
    context_rva: int
    context_size: int


@dataclass
class Minidump:
    """The streams crash triage needs, decoded."""

    streams: dict[int, tuple[int, int]] = field(default_factory=dict)
    exception: ExceptionRecord | None = None
    arch: str | None = None
    platform: str | None = None
    os_version: str | None = None
    threads: list[Thread] = field(default_factory=list)
    modules: list[Module] = field(default_factory=list)
    memory: list[tuple[int, int, int]] = field(default_factory=list)  # (start, rva, size)


def read_directory(reader: Reader) -> dict[int, tuple[int, int]]:
    """Stream type -> (rva, size) for every stream the header lists."""
    if reader.bytes_at(0, 4) != SIGNATURE:
        raise ParseError("not a minidump: the file does not start with 'MDMP'")
    _, _, count, directory = reader.unpack("4sIII", 0)
    if count > 4096:
        raise ParseError(f"the minidump is corrupt: it claims {count} streams")
    streams: dict[int, tuple[int, int]] = {}
    for i in range(count):
        stream_type, size, rva = reader.unpack("III", directory + 12 * i)
        if stream_type and stream_type not in streams:
            streams[stream_type] = (rva, size)
    return streams


def _list_start(count_size: int, count: int, item: int, size: int) -> int:
    """Some writers pad the count to 8 bytes; the stream size tells which."""
    return count_size + 4 if size == count_size + 4 + count * item else count_size


def read(data: bytes) -> Minidump:
    reader = Reader(data)
    dump = Minidump(streams=read_directory(reader))
    if SYSTEM_INFO in dump.streams:
        rva, _ = dump.streams[SYSTEM_INFO]
        arch, _, _, _, _, major, minor, build, platform = reader.unpack("HHHBBIIII", rva)
        dump.arch = ARCHITECTURES.get(arch, f"arch-{arch:#x}")
        dump.platform = PLATFORMS.get(platform, f"platform-{platform:#x}")
        dump.os_version = f"{major}.{minor}.{build}"
    if EXCEPTION in dump.streams:
        rva, _ = dump.streams[EXCEPTION]
        thread_id, _, code, flags, _, address, count = reader.unpack("IIIIQQI", rva)
        params = list(reader.unpack("15Q", rva + 40))[: min(count, 15)]
        context_size, context_rva = reader.unpack("II", rva + 160)
        dump.exception = ExceptionRecord(thread_id, code, flags, address, params, context_rva, context_size)
    if THREAD_LIST in dump.streams:
        rva, size = dump.streams[THREAD_LIST]
        count = reader.u32(rva)
        start = rva + _list_start(4, count, 48, size)
        for i in range(min(count, 100_000)):
            tid, _, _, _, _, stack_start, stack_size, stack_rva, ctx_size, ctx_rva = reader.unpack(
                "IIIIQQIIII", start + 48 * i
            )
            dump.threads.append(Thread(tid, stack_start, stack_rva, stack_size, ctx_rva, ctx_size))
    if MODULE_LIST in dump.streams:
        dump.modules = _modules(reader, *dump.streams[MODULE_LIST])
    if MEMORY_LIST in dump.streams:
        rva, size = dump.streams[MEMORY_LIST]
        count = reader.u32(rva)
        start = rva + _list_start(4, count, 16, size)
        for i in range(min(count, 1_000_000)):
            mem_start, mem_size, mem_rva = reader.unpack("QII", start + 16 * i)
            dump.memory.append((mem_start, mem_rva, mem_size))
    if MEMORY64_LIST in dump.streams:
        # Full-memory dumps (procdump -ma, MiniDumpWithFullMemory): ranges stored back to back.
        rva, _ = dump.streams[MEMORY64_LIST]
        count, data_rva = reader.u64(rva), reader.u64(rva + 8)
        for i in range(min(count, 1_000_000)):
            mem_start, mem_size = reader.unpack("QQ", rva + 16 + 16 * i)
            dump.memory.append((mem_start, data_rva, mem_size))
            data_rva += mem_size
    return dump


def _modules(reader: Reader, rva: int, size: int) -> list[Module]:
    count = reader.u32(rva)
    start = rva + _list_start(4, count, 108, size)
    modules = []
    for i in range(min(count, 100_000)):
        at = start + 108 * i
        base, image_size, _, _, name_rva = reader.unpack("QIIII", at)
        ms, ls = reader.unpack("II", at + 24 + 8)  # VS_FIXEDFILEINFO dwFileVersionMS/LS
        cv_size, cv_rva = reader.unpack("II", at + 76)
        module = Module(base=base, size=image_size, name=reader.utf16_string(name_rva))
        if ms or ls:
            module.version = f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"
        if cv_size >= 24:
            _codeview(reader, cv_rva, cv_size, module)
        modules.append(module)
    return modules


def _codeview(reader: Reader, rva: int, size: int, module: Module) -> None:
    """PDB 7.0 (`RSDS`) and Breakpad ELF (`BpEL`) debug identifiers."""
    signature = reader.bytes_at(rva, 4)
    if signature == b"RSDS" and size >= 25:
        d1, d2, d3 = reader.unpack("IHH", rva + 4)
        d4 = reader.bytes_at(rva + 12, 8)
        age = reader.u32(rva + 20)
        module.debug_id = f"{d1:08X}{d2:04X}{d3:04X}{d4.hex().upper()}{age:X}"
        module.debug_file = reader.bytes_at(rva + 24, size - 24).split(b"\0", 1)[0].decode("utf-8", "replace")
    elif signature == b"BpEL":
        module.debug_id = reader.bytes_at(rva + 4, min(size - 4, 40)).hex().upper()


def read_memory(reader: Reader, dump: Minidump, address: int, size: int) -> bytes | None:
    """Bytes at a process address, when the dump captured them."""
    for start, rva, length in dump.memory:
        if start <= address and address + size <= start + length:
            return reader.bytes_at(rva + (address - start), size)
    for thread in dump.threads:
        if thread.stack_start <= address and address + size <= thread.stack_start + thread.stack_size:
            return reader.bytes_at(thread.stack_rva + (address - thread.stack_start), size)
    return None


def read_assertion(reader: Reader, dump: Minidump) -> dict[str, str | int] | None:
    """Breakpad's assertion stream: expression, function, file, line (invalid-parameter handler)."""
    if ASSERTION_INFO not in dump.streams:
        return None
    rva, _ = dump.streams[ASSERTION_INFO]

    def text(offset: int) -> str:
        return reader.bytes_at(rva + offset, 256).decode("utf-16-le", "replace").split("\0", 1)[0]

    line, kind = reader.unpack("II", rva + 768)
    return {"expression": text(0), "function": text(256), "file": text(512), "line": line, "type": kind}


def read_comment(reader: Reader, dump: Minidump) -> str | None:
    """A comment stream (TrinityCore writes its assertion text there)."""
    if COMMENT_A in dump.streams:
        rva, size = dump.streams[COMMENT_A]
        return reader.bytes_at(rva, size).split(b"\0", 1)[0].decode("utf-8", "replace")
    if COMMENT_W in dump.streams:
        rva, size = dump.streams[COMMENT_W]
        return reader.bytes_at(rva, size).decode("utf-16-le", "replace").split("\0", 1)[0]
    return None


def read_crashpad_annotations(reader: Reader, dump: Minidump) -> dict[str, str]:
    """Crashpad's simple annotations and per-module list annotations."""
    if CRASHPAD_INFO not in dump.streams:
        return {}
    rva, _ = dump.streams[CRASHPAD_INFO]
    annotations: dict[str, str] = {}
    simple_size, simple_rva = reader.unpack("II", rva + 36)
    if simple_size:
        annotations.update(_string_dictionary(reader, simple_rva))
    modules_size, modules_rva = reader.unpack("II", rva + 44)
    if modules_size:
        count = reader.u32(modules_rva)
        for i in range(min(count, 1000)):
            index, _, info_rva = reader.unpack("III", modules_rva + 4 + 12 * i)
            list_size, list_rva = reader.unpack("II", info_rva + 4)
            if list_size:
                items = reader.u32(list_rva)
                for j in range(min(items, 100)):
                    value = reader.utf8_string(reader.u32(list_rva + 4 + 4 * j))
                    annotations[f"module[{index}].list[{j}]"] = value
    return annotations


def _string_dictionary(reader: Reader, rva: int) -> dict[str, str]:
    count = reader.u32(rva)
    result = {}
    for i in range(min(count, 1000)):
        key_rva, value_rva = reader.unpack("II", rva + 4 + 8 * i)
        result[reader.utf8_string(key_rva)] = reader.utf8_string(value_rva)
    return result

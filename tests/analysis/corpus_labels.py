"""Reading the shared corpus manifest and its free-text labels.

`faulting_function_if_shown` holds what an engineer would blame, written the way the
source showed it: `mod!Func+0x1f (notes)`, `mod+0x1234`, `worldserver.exe 0001:0043AF01`,
`Func<...> (notes)`, `crash + 0x1d72`, `datacache.dll!Unknown`, or `?` when nothing is
shown. `matches` compares a blamed frame with such a label, normalising names the same
way on both sides and checking offsets when the label gives one.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from crashfix.analysis.models import Frame
from crashfix.analysis.symbols import normalize_function, normalize_module

FORMAT_OF_KIND = {
    "cdb": "cdb", "wheaty": "wheaty", "gdb": "gdb", "asan": "sanitizer",
    "minidump": "minidump", "minidump-expected": "breakpad",
}


@dataclass
class Row:
    file: str
    kind: str
    exception_code: str
    label: str
    cluster: str = ""


def read_manifest(shared: Path, corpus: str = "corpus") -> list[Row]:
    """The rows of `../shared/<corpus>/MANIFEST.tsv` (`corpus2` adds a `cluster` column)."""
    with (shared / corpus / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return [
            Row(r["file"], r["kind"], r["exception_code"], r["faulting_function_if_shown"],
                (r.get("cluster") or "").strip())
            for r in csv.DictReader(handle, delimiter="\t")
        ]


@dataclass
class Expected:
    module: str | None = None
    function: str | None = None
    offset: int | None = None
    section: int | None = None
    address: int | None = None
    bare: str | None = None  # a single word: a function or a module


def _strip_notes(label: str) -> str:
    """Drop a trailing ` (notes)` that is not inside a template argument list."""
    depth = 0
    for i, char in enumerate(label):
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        elif char == "(" and depth == 0 and i > 0 and label[i - 1] == " ":
            return label[: i - 1].strip()
    return label.strip()


def parse_label(label: str) -> Expected | None:
    label = label.strip()
    if not label or re.match(r"\?(?:\s|$)", label):  # `? (why)`; `?Name@Class@@...` is an MSVC name
        return None
    core = _strip_notes(label)
    match = re.fullmatch(r"(?P<mod>[\w.\-]+) (?P<sec>[0-9A-Fa-f]{4}):(?P<off>[0-9A-Fa-f]+)", core)
    if match:
        return Expected(module=match["mod"], section=int(match["sec"], 16), offset=int(match["off"], 16))
    match = re.fullmatch(r"(?P<mod>[\w.\-]+\.(?:exe|dll|so)) (?P<addr>[0-9A-Fa-f]{6,16})", core, re.IGNORECASE)
    if match:  # `samp-server.exe 0047971a`: an unsymbolised frame by module and absolute address
        return Expected(module=match["mod"], address=int(match["addr"], 16))
    match = re.fullmatch(r"(?P<mod>[\w.\-]+) \+ 0x(?P<off>[0-9a-fA-F]+)", core)
    if match:
        return Expected(module=match["mod"], offset=int(match["off"], 16))
    match = re.fullmatch(r"(?P<mod>[\w.\-]+)!(?P<fn>.+?)(?:\+0x(?P<off>[0-9a-fA-F]+))?", core)
    if match:
        function = None if match["fn"] == "Unknown" else match["fn"]
        return Expected(module=match["mod"], function=function,
                        offset=int(match["off"], 16) if match["off"] else None)
    match = re.fullmatch(r"(?P<mod>[\w.\-]+)\+0x(?P<off>[0-9a-fA-F]+)", core)
    if match:
        return Expected(module=match["mod"], offset=int(match["off"], 16))
    if re.fullmatch(r"[\w.\-]+\.(?:exe|dll)", core, re.IGNORECASE):
        return Expected(module=core)
    if re.fullmatch(r"[\w]+", core):
        return Expected(bare=core)
    return Expected(function=core)


def matches(expected: Expected, frame: Frame | None) -> bool:
    if frame is None:
        return False
    module = normalize_module(frame.module)
    function = normalize_function(frame.function) if frame.function else None
    if expected.bare is not None:
        return normalize_function(expected.bare) in (function, module)
    if expected.module is not None and normalize_module(expected.module) != module:
        return False
    if expected.function is not None and normalize_function(expected.function) != function:
        return False
    if expected.function is None and expected.module is not None and function is not None and frame.symbols == "full":
        return False  # the label says "no symbols"; a named frame is a different claim
    if expected.offset is not None and frame.offset != expected.offset:
        return False
    if expected.section is not None and frame.section != expected.section:
        return False
    if expected.address is not None and frame.address != expected.address:
        return False
    return True

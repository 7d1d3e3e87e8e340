"""Is the PDB of a dump's module where CDB will look? (`crashfix doctor --host`)

Without the `.pdb` of the exact build that crashed, CDB names no functions and the crash
is filed with a low-quality signature. CDB finds a PDB by its module's debug id (the PDB's
GUID and age, recorded in the executable and in every minidump) along the symbol path:
- in a symbol store (`srv*D:\\symbols*https://...`, a `cache*` folder, or a folder holding
  `index2.txt`): `<store>/<name>.pdb/<GUID><age>/<name>.pdb`; a server is asked over HTTP;
- in a plain folder: `<folder>/<name>.pdb`, used only if its GUID matches, so an old dump
  does not match a folder that holds only the newest build's PDB.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"
PDB_INFO_STREAM = 1
HttpProbe = Callable[[str], bool]


@dataclass(frozen=True)
class Lookup:
    found: str | None  # where it is
    looked: list[str]  # where it was looked for
    mismatched: list[str]  # plain-folder PDBs of another build


def _blocks(data: bytes, size: int, indices: list[int], block: int) -> bytes:
    return b"".join(data[i * block:(i + 1) * block] for i in indices)[:size]


def pdb_guid(path: Path) -> str | None:
    """The GUID (32 hex digits, as in a debug id) of an MSF 7.0 PDB; None if the file is not one."""
    try:
        data = path.read_bytes()
        if not data.startswith(MSF_MAGIC):
            return None
        block, _, _, directory_bytes, _, map_at = struct.unpack_from("<6I", data, 32)
        count = -(-directory_bytes // block)
        directory_blocks = list(struct.unpack_from(f"<{count}I", data, map_at * block))
        directory = _blocks(data, directory_bytes, directory_blocks, block)
        streams = struct.unpack_from("<I", directory, 0)[0]
        sizes = list(struct.unpack_from(f"<{streams}I", directory, 4))
        at = 4 + 4 * streams
        for number, size in enumerate(sizes):
            used = 0 if size == 0xFFFFFFFF else -(-size // block)
            indices = list(struct.unpack_from(f"<{used}I", directory, at))
            at += 4 * used
            if number == PDB_INFO_STREAM:
                info = _blocks(data, size, indices, block)
                d1, d2, d3 = struct.unpack_from("<IHH", info, 12)
                return f"{d1:08X}{d2:04X}{d3:04X}{info[20:28].hex().upper()}"
    except (OSError, struct.error, ValueError, MemoryError):
        return None
    return None


def _store_entries(element: str) -> tuple[list[str], bool]:
    """The stores (folders, URLs) of one symbol path element; True when it is a store, not a plain folder."""
    lowered = element.lower()
    if lowered.startswith("srv*") or lowered.startswith("cache*"):
        return [part for part in element.split("*")[1:] if part], True
    if lowered.startswith("symsrv*"):
        return [part for part in element.split("*")[2:] if part], True
    return [element], False


def _in_store(store: str, name: str, debug_id: str, probe: HttpProbe) -> str | None:
    if store.lower().startswith(("http://", "https://")):
        url = f"{store.rstrip('/')}/{name}/{debug_id}/{name}"
        return url if probe(url) else None
    root = Path(store)
    tiers = [root / name[:2].lower(), root] if (root / "index2.txt").is_file() else [root]
    for tier in tiers:
        folder = tier / name / debug_id
        for candidate in (folder / name, folder / (name[:-1] + "_"), folder / "file.ptr"):
            if candidate.is_file():
                return str(candidate)
    return None


def find_pdb(debug_file: str, debug_id: str, symbol_path: str, probe: HttpProbe) -> Lookup:
    """Look for the PDB along `symbol_path` as CDB would, in order; stop at the first match."""
    name = PureWindowsPath(debug_file).name
    looked: list[str] = []
    mismatched: list[str] = []
    for element in (part.strip() for part in symbol_path.split(";")):
        if not element:
            continue
        stores, is_store = _store_entries(element)
        for store in stores:
            looked.append(store)
            found = _in_store(store, name, debug_id, probe)
            if found:
                return Lookup(found, looked, mismatched)
            flat = Path(store) / name
            if not is_store and flat.is_file():
                if pdb_guid(flat) == debug_id[:32]:
                    return Lookup(str(flat), looked, mismatched)
                mismatched.append(str(flat))
    return Lookup(None, looked, mismatched)

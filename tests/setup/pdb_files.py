"""A minimal PDB (MSF 7.0) holding just the PDB information stream: what identifies a build's PDB.

Written by the layout LLVM documents ("The MSF File Format", "The PDB Info Stream"): a superblock,
the free block maps, a block map naming the directory's blocks, the stream directory, and stream 1
with the version, signature, age and GUID that the executable's CodeView record repeats.
"""

from __future__ import annotations

import struct

from crashfix.setup.pdb_lookup import MSF_MAGIC

BLOCK = 512


def pdb_bytes(debug_id: str) -> bytes:
    """A PDB whose GUID and age are those of `debug_id` (32 hex digits of GUID, then the age in hex)."""
    guid, age = debug_id[:32], int(debug_id[32:] or "1", 16)
    info = struct.pack("<III", 20000404, 0x5E1F0000, age)
    info += struct.pack("<IHH", int(guid[:8], 16), int(guid[8:12], 16), int(guid[12:16], 16)) + bytes.fromhex(guid[16:])
    directory = struct.pack("<I", 2) + struct.pack("<II", 0, len(info)) + struct.pack("<I", 5)
    superblock = MSF_MAGIC + struct.pack("<6I", BLOCK, 1, 6, len(directory), 0, 3)
    blocks = [superblock, b"\xff" * BLOCK, b"\xff" * BLOCK, struct.pack("<I", 4), directory, info]
    return b"".join(block.ljust(BLOCK, b"\0") for block in blocks)

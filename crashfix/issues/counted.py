"""Which crash files an issue has already counted, per host: counting survives a lost spool.

Each host's entry keeps its most recent counted files as 8 bytes each (4 of the content
hash, 4 of the file's time), base64 in the record, so a host whose state folder was
deleted (or whose spool was corrupt) recognises the files it counted before and counts
nothing twice. The record stays small: past `PER_HOST` entries for a host, or `TOTAL`
for the issue, the oldest are dropped and the host's `horizon` remembers the newest
dropped time. A file older than the horizon is taken as counted; so a crash file that
reaches the uploader after more than `PER_HOST` newer crashes of its signature on the
same host were counted would not be counted (a documented limit), and a lost spool may
count again a dropped file of the horizon's very second.
"""

from __future__ import annotations

import base64
import struct

from pydantic import Field

from crashfix.analysis.models import Strict

PER_HOST = 256
TOTAL = 1024
_ENTRY = struct.Struct(">4sI")


class HostCounted(Strict):
    files: str = Field(default="", description="base64 of 8-byte entries: hash prefix, file time; oldest first.")
    horizon: int = Field(default=0, description="Files of this host older than this (epoch s) are counted.")


def _entries(host: HostCounted) -> list[tuple[bytes, int]]:
    raw = base64.b64decode(host.files) if host.files else b""
    usable = len(raw) - len(raw) % _ENTRY.size
    return [_ENTRY.unpack_from(raw, offset) for offset in range(0, usable, _ENTRY.size)]


def _store(host: HostCounted, entries: list[tuple[bytes, int]]) -> None:
    host.files = base64.b64encode(b"".join(_ENTRY.pack(prefix, at) for prefix, at in entries)).decode()


def _prefix(content_hash: str) -> bytes:
    return bytes.fromhex(content_hash[:8])


def _seconds(file_time: float) -> int:
    return max(0, min(int(file_time), 2**32 - 1))


def is_counted(counted: dict[str, HostCounted], host: str, content_hash: str, file_time: float) -> bool:
    entry = counted.get(host)
    if entry is None:
        return False
    if _seconds(file_time) < entry.horizon:
        return True
    prefix = _prefix(content_hash)
    return any(known == prefix for known, _ in _entries(entry))


def note_counted(counted: dict[str, HostCounted], host: str, content_hash: str, file_time: float) -> None:
    """Remember one counted file; the oldest entries give way past the caps."""
    entry = counted.setdefault(host, HostCounted())
    entries = _entries(entry)
    entries.append((_prefix(content_hash), _seconds(file_time)))
    entries.sort(key=lambda item: item[1])
    while len(entries) > PER_HOST:
        entry.horizon = max(entry.horizon, entries.pop(0)[1])
    _store(entry, entries)
    _cap_total(counted)


def _cap_total(counted: dict[str, HostCounted]) -> None:
    per_host = {name: _entries(entry) for name, entry in counted.items()}
    total = sum(len(entries) for entries in per_host.values())
    if total <= TOTAL:
        return
    while total > TOTAL:
        oldest = min((entries[0][1], name) for name, entries in per_host.items() if entries)[1]
        counted[oldest].horizon = max(counted[oldest].horizon, per_host[oldest].pop(0)[1])
        total -= 1
    for name, entries in per_host.items():
        _store(counted[name], entries)

"""Where a crash's dump can be read from a fix runner: the uploader's folder, as the runner sees it.

The uploader knows the dump as `D:/Server/Crashes/x.dmp` on the game-server host; a Windows
runner with a dump-inspecting tool server (mcp-windbg) reads it through a share. The
uploader's `share_paths` maps one to the other; the issue record keeps the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DUMP_SUFFIXES = (".dmp", ".mdmp")


def shared_dump_path(files: Sequence[str], share_paths: Mapping[str, str]) -> str | None:
    """The runner's path to the first dump among `files` (the uploader's paths), or None (no dump, or no share)."""
    dump = next((path for path in files if path.lower().endswith(DUMP_SUFFIXES)), None)
    if dump is None:
        return None
    local = dump.replace("\\", "/")
    for prefix, share in sorted(share_paths.items(), key=lambda item: -len(item[0])):
        wanted = prefix.replace("\\", "/").rstrip("/") + "/"
        if local.lower().startswith(wanted.lower()):
            sep = "\\" if "\\" in share and "/" not in share else "/"  # a UNC share keeps its backslashes
            return share.rstrip("/\\") + sep + local[len(wanted):].replace("/", sep)
    return None

"""Every function and class of a checkout, parsed once per file content and cached on disk per commit.

Crash reports often name functions without files (a stripped stack, a one-line assertion,
a template argument inside an STL frame), and the locate step needs enclosing functions of
arbitrary lines (call sites found by search). Parsing a 5,000-file tree with tree-sitter
takes seconds, so the result is kept in the user's cache folder: one JSON file per commit,
each entry checked against the file's size and mtime, then its content digest, so a
re-clone of the same commit reuses it and an edited file is parsed again; the last 8
commits are kept. A cache that cannot be read or written is ignored: the index is then
built in memory.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from bisect import bisect_right
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from crashfix.locate.cpp_syntax import MAX_FILE_BYTES, FileSpans, FunctionSpan, parse_spans
from crashfix.locate.index import is_low_priority
from crashfix.locate.names import match_score, name_components, split_qualified

FORMAT_VERSION = 2
KEEP_COMMITS = 8
PARALLEL_FROM = 400
"""Parse in worker processes when at least this many files need parsing (process start-up costs ~0.3 s).

Workers are spawned, so a script calling `locate` must guard its top level with
`if __name__ == "__main__":`; `CRASHFIX_INDEX_WORKERS=1` parses in the calling process."""
MAX_NAME = 1000
_Entry = tuple[int, int, str, FileSpans]  # size, mtime_ns, digest, spans


def cache_dir() -> Path:
    """`CRASHFIX_CACHE_DIR`, else the platform's per-user cache folder."""
    configured = os.environ.get("CRASHFIX_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "crashfix" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crashfix"


def head_commit(root: Path) -> str | None:
    """The checkout's HEAD commit, or None when it is not a git work tree (or git is missing)."""
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=15, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) else None


@cache
def parser_identity() -> str:
    """What the cached spans depend on: this format, crashfix's and the C++ grammar's versions."""
    versions = []
    for package in ("crashfix", "tree-sitter", "tree-sitter-cpp"):
        try:
            versions.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            versions.append("?")
    return f"{FORMAT_VERSION}/" + "/".join(versions)


def _workers() -> int:
    """`CRASHFIX_INDEX_WORKERS`, else the CPUs this process may run on (at most 8)."""
    configured = os.environ.get("CRASHFIX_INDEX_WORKERS", "").strip()
    if configured.isdigit():
        return max(1, int(configured))
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return max(1, min(available, 8))


def _digest(data: bytes) -> str:
    """A file's content identity in the cache (not a security boundary: the cache is the user's own)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _parse_one(path: str) -> tuple[str, FileSpans] | None:
    """(digest, spans) of one file; a worker-process entry point, so it takes and returns plain data."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        spans = parse_spans(data)
    except Exception:  # noqa: BLE001 - one file the parser cannot take must not cost the whole index
        spans = FileSpans((), ())
    return _digest(data), spans


@dataclass
class SymbolIndex:
    """Function and class spans of every source file, and definitions by last name component."""

    root: Path
    spans: dict[str, FileSpans]
    parsed: int = 0
    """How many files this build had to parse (the rest came from the cache)."""
    _by_name: dict[str, list[tuple[str, FunctionSpan]]] = field(default_factory=dict, repr=False)
    _orders: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for path, spans in self.spans.items():
            for span in (*spans.functions, *spans.classes):
                parts = split_qualified(span.qualified_name)
                if parts:
                    self._by_name.setdefault(parts[-1].lstrip("~").lower(), []).append((path, span))

    @classmethod
    def build(cls, root: Path, files: Iterable[str], *, use_cache: bool = True) -> SymbolIndex:
        """The index of `files` (repository-relative) under `root`, reusing and refreshing the disk cache."""
        root = root.resolve()
        cache_file = _cache_file(root) if use_cache else None
        old = _load(cache_file, root) if cache_file else {}
        if cache_file is not None and not old:  # a new commit: most files are as in the last one indexed
            newest = _newest(cache_file.parent)
            old = _load(newest, None) if newest is not None else {}
        entries: dict[str, _Entry] = {}
        to_parse: list[tuple[str, int, int]] = []
        for relative in files:
            try:
                stat = (root / relative).stat()
            except OSError:
                continue
            if stat.st_size > MAX_FILE_BYTES:
                continue
            known = old.get(relative)
            if known is not None and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
                entries[relative] = known
            else:
                to_parse.append((relative, stat.st_size, stat.st_mtime_ns))
        parsed = 0
        for (relative, size, mtime), result in zip(to_parse, _parse_all(root, [item[0] for item in to_parse], old)):
            if result is None:
                continue
            digest, spans, fresh = result
            parsed += fresh
            entries[relative] = (size, mtime, digest, spans)
        if cache_file is not None and (to_parse or set(old) != set(entries)):
            _save(cache_file, root, entries)
        return cls(root, {path: entry[3] for path, entry in entries.items()}, parsed)

    def file_spans(self, relative: str) -> FileSpans | None:
        return self.spans.get(relative)

    def enclosing(self, relative: str, line: int) -> FunctionSpan | None:
        """The innermost function containing `line`, in O(log n) for the usual file (searches call it per match)."""
        spans = self.spans.get(relative)
        if not spans or not spans.functions:
            return None
        starts, reach = self._order(relative)
        position = bisect_right(starts, line) - 1
        while position >= 0 and reach[position] >= line:  # nothing at or before `position` reaches the line
            span = spans.functions[position]
            if span.end_line >= line:
                return span  # the latest-starting span containing the line is the innermost
            position -= 1
        return None

    def _order(self, relative: str) -> tuple[list[int], list[int]]:
        """Start lines of the file's functions (sorted) and the furthest end line up to each."""
        known = self._orders.get(relative)
        if known is None:
            functions = self.spans[relative].functions
            reach, furthest = [], 0
            for span in functions:
                furthest = max(furthest, span.end_line)
                reach.append(furthest)
            known = self._orders[relative] = ([span.start_line for span in functions], reach)
        return known

    def definitions(self, name: str, kinds: Iterable[str] = ("function",),
                    limit: int = 20) -> list[tuple[str, FunctionSpan]]:
        """Definitions answering `name` (see `crashfix.locate.names.match_score`), best match first."""
        wanted = name_components(name)
        if not wanted:
            return []
        allowed = frozenset(kinds)
        scored = []
        for path, span in self._by_name.get(wanted[-1].lstrip("~").lower(), []):
            if span.kind not in allowed:
                continue
            score = match_score(split_qualified(span.qualified_name), wanted)
            if score:
                scored.append((-score, is_low_priority(path), path, span.start_line, span))
        scored.sort(key=lambda item: item[:4])
        return [(item[2], item[4]) for item in scored[:limit]]


def _parse_all(root: Path, relatives: list[str],
               old: dict[str, _Entry]) -> list[tuple[str, FileSpans, bool] | None]:
    """Digest and spans per file, reusing an old entry whose content digest still matches."""
    paths = [str(root / relative) for relative in relatives]
    out: list[tuple[str, FileSpans, bool] | None] = []
    pending: list[int] = []
    for position, (relative, path) in enumerate(zip(relatives, paths)):
        known = old.get(relative)
        if known is not None:
            try:
                digest = _digest(Path(path).read_bytes())
            except OSError:
                out.append(None)
                continue
            if digest == known[2]:
                out.append((digest, known[3], False))
                continue
        out.append(None)
        pending.append(position)
    results: Iterable[tuple[str, FileSpans] | None]
    todo = [paths[position] for position in pending]
    workers = _workers()
    if len(todo) >= PARALLEL_FROM and workers > 1:
        try:
            spawn = multiprocessing.get_context("spawn")  # forking a threaded process can deadlock
            with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
                results = list(pool.map(_parse_one, todo, chunksize=32))
        except (OSError, RuntimeError):  # no worker processes here: parse in this one
            results = map(_parse_one, todo)
    else:
        results = map(_parse_one, todo)
    for position, result in zip(pending, results):
        out[position] = (result[0], result[1], True) if result is not None else None
    return out


def _cache_file(root: Path) -> Path:
    """One file per commit (any clone of it shares it); a folder outside git gets one per path."""
    commit = head_commit(root)
    key = commit or "path-" + hashlib.blake2b(str(root).encode(), digest_size=10).hexdigest()
    return cache_dir() / "symbols" / f"{key}.json"


def _span_row(span: FunctionSpan) -> list[object]:
    return [span.qualified_name, span.name, span.start_line, span.end_line, span.body_start_line, span.kind]


_KINDS = frozenset({"function", "class", "struct", "union", "enum"})


def _span(row: list) -> FunctionSpan:  # type: ignore[type-arg]
    """A cached span, checked: names reach the model's prompt, so a damaged cache must not pass."""
    qualified, name, start, end, body, kind = str(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]), row[5]
    if not (1 <= start <= body <= end) or kind not in _KINDS or not qualified or len(qualified) > MAX_NAME \
            or not qualified.isprintable() or not name.isprintable():
        raise ValueError("not a span crashfix wrote")
    return FunctionSpan(qualified, name, start, end, body, str(kind))


def _newest(folder: Path) -> Path | None:
    try:
        return max(folder.glob("*.json"), key=lambda path: path.stat().st_mtime_ns, default=None)
    except OSError:
        return None


def _load(cache_file: Path, root: Path | None) -> dict[str, _Entry]:
    """The cached entries; stat fields only count for the same root (another clone has other mtimes)."""
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
        if data.get("version") != parser_identity():
            return {}
        same_root = root is not None and data.get("root") == str(root)
        return {
            path: (int(row[0]) if same_root else -1, int(row[1]), str(row[2]),
                   FileSpans(tuple(_span(s) for s in row[3]), tuple(_span(s) for s in row[4])))
            for path, row in data["files"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}


def _save(cache_file: Path, root: Path, entries: dict[str, _Entry]) -> None:
    """Write atomically; a cache that cannot be written is only a slower next run."""
    files = {
        path: [size, mtime, digest, [_span_row(s) for s in spans.functions], [_span_row(s) for s in spans.classes]]
        for path, (size, mtime, digest, spans) in entries.items()
    }
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({"version": parser_identity(), "root": str(root), "files": files},
                                      separators=(",", ":")), encoding="utf-8")
        os.replace(partial, cache_file)
        _prune(cache_file.parent)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    """Keep the `KEEP_COMMITS` newest indexes (a busy repository makes one per commit) and no old partial writes."""
    cached = sorted(folder.glob("*.json"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    hour_ago = time.time() - 3600
    for stale in [*cached[KEEP_COMMITS:], *(p for p in folder.glob("*.partial") if p.stat().st_mtime < hour_ago)]:
        stale.unlink(missing_ok=True)

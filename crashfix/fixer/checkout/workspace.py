"""The model's hands: reading, searching and editing the checkout, jailed to it.

Every path the model names is resolved (symlinks included) and must stay inside the
checkout, out of `.git/` and `.github/` (workflows hold the keys to the repository), in
any letter case and in any spelling Windows would take for them (`.github.`, `GITHUB~1`,
`ci.yml::$DATA`). Every file a tool reads on its own (search, listings, definitions)
passes the same jail, so a symlink committed to the repository leads nowhere. Model
regexes run with a time limit. A file with more than one hard link is neither read nor
changed, and a file is used only if it is still the one checked (`files`). Binaries are
neither read nor edited, and an edit that deletes a large block is refused: a minimal fix
never needs either. Refusals and mismatches come back as `ToolError` with a message written
for the model, so it can correct itself. What the model wrote is kept (`written`): the commit
is made from those bytes, never from whatever a build left in the checkout.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import regex as bounded_re  # the `re` syntax, with a timeout on each match: model patterns cannot hang a search

from crashfix.errors import CrashfixError
from crashfix.fixer.checkout import files
from crashfix.fixer.checkout.closest import mismatch
from crashfix.fixer.checkout.jail import (
    NEW_FILE_SUFFIXES,
    PathRefused,
    change_refusal,
    protected_part,
    relative_path,
)
from crashfix.locate.index import iter_source_files

SKIPPED_DIRS = frozenset({".git", ".github", ".vs", ".idea", "node_modules", "__pycache__"})
BINARY_SUFFIXES = frozenset({
    ".exe", ".dll", ".so", ".dylib", ".a", ".lib", ".o", ".obj", ".pdb", ".ilk", ".exp", ".dmp", ".mdmp",
    ".zip", ".gz", ".7z", ".rar", ".xz", ".bz2", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".pdf",
    ".mpq", ".db", ".sqlite", ".sqlite3", ".bin", ".dat", ".pyc", ".class", ".jar", ".wasm",
})
MAX_PATTERN_CHARS = 1000
# `regex` expands counted repeats when compiling (a{1000000000} takes gigabytes before any timeout
# applies), so the counts a pattern may use are capped, alone and multiplied together.
_REPEAT_COUNT = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")
MAX_REPEAT_COUNT = 1000
MAX_REPEAT_PRODUCT = 100_000


class ToolError(Exception):
    """A tool call the model should correct; the message is shown to it as the tool's result."""


@dataclass
class Limits:
    max_read_lines: int = 400
    max_file_bytes: int = 4 * 2**20
    max_deleted_lines: int = 60
    max_search_results: int = 60
    search_seconds: float = 10.0


class ChangedBehindTheModel(CrashfixError):
    """A file the model edited no longer holds what the model wrote (a build or a test changed it)."""


@dataclass
class Workspace:
    """Tools over one checkout; `originals` remembers each edited file's first content (None: new file),
    `written` what the model last wrote to it."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    originals: dict[str, bytes | None] = field(default_factory=dict)
    written: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        given = os.path.abspath(self.root)
        self.root = Path(os.path.realpath(self.root))
        self._roots = sorted({os.path.normcase(str(self.root)), os.path.normcase(given)}, key=len, reverse=True)

    # -- the jail --------------------------------------------------------------------------------

    def relative(self, name: str) -> str:
        """A model-given path as a clean repository-relative posix path, or ToolError (`jail.relative_path`).

        An absolute path inside the checkout (copied from a backtrace or a diagnostic) is taken as the
        repository path it names; the jail then checks it like any other (symlinks resolved)."""
        try:
            return relative_path(self._within(name))
        except PathRefused as refused:
            raise ToolError(str(refused)) from None

    def _within(self, name: str) -> str:
        """`name` relative to the checkout when it is an absolute path below it; otherwise unchanged."""
        text = (name or "").strip()
        if not (text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text)):
            return name
        normal = os.path.normcase(os.path.normpath(text))
        for root in self._roots:
            if normal == root:
                return "."
            if normal.startswith(root.rstrip(os.sep) + os.sep):
                return os.path.normpath(text)[len(root.rstrip(os.sep)) + 1:].replace(os.sep, "/")
        return name

    def resolve(self, name: str) -> tuple[str, Path]:
        relative = self.relative(name)
        return relative, self._jail(name, Path(os.path.realpath(self.root / relative)))

    def _jail(self, name: str, path: Path) -> Path:
        """`path` (a real path) if it is inside the checkout and out of the protected folders, else ToolError."""
        inside = self._inside(str(path))
        if inside is None:
            raise ToolError(f"{name!r} resolves outside the repository (a symbolic link?); it cannot be used")
        protected = protected_part(inside.split("/") if inside != "." else [])
        if protected:
            raise ToolError(f"{name!r} leads into {protected}/, which crashfix never reads or changes")
        return path

    def _inside(self, path: str) -> str | None:
        """`path` relative to the checkout as a posix path ("." for the root), or None when it is not below it."""
        root = str(self.root)
        if path == root:
            return "."
        prefix = root if root.endswith(os.sep) else root + os.sep
        return path[len(prefix):].replace(os.sep, "/") if path.startswith(prefix) else None

    def _allowed(self, path: Path, *, real_folder: bool = False) -> str | None:
        """The repository-relative name of `path` (found by listing the checkout) if a tool may read it.

        The same rules as for a path the model names: the name passes `relative`, the real path
        (symlinks resolved) stays inside the checkout and out of `.git/` and `.github/`.
        `real_folder`: the folder of `path` is known to be a real path (a walk that follows no
        symbolic link), so only a symlinked `path` itself needs resolving.
        """
        relative = self._inside(str(path))
        if relative is None or relative == ".":
            return None
        try:
            if self.relative(relative) != relative:
                return None
            real = path if real_folder and not os.path.islink(path) else Path(os.path.realpath(path))
            self._jail(relative, real)
            if real.is_file() and os.stat(real).st_nlink > 1:
                return None  # another name of a file that may be outside: left out like a link out
        except (ToolError, ValueError, OSError):
            return None
        return relative

    def _is_inside(self, path: str) -> bool:
        """Whether a real path is in the checkout and out of the protected folders (for `files`)."""
        inside = self._inside(path)
        return inside is not None and inside != "." and protected_part(inside.split("/")) is None

    def _load(self, name: str) -> tuple[str, Path, files.Text, tuple[bytes, files.Identity]]:
        """The file the model names: its real repository path, real path, text, and (bytes, identity) read."""
        relative, path = self.resolve(name)
        if not path.is_file():
            hint = self._near_names(relative, path)
            raise ToolError(f"{relative} is not a file in the repository{hint}")
        relative = self._inside(str(path)) or relative  # a link inside the checkout: the file it names
        try:
            data, identity = files.read(path, relative, self.limits.max_file_bytes, self._is_inside)
        except files.FileRefused as refused:
            raise ToolError(str(refused)) from None
        if path.suffix.lower() in BINARY_SUFFIXES or b"\0" in data[:8192]:
            raise ToolError(f"{relative} is a binary file; crashfix reads and edits text only")
        return relative, path, files.decode(data), (data, identity)

    def _near_names(self, relative: str, path: Path) -> str:
        folder = path.parent if path != self.root else path  # `path` passed the jail; so does its folder
        if not folder.is_dir():
            return ""
        names = [entry.name for entry in folder.iterdir() if self._allowed(entry, real_folder=True)]
        close = difflib.get_close_matches(PurePosixPath(relative).name, names, n=3, cutoff=0.6)
        return f"; did you mean {', '.join(close)}?" if close else ""

    # -- reading ---------------------------------------------------------------------------------

    def read_file(self, path: str, start_line: int = 1, end_line: int | None = None) -> str:
        relative, _, loaded, _ = self._load(path)
        lines = loaded.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        total = len(lines)
        start = max(1, int(start_line or 1))
        end = min(total, int(end_line) if end_line else start + self.limits.max_read_lines - 1)
        if start > total:
            raise ToolError(f"{relative} has {total} lines; start_line {start} is past the end")
        end = min(end, start + self.limits.max_read_lines - 1)
        body = "\n".join(f"{number:>6}  {lines[number - 1]}" for number in range(start, end + 1))
        more = f"\n[lines {end + 1}-{total} not shown; ask for them with start_line]" if end < total else ""
        return f"{relative} lines {start}-{end} of {total}:\n{body}{more}"

    def list_dir(self, path: str = ".") -> str:
        relative, folder = self.resolve(path)
        if not folder.is_dir():
            raise ToolError(f"{relative} is not a directory")
        entries = []
        for entry in sorted(folder.iterdir(), key=lambda e: (not e.is_dir(), e.name.lower())):
            if self._allowed(entry, real_folder=True) is None:
                continue
            entries.append(entry.name + "/" if entry.is_dir() else f"{entry.name} ({entry.stat().st_size} bytes)")
        shown = entries[:300]
        extra = f"\n[{len(entries) - 300} more entries not shown]" if len(entries) > 300 else ""
        return f"{relative}/:\n" + "\n".join(shown) + extra if shown else f"{relative}/ is empty"

    def search(self, pattern: str, path: str = ".", max_results: int | None = None) -> str:
        if len(pattern) > MAX_PATTERN_CHARS:
            raise ToolError(f"the pattern is {len(pattern)} characters long; keep it under {MAX_PATTERN_CHARS}")
        counts = [max(int(n) for n in match.groups() if n) for match in _REPEAT_COUNT.finditer(pattern)
                  if any(match.groups())]
        product = 1
        for count in counts:
            product *= max(count, 1)
        if any(count > MAX_REPEAT_COUNT for count in counts) or product > MAX_REPEAT_PRODUCT:
            raise ToolError(f"the repetition counts in {pattern!r} are too large (at most {MAX_REPEAT_COUNT} each, "
                            f"{MAX_REPEAT_PRODUCT} multiplied together); use + or * or a smaller count")
        try:
            compiled = bounded_re.compile(pattern)
        except (bounded_re.error, re.error, ValueError, OverflowError, RecursionError) as error:
            raise ToolError(f"invalid regular expression {pattern!r}: {error}") from None
        relative, start = self.resolve(path)
        limit = min(max_results or self.limits.max_search_results, self.limits.max_search_results)
        hits: list[str] = []
        deadline = time.monotonic() + self.limits.search_seconds
        if start.is_file():
            try:
                files.check(start, relative)
            except files.FileRefused as refused:
                raise ToolError(str(refused)) from None
        found = [start] if start.is_file() else self._walk(start)
        for file in found:
            if time.monotonic() > deadline:
                hits.append(f"[search stopped after {self.limits.search_seconds:.0f} s; narrow the path]")
                break
            try:
                hits.extend(self._search_file(file, compiled, limit - len(hits), deadline))
            except TimeoutError:
                raise ToolError(f"the pattern took too long; simplify it (nested repetition such as (a+)+ "
                                f"backtracks without end) or narrow the path. The search limit is "
                                f"{self.limits.search_seconds:g} s.") from None
            if len(hits) >= limit:
                hits.append(f"[stopped at {limit} matches; narrow the pattern or the path]")
                break
        if not hits:
            return f"no match for {pattern!r} under {relative}"
        return "\n".join(hits)

    def _walk(self, start: Path) -> Iterator[Path]:
        """Files under `start` (a real path) that pass the jail: symlinks out of it, or into .git/, are left out.

        Symlinked folders are not entered (os.walk does not follow them), so every folder is real.
        """
        for folder, dirs, names in os.walk(start):
            dirs[:] = sorted(d for d in dirs if d.lower() not in SKIPPED_DIRS and not d.lower().startswith("build"))
            for name in sorted(names):
                file = Path(folder) / name
                if self._allowed(file, real_folder=True) is not None:
                    yield file

    def _search_file(self, file: Path, compiled: Any, room: int, deadline: float) -> list[str]:
        """Matches in `file`, which passed the jail (`resolve` or `_walk`); TimeoutError past `deadline`."""
        if file.suffix.lower() in BINARY_SUFFIXES or room <= 0:
            return []
        relative = file.relative_to(self.root).as_posix()
        try:
            real = Path(os.path.realpath(file))
            data, _ = files.read(real, relative, self.limits.max_file_bytes, self._is_inside)
        except (OSError, files.FileRefused):
            return []
        if b"\0" in data[:8192]:
            return []
        found = []
        for number, line in enumerate(files.decode(data).text.split("\n"), 1):
            if compiled.search(line, timeout=max(deadline - time.monotonic(), 0.001)):
                found.append(f"{relative}:{number}: {line.strip()[:200]}")
                if len(found) >= room:
                    break
        return found

    def find_definition(self, name: str) -> str:
        from crashfix.locate.cpp_syntax import find_definitions  # tree-sitter loads on first use

        if not name or not name.strip():
            raise ToolError("give the name of a function, method or class, e.g. Player::Update")
        listed = list(iter_source_files(self.root))  # walks real folders only
        allowed = [self.root / relative for relative in listed
                   if self._allowed(self.root / relative, real_folder=True) is not None]
        # Nothing to leave out (the usual case): let it walk the same tree itself, cheaper than checking a list.
        files = None if len(allowed) == len(listed) else allowed
        found = find_definitions(self.root, name.strip(), files=files, limit=10)
        if not found:
            return f"no definition of {name!r} found; try search with a regular expression"
        lines = [f"{path}:{span.start_line}-{span.end_line}: {span.kind} {span.qualified_name}" for path, span in found]
        return "definitions (read them with read_file):\n" + "\n".join(lines)

    # -- editing ---------------------------------------------------------------------------------

    def edit(self, path: str, old_text: str, new_text: str) -> str:
        """Replace exactly one occurrence of `old_text`; `old_text` empty creates a new file."""
        if old_text == "":
            return self._create(path, new_text)
        relative, file, loaded, (raw, identity) = self._load(path)
        _may_change(relative)
        old, new = _plain(old_text), _plain(new_text)
        if old == new:
            raise ToolError("old_text and new_text are the same; nothing to change")
        count = loaded.text.count(old)
        if count != 1:
            raise ToolError(mismatch(relative, loaded.text, old, count))
        deleted = old.count("\n") - new.count("\n")
        if deleted > self.limits.max_deleted_lines:
            raise ToolError(f"this edit deletes {deleted} lines of {relative}; a minimal fix does not delete "
                            f"more than {self.limits.max_deleted_lines}. Make a smaller change.")
        updated = loaded.text.replace(old, new, 1)
        try:
            data = files.encode(relative, files.Text(updated, loaded.encoding, loaded.crlf))
            files.overwrite(file, relative, data, identity, self._is_inside)
        except files.FileRefused as refused:
            raise ToolError(str(refused)) from None
        self.originals.setdefault(relative, raw)
        self.written[relative] = data
        line = loaded.text[: loaded.text.index(old)].count("\n") + 1
        return f"edited {relative}: replaced {line_count(old)} line(s) at line {line} with {line_count(new)} line(s)"

    def _create(self, path: str, text: str) -> str:
        relative, file = self.resolve(path)
        _may_change(relative)
        if file.exists() or os.path.lexists(file):
            raise ToolError(f"{relative} already exists; to change it give old_text (exact text to replace)")
        if file.suffix.lower() not in NEW_FILE_SUFFIXES:
            raise ToolError(f"new files must be source or text files ({', '.join(sorted(NEW_FILE_SUFFIXES))})")
        if not file.parent.is_dir():
            raise ToolError(f"the folder of {relative} does not exist; new files go into existing folders")
        relative = self._inside(str(file)) or relative
        try:
            data = files.encode(relative, files.Text(_plain(text), "utf-8", False))
            files.create(file, relative, data)
        except files.FileRefused as refused:
            raise ToolError(str(refused)) from None
        self.originals.setdefault(relative, None)
        self.written[relative] = data
        return f"created {relative} ({line_count(_plain(text))} lines)"

    def adopt(self, relative: str, data: bytes, original: bytes | None) -> None:
        """A change a tool server made, passed by the write guard: part of the fix like an `edit`."""
        self.originals.setdefault(relative, original)
        self.written[relative] = data

    def changed_paths(self) -> list[str]:
        """Files the model changed (an edit undone by another is not a change)."""
        return sorted(relative for relative, data in self.written.items() if data != self.originals.get(relative))

    def verified_contents(self) -> dict[str, bytes]:
        """What the model wrote to each file it changed: what is committed, whatever a build did since.

        Raises ChangedBehindTheModel when a file no longer holds those bytes: then what was built
        and tested is not what the model wrote, and nothing of it may be delivered as verified.
        """
        contents = {relative: self.written[relative] for relative in self.changed_paths()}
        for relative, data in contents.items():
            try:
                now, _ = files.read(self.root / relative, relative, max(len(data), 1), self._is_inside)
            except (OSError, files.FileRefused):
                now = None
            if now != data:
                raise ChangedBehindTheModel(f"{relative} changed after the model's last edit (by the build or the "
                                            "tests?); what was built is not what the model wrote",
                                            "look for a build step that writes into the source tree")
        return contents


def _plain(text: str) -> str:
    return text.replace("\r\n", "\n")


def line_count(text: str) -> int:
    """Lines of `text` as an editor counts them: a final newline ends the last line, it starts none."""
    return text.count("\n") + (0 if text.endswith("\n") else 1) if text else 0


def _may_change(relative: str) -> None:
    """Files that steer git or review (`.gitattributes`, `CODEOWNERS`...) are the maintainers', never a fix's."""
    why = change_refusal(relative)
    if why:
        raise ToolError(why)

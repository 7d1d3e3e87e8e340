"""The model's hands: reading, searching and editing the checkout, jailed to it.

Every path the model names is resolved (symlinks included) and must stay inside the
checkout, out of `.git/` and `.github/` (workflows hold the keys to the repository).
Binaries are neither read nor edited, and an edit that deletes a large block is refused:
a minimal fix never needs either. Refusals and mismatches come back as `ToolError`
with a message written for the model, so it can correct itself.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

PROTECTED_DIRS = (".git", ".github")
SKIPPED_DIRS = frozenset({".git", ".github", ".vs", ".idea", "node_modules", "__pycache__"})
BINARY_SUFFIXES = frozenset({
    ".exe", ".dll", ".so", ".dylib", ".a", ".lib", ".o", ".obj", ".pdb", ".ilk", ".exp", ".dmp", ".mdmp",
    ".zip", ".gz", ".7z", ".rar", ".xz", ".bz2", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".pdf",
    ".mpq", ".db", ".sqlite", ".sqlite3", ".bin", ".dat", ".pyc", ".class", ".jar", ".wasm",
})
NEW_FILE_SUFFIXES = frozenset({".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".hh", ".hxx", ".inl", ".ipp",
                               ".txt", ".cmake", ".md"})


class ToolError(Exception):
    """A tool call the model should correct; the message is shown to it as the tool's result."""


@dataclass
class Limits:
    max_read_lines: int = 400
    max_file_bytes: int = 4 * 2**20
    max_deleted_lines: int = 60
    max_search_results: int = 60
    search_seconds: float = 10.0


@dataclass
class _Text:
    text: str  # with "\n" line ends
    encoding: str
    crlf: bool


@dataclass
class Workspace:
    """Tools over one checkout; `originals` remembers each edited file's first content (None: new file)."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    originals: dict[str, bytes | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(os.path.realpath(self.root))

    # -- the jail --------------------------------------------------------------------------------

    def relative(self, name: str) -> str:
        """A model-given path as a clean repository-relative posix path, or ToolError."""
        text = (name or "").strip().replace("\\", "/")
        if not text or text in (".", "./"):
            return "."
        if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
            raise ToolError(f"{name!r} is absolute; give paths relative to the repository root, e.g. src/Player.cpp")
        parts: list[str] = []
        for part in PurePosixPath(text).parts:
            if part == "..":
                if not parts:
                    raise ToolError(f"{name!r} leaves the repository; only files inside it can be used")
                parts.pop()
            elif part != ".":
                parts.append(part)
        if parts and parts[0].lower() in PROTECTED_DIRS or any(p.lower() == ".git" for p in parts):
            raise ToolError(f"{name!r} is inside {parts[0]}/, which crashfix never reads or changes")
        return "/".join(parts) or "."

    def resolve(self, name: str) -> tuple[str, Path]:
        relative = self.relative(name)
        path = Path(os.path.realpath(self.root / relative))
        if path != self.root and self.root not in path.parents:
            raise ToolError(f"{name!r} resolves outside the repository (a symbolic link?); it cannot be used")
        inside = path.relative_to(self.root).as_posix() if path != self.root else "."
        if inside != "." and inside.split("/")[0].lower() in PROTECTED_DIRS:
            raise ToolError(f"{name!r} leads into {inside.split('/')[0]}/, which crashfix never reads or changes")
        return relative, path

    def _load(self, name: str) -> tuple[str, Path, _Text]:
        relative, path = self.resolve(name)
        if not path.is_file():
            hint = self._near_names(relative)
            raise ToolError(f"{relative} is not a file in the repository{hint}")
        data = path.read_bytes() if path.stat().st_size <= self.limits.max_file_bytes else None
        if data is None:
            raise ToolError(f"{relative} is larger than {self.limits.max_file_bytes // 2**20} MB; search it instead")
        if path.suffix.lower() in BINARY_SUFFIXES or b"\0" in data[:8192]:
            raise ToolError(f"{relative} is a binary file; crashfix reads and edits text only")
        return relative, path, _decode(data)

    def _near_names(self, relative: str) -> str:
        folder = self.root / PurePosixPath(relative).parent
        if not folder.is_dir():
            return ""
        names = [entry.name for entry in folder.iterdir()]
        close = difflib.get_close_matches(PurePosixPath(relative).name, names, n=3, cutoff=0.6)
        return f"; did you mean {', '.join(close)}?" if close else ""

    # -- reading ---------------------------------------------------------------------------------

    def read_file(self, path: str, start_line: int = 1, end_line: int | None = None) -> str:
        relative, _, loaded = self._load(path)
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
            if entry.name.lower() in PROTECTED_DIRS:
                continue
            entries.append(entry.name + "/" if entry.is_dir() else f"{entry.name} ({entry.stat().st_size} bytes)")
        shown = entries[:300]
        extra = f"\n[{len(entries) - 300} more entries not shown]" if len(entries) > 300 else ""
        return f"{relative}/:\n" + "\n".join(shown) + extra if shown else f"{relative}/ is empty"

    def search(self, pattern: str, path: str = ".", max_results: int | None = None) -> str:
        try:
            regex = re.compile(pattern)
        except re.error as error:
            raise ToolError(f"invalid regular expression {pattern!r}: {error}") from None
        relative, start = self.resolve(path)
        limit = min(max_results or self.limits.max_search_results, self.limits.max_search_results)
        hits: list[str] = []
        deadline = time.monotonic() + self.limits.search_seconds
        files = [start] if start.is_file() else self._walk(start)
        for file in files:
            if time.monotonic() > deadline:
                hits.append(f"[search stopped after {self.limits.search_seconds:.0f} s; narrow the path]")
                break
            hits.extend(self._search_file(file, regex, limit - len(hits)))
            if len(hits) >= limit:
                hits.append(f"[stopped at {limit} matches; narrow the pattern or the path]")
                break
        if not hits:
            return f"no match for {pattern!r} under {relative}"
        return "\n".join(hits)

    def _walk(self, start: Path):  # type: ignore[no-untyped-def]
        for folder, dirs, names in os.walk(start):
            dirs[:] = sorted(d for d in dirs if d.lower() not in SKIPPED_DIRS and not d.lower().startswith("build"))
            for name in sorted(names):
                yield Path(folder) / name

    def _search_file(self, file: Path, regex: re.Pattern[str], room: int) -> list[str]:
        if file.suffix.lower() in BINARY_SUFFIXES or room <= 0:
            return []
        try:
            if file.stat().st_size > self.limits.max_file_bytes or not file.is_file():
                return []
            data = file.read_bytes()
        except OSError:
            return []
        if b"\0" in data[:8192]:
            return []
        relative = file.relative_to(self.root).as_posix()
        found = []
        for number, line in enumerate(_decode(data).text.split("\n"), 1):
            if regex.search(line):
                found.append(f"{relative}:{number}: {line.strip()[:200]}")
                if len(found) >= room:
                    break
        return found

    def find_definition(self, name: str) -> str:
        from crashfix.cpp_syntax import find_definitions  # tree-sitter loads on first use

        if not name or not name.strip():
            raise ToolError("give the name of a function, method or class, e.g. Player::Update")
        found = find_definitions(self.root, name.strip(), limit=10)
        if not found:
            return f"no definition of {name!r} found; try search with a regular expression"
        lines = [f"{path}:{span.start_line}-{span.end_line}: {span.kind} {span.qualified_name}" for path, span in found]
        return "definitions (read them with read_file):\n" + "\n".join(lines)

    # -- editing ---------------------------------------------------------------------------------

    def edit(self, path: str, old_text: str, new_text: str) -> str:
        """Replace exactly one occurrence of `old_text`; `old_text` empty creates a new file."""
        if old_text == "":
            return self._create(path, new_text)
        relative, file, loaded = self._load(path)
        old, new = _plain(old_text), _plain(new_text)
        if old == new:
            raise ToolError("old_text and new_text are the same; nothing to change")
        count = loaded.text.count(old)
        if count != 1:
            raise ToolError(_mismatch(relative, loaded.text, old, count))
        deleted = old.count("\n") - new.count("\n")
        if deleted > self.limits.max_deleted_lines:
            raise ToolError(f"this edit deletes {deleted} lines of {relative}; a minimal fix does not delete "
                            f"more than {self.limits.max_deleted_lines}. Make a smaller change.")
        self.originals.setdefault(relative, file.read_bytes())
        updated = loaded.text.replace(old, new, 1)
        file.write_bytes(_encode(_Text(updated, loaded.encoding, loaded.crlf)))
        line = loaded.text[: loaded.text.index(old)].count("\n") + 1
        return f"edited {relative}: replaced {old.count(chr(10)) + 1} line(s) at line {line} " \
               f"with {new.count(chr(10)) + 1} line(s)"

    def _create(self, path: str, text: str) -> str:
        relative, file = self.resolve(path)
        if file.exists():
            raise ToolError(f"{relative} already exists; to change it give old_text (exact text to replace)")
        if file.suffix.lower() not in NEW_FILE_SUFFIXES:
            raise ToolError(f"new files must be source or text files ({', '.join(sorted(NEW_FILE_SUFFIXES))})")
        if not file.parent.is_dir():
            raise ToolError(f"the folder of {relative} does not exist; new files go into existing folders")
        self.originals.setdefault(relative, None)
        file.write_bytes(_encode(_Text(_plain(text), "utf-8", False)))
        return f"created {relative} ({_plain(text).count(chr(10)) + 1} lines)"

    def changed_paths(self) -> list[str]:
        """Files whose content differs from before the first edit (an edit undone by another is not a change)."""
        changed = []
        for relative, original in self.originals.items():
            file = self.root / relative
            now = file.read_bytes() if file.exists() else None
            if now != original:
                changed.append(relative)
        return sorted(changed)


def _decode(data: bytes) -> _Text:
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "latin-1", data.decode("latin-1")
    crlf = "\r\n" in text
    return _Text(text.replace("\r\n", "\n"), encoding, crlf)


def _encode(loaded: _Text) -> bytes:
    text = loaded.text.replace("\n", "\r\n") if loaded.crlf else loaded.text
    return text.encode(loaded.encoding)


def _plain(text: str) -> str:
    return text.replace("\r\n", "\n")


def _mismatch(relative: str, text: str, old: str, count: int) -> str:
    """Tell the model precisely why its old_text did not match exactly once."""
    if count > 1:
        starts, at = [], text.find(old)
        while at >= 0:
            starts.append(text[:at].count("\n") + 1)
            at = text.find(old, at + 1)
        return (f"old_text occurs {count} times in {relative} (lines {', '.join(map(str, starts[:10]))}); "
                "include more surrounding lines so it matches exactly one place")
    squeeze = re.compile(r"\s+")
    lines = text.split("\n")
    wanted = old.strip("\n").split("\n")
    if squeeze.sub(" ", old).strip() and squeeze.sub(" ", old).strip() in squeeze.sub(" ", text):
        hint = "it differs from the file only in whitespace or indentation"
    else:
        hint = "no such text in the file"
    best, best_ratio = 0, 0.0
    for start in range(max(1, len(lines) - len(wanted) + 1)):
        ratio = difflib.SequenceMatcher(None, "\n".join(lines[start:start + len(wanted)]), "\n".join(wanted)).ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    window = lines[best:best + len(wanted)]
    shown = "\n".join(f"{best + 1 + i:>6}  {line}" for i, line in enumerate(window[:30]))
    return (f"old_text was not found in {relative} ({hint}). The closest text is at lines "
            f"{best + 1}-{best + len(window)} ({best_ratio:.0%} similar):\n{shown}\n"
            "Copy old_text exactly from read_file output, without the line numbers.")

"""Which paths crashfix may touch in a repository: the rules for a path given from outside.

The model's tools (`Workspace`) and the deliver job checking a result bundle apply the same
rules: relative, inside the repository, out of `.git/` (anywhere) and `.github/` (workflows
hold the keys to the repository), in any letter case and in any spelling Windows would take
for them (`.github.`, `GITHUB~1`, `ci.yml::$DATA`), with no control or invisible characters.
The Windows rules apply on every platform, so what passes is safe wherever it is used.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

PROTECTED_DIRS = (".git", ".github")
# Characters no sane path holds: control and format characters (NUL, escapes, newlines, bidi overrides).
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_SHORT_NAME = re.compile(r"~\d")  # Windows 8.3 aliases: GITHUB~1 can be .github


class PathRefused(ValueError):
    """A path crashfix will not use; the message says why, for the model or the log."""


def relative_path(name: str) -> str:
    """A path from outside (the model, a result bundle) as a clean repository-relative posix path, or PathRefused."""
    if not (name or "").isprintable() and any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in name):
        raise PathRefused(f"{name!r} holds control or invisible characters; give a plain path, e.g. src/Player.cpp")
    text = (name or "").strip().replace("\\", "/")
    if not text or text in (".", "./"):
        return "."
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise PathRefused(f"{name!r} is absolute; give paths relative to the repository root, e.g. src/Player.cpp")
    parts: list[str] = []
    for part in PurePosixPath(text).parts:
        if part == "..":
            if not parts:
                raise PathRefused(f"{name!r} leaves the repository; only files inside it can be used")
            parts.pop()
            continue
        if part == ".":
            continue
        if ":" in part:
            raise PathRefused(f"{name!r}: {part!r} holds ':' (a drive or an alternate data stream); "
                              "give a plain relative path")
        if part != part.rstrip(". "):
            raise PathRefused(f"{name!r}: {part!r} ends in a dot or a space, which Windows drops; "
                              "give the name exactly")
        if _SHORT_NAME.search(part):
            raise PathRefused(f"{name!r}: {part!r} looks like a Windows short name (~1); give the full name")
        parts.append(part)
    protected = protected_part(parts)
    if protected:
        raise PathRefused(f"{name!r} is inside {protected}/, which crashfix never reads or changes")
    return "/".join(parts) or "."


# Files that steer git or review rather than hold code: filters and diff drivers, submodules, who must
# review (a model could mark its change `linguist-generated` and hide it from the reviewer).
GIT_CONTROL_NAMES = frozenset({".gitattributes", ".gitmodules", "codeowners", ".mailmap"})
NEW_FILE_SUFFIXES = frozenset({".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".hh", ".hxx", ".inl", ".ipp",
                               ".txt", ".cmake", ".md"})


def change_refusal(path: str) -> str | None:
    """Why a model may not change this repository path (already checked by `relative_path`), or None."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in GIT_CONTROL_NAMES:
        return f"{path!r} steers git or code review ({name}); crashfix never changes it"
    return None


def protected_part(parts: list[str]) -> str | None:
    """The protected folder a path's components lead into (`.github` first, `.git` anywhere), any letter case."""
    names = [part.lower().rstrip(". ") for part in parts]
    if names and names[0] in PROTECTED_DIRS:
        return parts[0]
    return next((part for part, lowered in zip(parts, names) if lowered == ".git"), None)

"""The checkout's C++ source files, and how a crash report's paths map onto them.

Crash reports name files as the build machine saw them: `D:\\build\\TC\\src\\server\\game\\Maps\\Map.cpp`,
`/home/ci/work/TrinityCore/src/...`, sometimes in another letter case. The index maps
such a path to a repository-relative one by configured prefix, then exactly, then by the
longest matching tail of path components. It never lists a file whose real path leaves
the checkout, so nothing outside it is ever read through a symlink.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

SOURCE_EXTENSIONS = frozenset(
    {".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".hh", ".hxx", ".inl", ".ipp", ".tpp"}
)
_SKIP_DIR = re.compile(
    r"^(?:\.git|\.hg|\.svn|\.vs|\.vscode|\.idea|\.cache|node_modules|__pycache__|out|bin|obj|"
    r"(?:cmake-)?build(?:s|[-_.].*|\d*)?)$",
    re.IGNORECASE,
)
_LOW_PRIORITY_DIRS = frozenset({"dep", "deps", "third_party", "thirdparty", "3rdparty", "external", "extern", "vendor"})

How = Literal["path", "mapping", "suffix"]


class PathMatch(NamedTuple):
    """Candidate repository paths for a report's path; `depth` is how many trailing components matched."""

    paths: list[str]
    how: How
    depth: int


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path`, symlinks resolved, is `root` (already resolved) or below it."""
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def iter_source_files(root: Path) -> Iterator[str]:
    """Repository-relative posix paths of the source files under `root`, in a stable order.

    Build and tool folders are skipped (they hold generated copies); third-party folders
    are kept (see `is_low_priority`). Symlinked folders are not entered; symlinked files are
    kept only when they resolve inside `root`.
    """
    root = root.resolve()
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not _SKIP_DIR.match(name))
        base = Path(folder)
        relative_folder = base.relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() not in SOURCE_EXTENSIONS:
                continue
            path = base / name
            if path.is_symlink() and not is_inside(root, path):
                continue
            yield prefix + name


def is_low_priority(relative: str) -> bool:
    """Vendored code (`dep/`, `third_party/`…) is searched, but ranked after the project's own."""
    return any(part.lower() in _LOW_PRIORITY_DIRS for part in relative.split("/")[:-1])


def _split(path: str) -> list[str]:
    return [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]


def path_parts(path: str) -> list[str]:
    """`D:\\Build\\src\\.\\Map.cpp` -> ["d:", "build", "src", "map.cpp"]: lower case, either slash."""
    return [part.lower() for part in _split(path)]


def _is_absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", path))


@dataclass
class SourceIndex:
    """The checkout's source files, looked up case-insensitively by path and by file name."""

    root: Path
    files: list[str]
    _by_lower: dict[str, str] = field(default_factory=dict, repr=False)
    _by_name: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, checkout: Path) -> SourceIndex:
        root = checkout.resolve()
        index = cls(root=root, files=list(iter_source_files(root)))
        for relative in index.files:
            lower = relative.lower()
            index._by_lower.setdefault(lower, relative)
            index._by_name.setdefault(lower.rsplit("/", 1)[-1], []).append(relative)
        return index

    def lookup(self, relative: str) -> str | None:
        """The indexed spelling of a repository-relative path, in any case and with either slash."""
        found = self._by_lower.get("/".join(path_parts(relative)))
        if found is not None:
            return found
        path = self.root / relative.replace("\\", "/")
        if path.is_file() and is_inside(self.root, path):  # a source file with an unlisted extension
            return path.resolve().relative_to(self.root).as_posix()
        return None

    def map_file(self, file: str, mappings: Mapping[str, str]) -> PathMatch | None:
        """Repository files a report's path may mean, and how they were found.

        A single candidate is the answer; several (equal-length tails) are left to the caller,
        which can look inside them for the frame's function.
        """
        parts = path_parts(file)
        if not parts:
            return None
        for prefix, target in sorted(mappings.items(), key=lambda item: -len(path_parts(item[0]))):
            prefix_parts = path_parts(prefix)
            if prefix_parts and parts[: len(prefix_parts)] == prefix_parts:
                rest = _split(file)[len(prefix_parts) :]
                found = self.lookup("/".join([*_split(target), *rest]))
                if found is not None:
                    return PathMatch([found], "mapping", len(parts))
        exact = self._exact(file, parts)
        if exact is not None:
            return PathMatch([exact], "path", len(parts))
        return self._by_suffix(parts)

    def _exact(self, file: str, parts: list[str]) -> str | None:
        if not _is_absolute(file):
            return self._by_lower.get("/".join(parts))
        root_parts = path_parts(self.root.as_posix())
        if parts[: len(root_parts)] == root_parts:
            return self._by_lower.get("/".join(parts[len(root_parts) :]))
        return None

    def _by_suffix(self, parts: list[str]) -> PathMatch | None:
        """Files sharing the longest tail of components with `parts` (at least the file name)."""
        best: list[str] = []
        best_length = 0
        for candidate in self._by_name.get(parts[-1], []):
            candidate_parts = candidate.lower().split("/")
            length = 0
            while (
                length < min(len(parts), len(candidate_parts))
                and parts[-1 - length] == candidate_parts[-1 - length]
            ):
                length += 1
            if length > best_length:
                best, best_length = [candidate], length
            elif length == best_length:
                best.append(candidate)
        return PathMatch(best, "suffix", best_length) if best else None


def relative_source_files(root: Path, files: Iterable[Path] | None) -> list[str] | Iterator[str]:
    """Repository-relative names of the files to search: all source files, or the given ones inside `root`."""
    if files is None:
        return iter_source_files(root)
    out: list[str] = []
    for file in files:
        path = file if file.is_absolute() else root / file
        if not is_inside(root, path):
            continue
        try:
            out.append(path.relative_to(root).as_posix())
        except ValueError:  # given through another spelling of the root (a symlinked parent)
            out.append(path.resolve().relative_to(root).as_posix())
    return out

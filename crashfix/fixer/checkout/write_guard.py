"""Write tools stay ours: what a tool server changed in the checkout, checked by the same jail as `edit`.

Annotations (`readOnlyHint`) are only a server's word, so the checkout itself is looked at
before and after every tool-server call: what git sees changed (tracked files, new files
not ignored), the checkout's HEAD, and the parts of `.git/` that make git run programs
(config, hooks). A change by a server whose entry does not say `allow_writes = true` stops
the run, as does any change outside the jail (`.git/`, `.github/`, a link out of the
checkout, a binary); so does anything that changed while no call was running (a server
writing in the background). What an allowed server changed inside the jail becomes part
of the fix, exactly like an `edit`: committed, and shown to the reviewer.

Writes outside the checkout cannot be seen from here; paths a write tool is given are
jailed before the call instead (`jail_arguments`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from crashfix.errors import CrashfixError
from crashfix.fixer.checkout.gitops import Git
from crashfix.fixer.checkout.workspace import BINARY_SUFFIXES, ToolError, Workspace

HEAD_KEY = "HEAD"  # the checkout's commit, among the paths of a snapshot
STOP_HINT = "the run stopped before any build; nothing was committed"
# Argument names that name files a write tool is about to change (Serena: relative_path; others: path, file...).
PATH_ARGUMENTS = frozenset({"path", "paths", "file", "files", "file_path", "filepath", "filename", "file_name",
                            "relative_path", "dir", "directory", "target", "target_path", "target_file",
                            "destination", "dest", "output", "output_path", "new_path", "old_path",
                            "source_path"})

# (size, mtime_ns, is a link) of a file git lists; MISSING when it lists a file that is gone (deleted);
# the commit for HEAD. A path git does not list is clean: None.
State = tuple[int, int, bool] | str | None
MISSING = "missing"


class WriteViolation(CrashfixError):
    """A tool server changed, or was asked to change, what it may not: the run stops before any build."""


@dataclass
class CheckoutWatch:
    """What the checkout looked like after the last checked step, and the checks against it."""

    workspace: Workspace
    git: Git
    ignored: tuple[str, ...] = ()  # folder prefixes ("name/") where servers keep their own files
    expected: dict[str, State] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.workspace.root

    def rebase(self) -> None:
        """Take the checkout as it is now as the starting point (at the start, and after a build)."""
        self.expected = self.snapshot()

    def snapshot(self) -> dict[str, State]:
        state: dict[str, State] = {path: _state(self.root / path) for path in self._git_control_files()}
        output = self.git.run("-c", "core.fsmonitor=false", "status", "--porcelain=v2", "-z", "--branch",
                              "--untracked-files=all", "--no-renames", "--ignore-submodules=none")
        for entry in output.split("\0"):
            if entry.startswith("# branch.oid "):
                state[HEAD_KEY] = entry.removeprefix("# branch.oid ")
                continue
            path = _status_path(entry)
            if path is not None and not self._ignored(path):
                state[path] = _state(self.root / path)
        return state

    def quiet(self, allowed: Collection[str] = (), when: str = "between tool calls") -> None:
        """Nothing but `allowed` (the model's own edit) changed since the last check, else WriteViolation."""
        now = self.snapshot()
        stray = [path for path in _changed(self.expected, now) if path not in allowed]
        self.expected = now
        if stray:
            raise WriteViolation(f"files changed {when} while no tool server call was running ({_names(stray)}): "
                                 "a tool server writing in the background?", STOP_HINT)

    def after_call(self, server: str, tool: str, allow_writes: bool) -> list[str]:
        """Check what the call changed; returns the changed paths, adopted as part of the fix."""
        now = self.snapshot()
        changed = _changed(self.expected, now)
        self.expected = now
        if not changed:
            return []
        call = f"{server}__{tool}"
        if not allow_writes:
            raise WriteViolation(f"the tool server {server} changed {_names(changed)} during {call}, but its "
                                 "[[fix.mcp]] entry does not say allow_writes = true",
                                 f"{STOP_HINT}; if those are the server's own files (a cache), add their folder to "
                                 f"ignore_paths of [[fix.mcp]] {server}")
        for path in changed:
            self._jail(call, path)
        for path in changed:
            file = self.root / path
            if not file.is_file():
                raise WriteViolation(f"{call} deleted {path}; a fix changes files, it does not delete them", STOP_HINT)
            self.workspace.adopt(path, file.read_bytes(), self.git.file_at("HEAD", path))
        return changed

    def jail_arguments(self, server: str, tool: str, arguments: Mapping[str, object]) -> None:
        """The paths a write tool is given must pass the jail before it runs: a write outside ends the run."""
        for key, value in arguments.items():
            if key.lower() not in PATH_ARGUMENTS:
                continue
            for name in value if isinstance(value, list) else [value]:
                if isinstance(name, str) and name.strip():
                    self._jail(f"{server}__{tool}", self._relative(name), asked=name)

    # -- helpers ---------------------------------------------------------------------------------

    def _relative(self, name: str) -> str:
        """An absolute path inside the checkout as a relative one (servers such as Serena take both)."""
        text = name.strip()
        if os.path.isabs(text) or text.startswith(("/", "\\")):
            real = os.path.realpath(text)
            root = str(self.root)
            if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                return Path(real).relative_to(self.root).as_posix() or "."
        return text

    def _jail(self, call: str, path: str, asked: str | None = None) -> None:
        what = f"{call} was asked to write {asked!r}" if asked is not None else f"{call} changed {path}"
        if path == HEAD_KEY:
            raise WriteViolation(f"{call} moved the checkout's HEAD (a git command in a tool server?)", STOP_HINT)
        try:
            relative, _ = self.workspace.resolve(path)
        except ToolError as error:
            raise WriteViolation(f"{what}, which the jail refuses: {error}", STOP_HINT) from None
        if asked is None and PurePosixPath(relative).suffix.lower() in BINARY_SUFFIXES:
            raise WriteViolation(f"{what}, a binary file; fixes change source and text files only", STOP_HINT)

    def _ignored(self, path: str) -> bool:
        lowered = path.lower()
        return any(lowered.startswith(prefix.lower()) for prefix in self.ignored)

    def _git_control_files(self) -> list[str]:
        """The parts of `.git/` through which a change would make git run a program or hide files."""
        git_dir = self.root / ".git"
        if not git_dir.is_dir():
            return []
        names = [".git/config", ".git/info/exclude", ".git/info/attributes"]
        hooks = git_dir / "hooks"
        if hooks.is_dir():
            names += sorted(f".git/hooks/{entry.name}" for entry in hooks.iterdir())
        return names


def _state(path: Path) -> State:
    try:
        info = path.lstat()
    except OSError:
        return MISSING
    return (info.st_size, info.st_mtime_ns, path.is_symlink())


def _status_path(entry: str) -> str | None:
    """The path of one `git status --porcelain=v2 -z` entry (ordinary, unmerged, untracked)."""
    if entry.startswith("1 "):
        return entry.split(" ", 8)[8] if entry.count(" ") >= 8 else None
    if entry.startswith("u "):
        return entry.split(" ", 10)[10] if entry.count(" ") >= 10 else None
    if entry.startswith("? "):
        return entry[2:]
    return None


def _changed(before: Mapping[str, State], after: Mapping[str, State]) -> list[str]:
    """Paths whose state differs; a path missing from one side was clean there (or absent)."""
    return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")

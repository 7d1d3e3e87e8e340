"""Warm builds: a build folder outside the checkout, kept between runs, one per configuration.

`actions/checkout` cleans the workspace each run (`git clean -ffdx`), so a `build/` inside the
checkout starts cold every time. With `[fix] build_dir` the build and test commands get a
folder `<build_dir>/<key>` instead (`{build_dir}` in a command), where the key hashes the
repository and the build commands: two configurations never share a folder, the same one
reuses it. Three things can go wrong with a reused folder, and each is handled here:

- CMake's cache holds the absolute source path (`CMAKE_HOME_DIRECTORY`); a folder configured
  for a checkout elsewhere fails to configure, so it is emptied first, with the reason recorded.
- Two runs on one runner with the same key: the folder is locked (an OS file lock, released when
  the process ends, even by a crash); the second waits, saying so, then falls back to a fresh
  temporary folder that is removed afterwards.
- The folder is written by code a model wrote. crashfix never runs anything from it outside the
  scrubbed, contained build and test steps, and nothing crashfix trusts (its own code, tokens,
  workflow files) may live there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from crashfix.config import FixSettings
from crashfix.errors import ConfigError
from crashfix.file_lock import try_lock, unlock
from crashfix.fixer.models import BuildFolderUse
from crashfix.fixer.verify.compiler_cache import CompilerCache, find_compiler_cache

POLL_SECONDS = 1.0
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_CMAKE_HOME = re.compile(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", re.MULTILINE)


@dataclass
class WarmBuild:
    """What the build and test steps of one run use: the folder for `{build_dir}`, a compiler launcher, env."""

    folder: Path | None
    cache: CompilerCache | None = None
    env: dict[str, str] = field(default_factory=dict)
    use: BuildFolderUse | None = None

    def expand(self, command: Sequence[str], checkout: Path) -> list[str]:
        """`{checkout}` and `{build_dir}` filled in (`<checkout>/build` without a build_dir); a launcher added."""
        folder = self.folder if self.folder is not None else checkout / "build"
        argv = [part.replace("{checkout}", str(checkout)).replace("{build_dir}", str(folder)) for part in command]
        return self.cache.add_launcher(argv) if self.cache is not None else argv


def expand_plain(command: Sequence[str], checkout: Path) -> list[str]:
    """A command with no warm-build settings: `{build_dir}` is the checkout's `build/`."""
    return WarmBuild(folder=None).expand(command, checkout)


def resolve_root(setting: str, checkout: Path, environ: Mapping[str, str]) -> Path:
    """`build_dir` as an absolute folder outside the checkout (`~` and `$VAR` / `%VAR%` expanded)."""
    text = _expand_vars(os.path.expanduser(setting.strip()), environ)
    root = Path(text)
    if not root.is_absolute():
        raise ConfigError(f"[fix] build_dir {setting!r} is not an absolute path",
                          'give a folder on the runner\'s disk, e.g. build_dir = "D:/crashfix-build" or '
                          '"/var/cache/crashfix-build"')
    if _same_or_inside(root, checkout):
        raise ConfigError(f"[fix] build_dir {setting!r} is inside the checkout",
                          "put it outside: actions/checkout cleans the workspace each run, and the fix "
                          "must not see build output as its own changes")
    return root


def _expand_vars(text: str, environ: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return environ.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)|%(\w+)%", value, text)


def _norm(path: Path | str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(str(path))))


def _same_or_inside(path: Path, parent: Path) -> bool:
    child, top = _norm(path), _norm(parent)
    return child == top or child.startswith(top.rstrip(os.sep) + os.sep)


def folder_key(settings: FixSettings, repository: str, cache_tool: str | None = None) -> str:
    """`<repo>-<hash>`: the repository and everything that decides what lands in the folder."""
    what = {"repository": repository, "build": [list(c) for c in settings.build], "compiler_cache": cache_tool,
            "platform": sys.platform}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]
    name = _SLUG.sub("-", repository.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")).strip("-.")[:40]
    return f"{name or 'repo'}-{digest}"


def repository_identity(full_name: str | None, remote_url: str | None, checkout: Path) -> str:
    """GitHub's OWNER/NAME, else the origin URL without credentials, else the checkout folder's name."""
    if full_name:
        return full_name.lower()
    if remote_url:
        return re.sub(r"^([a-z+]+://)[^/@]*@", r"\1", remote_url.strip()).removesuffix(".git").lower()
    return checkout.name


def cmake_source_problem(folder: Path, checkout: Path) -> str | None:
    """Why the folder's CMakeCache.txt cannot serve this checkout (its source is elsewhere), or None."""
    cache = folder / "CMakeCache.txt"
    try:
        text = cache.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _CMAKE_HOME.search(text)
    if match is None:
        return None
    home = match.group(1).strip()[:300]  # written by the last build: kept short
    if _same_or_inside(Path(home), checkout):
        return None
    return f"its CMakeCache.txt was configured for the source folder {home}, not this checkout"


def empty_folder(folder: Path) -> None:
    """Remove what is in `folder` (not the folder: a lock or a mount may be on it)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            try:
                child.unlink()
            except OSError:
                pass


# -- the lock ------------------------------------------------------------------------------------


def _holder(root: Path, key: str) -> str:
    try:
        text = (root / f"{key}.owner").read_text(encoding="utf-8", errors="replace").strip()
        return " ".join(text.split())[:120] or "another run"  # a build could have written it: one short line
    except OSError:
        return "another run"


@contextmanager
def locked_folder(root: Path, key: str, *, wait_seconds: float, say: Callable[[str], None],
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> Iterator[tuple[Path, str]]:
    """`<root>/<key>`, held for the caller alone; after `wait_seconds` of another holder, a fresh temporary
    folder instead (removed on exit). Yields the folder and how it came: "locked" or "busy"."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / f"{key}.lock", "a+b")  # noqa: SIM115 - held for the whole with-block
    started, told = clock(), False
    while not try_lock(handle):
        if not told:
            say(f"build folder {key} is in use by {_holder(root, key)}; waiting up to {wait_seconds:.0f} s")
            told = True
        if clock() - started >= wait_seconds:
            handle.close()
            fresh = Path(tempfile.mkdtemp(prefix=f"{key}-busy-", dir=root))
            try:
                yield fresh, "busy"
            finally:
                shutil.rmtree(fresh, ignore_errors=True)
            return
        sleep(POLL_SECONDS)
    try:
        (root / f"{key}.owner").write_text(f"pid {os.getpid()} on {socket.gethostname()} since "
                                           f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n", encoding="utf-8")
        folder = root / key
        folder.mkdir(exist_ok=True)
        yield folder, "locked"
    finally:
        try:
            unlock(handle)
        finally:
            handle.close()


# -- what a run uses -----------------------------------------------------------------------------


@contextmanager
def warm_build(settings: FixSettings, checkout: Path, environ: Mapping[str, str], *, repository: str,
               say: Callable[[str], None] = lambda message: None) -> Iterator[WarmBuild]:
    """The build folder and compiler cache of one run, held (locked) until the block ends."""
    cache = find_compiler_cache(settings.compiler_cache, environ, checkout)
    if cache is not None and cache.note:
        say(cache.note)
    usable = cache if cache is not None and cache.path else None
    env = usable.env if usable is not None else {}
    if settings.build_dir is None:
        yield WarmBuild(folder=None, cache=usable, env=env,
                        use=BuildFolderUse(state="in-checkout", compiler_cache=_cache_text(cache)))
        return
    root = resolve_root(settings.build_dir, checkout, environ)
    key = folder_key(settings, repository, usable.tool if usable is not None else None)
    with locked_folder(root, key, wait_seconds=settings.build_dir_wait_seconds, say=say) as (folder, how):
        if how == "busy":
            use = BuildFolderUse(key=key, state="fresh", compiler_cache=_cache_text(cache),
                                 reason=f"{key} was in use by another run for {settings.build_dir_wait_seconds:.0f} s")
        else:
            use = _reuse(folder, key, checkout, cache)
        if use.reason:
            say(f"build folder {key}: {use.state}: {use.reason}")
        yield WarmBuild(folder=folder, cache=usable, env=env, use=use)


def _reuse(folder: Path, key: str, checkout: Path, cache: CompilerCache | None) -> BuildFolderUse:
    problem = cmake_source_problem(folder, checkout)
    if problem is not None:
        empty_folder(folder)
        return BuildFolderUse(key=key, state="reset", reason=problem, compiler_cache=_cache_text(cache))
    if any(folder.iterdir()):
        return BuildFolderUse(key=key, state="reused", compiler_cache=_cache_text(cache))
    return BuildFolderUse(key=key, state="new", compiler_cache=_cache_text(cache))


def _cache_text(cache: CompilerCache | None) -> str:
    if cache is None:
        return "off"
    return cache.tool if cache.path else f"none ({cache.note})"

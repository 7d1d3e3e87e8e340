"""Warm builds: `[fix] build_dir` (keyed per configuration, reused, reset when CMake's cache names another
checkout, locked against a second run) and `[fix] compiler_cache`, with real cmake builds of the game server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crashfix.config import FixSettings
from crashfix.errors import ConfigError
from crashfix.fixer.models import VerifyResult
from crashfix.fixer.verify.build_folder import (
    WarmBuild,
    cmake_source_problem,
    folder_key,
    locked_folder,
    repository_identity,
    resolve_root,
    warm_build,
)
from crashfix.fixer.verify.steps import run_round
from tests.conftest import FIXTURES, require_tools

pytestmark = pytest.mark.tools

BUILD = (("cmake", "-S", "{checkout}", "-B", "{build_dir}", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"),
         ("cmake", "--build", "{build_dir}", "--parallel", "2"))
TEST = (("ctest", "--test-dir", "{build_dir}", "--output-on-failure"),)
ROOT = str(Path(__file__).resolve().parents[2])


def settings(root: Path, **extra: object) -> FixSettings:
    return FixSettings.model_validate({"build": BUILD, "test": TEST, "build_dir": str(root), **extra})


def game_server(where: Path) -> Path:
    require_tools("cmake", "c++", "ctest")
    import shutil

    shutil.copytree(FIXTURES / "gameserver", where)
    return where


def build(checkout: Path, fix: FixSettings, environ: dict[str, str] | None = None,
          say: list[str] | None = None) -> tuple[WarmBuild, VerifyResult]:
    env = environ or {"PATH": _path()}
    with warm_build(fix, checkout, env, repository="acme/worldserver",
                    say=(say.append if say is not None else lambda message: None)) as warm:
        result = run_round(checkout, fix, env, 1, warm=warm)
    return warm, result


def _path() -> str:
    import os

    return os.environ.get("PATH", os.defpath)


def compiled(result: VerifyResult) -> list[str]:
    """The objects the build step compiled (Makefile and Ninja generators both name `X.cpp.o`)."""
    text = "\n".join(step.output_tail for step in result.steps if step.phase == "build")
    return sorted({word.rsplit("/", 1)[-1] for word in text.split() if word.endswith((".cpp.o", ".cpp.obj"))})


# -- keys and substitution -------------------------------------------------------------------------


def test_two_configurations_get_two_folders_and_one_configuration_the_same(tmp_path: Path) -> None:
    root = tmp_path / "builds"
    debug = settings(root)
    release = settings(root, build=[[*BUILD[0][:-1], "-DCMAKE_BUILD_TYPE=Release"], list(BUILD[1])])
    assert folder_key(debug, "acme/worldserver") == folder_key(settings(root), "acme/worldserver")
    assert folder_key(debug, "acme/worldserver") != folder_key(release, "acme/worldserver")
    assert folder_key(debug, "acme/worldserver") != folder_key(debug, "acme/authserver")
    assert folder_key(debug, "acme/worldserver") != folder_key(debug, "acme/worldserver", "ccache")
    assert folder_key(debug, "acme/worldserver").startswith("worldserver-")
    assert repository_identity(None, "https://user:pw@github.com/Acme/WorldServer.git", tmp_path) == \
        "https://github.com/acme/worldserver"


def test_build_dir_is_substituted_and_defaults_to_the_checkouts_build(tmp_path: Path) -> None:
    checkout = tmp_path / "src"
    assert WarmBuild(folder=None).expand(["cmake", "-B", "{build_dir}", "-S", "{checkout}"], checkout) == \
        ["cmake", "-B", str(checkout / "build"), "-S", str(checkout)]
    assert WarmBuild(folder=tmp_path / "b" / "k").expand(["{build_dir}/testrunner"], checkout) == \
        [f"{tmp_path / 'b' / 'k'}/testrunner"]


def test_a_relative_or_inside_build_dir_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an absolute path") as relative:
        resolve_root("builds", tmp_path, {})
    assert "D:/crashfix-build" in relative.value.hint
    with pytest.raises(ConfigError, match="inside the checkout"):
        resolve_root(str(tmp_path / "build"), tmp_path, {})
    assert resolve_root("$ROOT/b", tmp_path / "src", {"ROOT": str(tmp_path)}) == tmp_path / "b"


# -- real builds ---------------------------------------------------------------------------------


def test_the_same_configuration_reuses_its_folder_and_the_second_build_is_warm(tmp_path: Path) -> None:
    checkout = game_server(tmp_path / "checkout")
    fix = settings(tmp_path / "builds")
    first_warm, first = build(checkout, fix)
    assert first.ok, first.steps[-1].output_tail
    assert first_warm.use is not None and first_warm.use.state == "new"
    folder = first_warm.folder
    assert folder is not None and folder.parent == tmp_path / "builds" and (folder / "CMakeCache.txt").is_file()
    assert not (checkout / "build").exists()  # nothing was built inside the checkout
    objects = {path: path.stat().st_mtime_ns for path in folder.rglob("*.cpp.o")}
    assert len(objects) >= 7 and "Unit.cpp.o" in compiled(first)

    (checkout / "src" / "Player.cpp").write_text((checkout / "src" / "Player.cpp").read_text() + "\n// edited\n")
    second_warm, second = build(checkout, fix)
    assert second.ok and second_warm.folder == folder
    assert second_warm.use is not None and second_warm.use.state == "reused"
    assert compiled(second) == ["Player.cpp.o"]  # only the edited file: the rest was warm
    unchanged = [path for path in objects if path.name != "Player.cpp.o"]
    assert all(path.stat().st_mtime_ns == objects[path] for path in unchanged)


def test_a_folder_configured_for_a_checkout_elsewhere_is_reset_with_the_reason(tmp_path: Path) -> None:
    fix = settings(tmp_path / "builds")
    old = game_server(tmp_path / "old-place")
    assert build(old, fix)[1].ok
    moved = game_server(tmp_path / "new-place")
    assert cmake_source_problem(tmp_path / "builds" / folder_key(fix, "acme/worldserver"), moved) is not None
    said: list[str] = []
    warm, result = build(moved, fix, say=said)
    assert result.ok, result.steps[-1].output_tail  # without the reset CMake refuses: "does not match the source"
    assert warm.use is not None and warm.use.state == "reset"
    assert str(old) in warm.use.reason and "CMakeCache.txt" in warm.use.reason
    assert any("reset" in line for line in said)
    cache = (warm.folder / "CMakeCache.txt").read_text() if warm.folder else ""
    assert f"CMAKE_HOME_DIRECTORY:INTERNAL={moved.as_posix()}" in cache


HOLDER = textwrap.dedent("""\
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from crashfix.fixer.verify.build_folder import locked_folder
    with locked_folder(Path({folder!r}), {key!r}, wait_seconds=0, say=print) as (path, how):
        print(how, flush=True)
        sys.stdin.read()  # hold the lock until the test closes stdin
""")


def _holder(root: Path, key: str) -> subprocess.Popen[str]:
    code = HOLDER.format(root=ROOT, folder=str(root), key=key)
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_with_the_same_key_waits_for_the_first_then_gets_the_folder(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "worldserver-abc")
    said: list[str] = []

    def waiting(message: str) -> None:  # told once it waits: let the first run finish now
        said.append(message)
        assert holder.stdin is not None
        holder.stdin.close()

    with locked_folder(tmp_path, "worldserver-abc", wait_seconds=300, say=waiting) as (folder, how):
        assert (folder, how) == (tmp_path / "worldserver-abc", "locked")
    assert holder.wait(timeout=60) == 0
    assert len(said) == 1 and "in use by pid" in said[0] and "waiting up to 300 s" in said[0]


def test_a_run_that_cannot_wait_builds_in_a_fresh_folder_removed_afterwards(tmp_path: Path) -> None:
    checkout = game_server(tmp_path / "checkout")
    fix = settings(tmp_path / "builds", build_dir_wait_seconds=0)
    key = folder_key(fix, "acme/worldserver")
    holder = _holder(tmp_path / "builds", key)
    try:
        warm, result = build(checkout, fix)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert result.ok and warm.use is not None and warm.use.state == "fresh" and "in use" in warm.use.reason
    assert warm.folder is not None and warm.folder.name.startswith(f"{key}-busy-") and not warm.folder.exists()
    assert not (tmp_path / "builds" / key / "CMakeCache.txt").exists()  # the held folder was not touched


# -- compiler caches -------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="the recording launcher is a POSIX shell script")
def test_a_compiler_launcher_on_path_is_added_to_configure_and_its_cache_dir_survives_the_scrub(
        tmp_path: Path) -> None:
    checkout = game_server(tmp_path / "checkout")
    tools = tmp_path / "tools"
    tools.mkdir()
    launcher = tools / "ccache"
    launcher.write_text('#!/bin/sh\necho "$*" >> "$CCACHE_DIR/calls.txt"\nexec "$@"\n')
    launcher.chmod(0o755)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    env = {"PATH": f"{tools}{':'}{_path()}", "CCACHE_DIR": str(cache_dir), "CCACHE_SECRET_TOKEN": "s3cr3t-value-1"}
    warm, result = build(checkout, settings(tmp_path / "builds", compiler_cache="auto"), env)
    assert result.ok, result.steps[-1].output_tail
    configure = result.steps[0].command
    assert f"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}" in configure
    assert not any("LAUNCHER" in part for part in result.steps[1].command)  # not on `cmake --build`
    calls = (cache_dir / "calls.txt").read_text()
    assert "Unit.cpp" in calls  # the compiler ran through it, and CCACHE_DIR reached it
    assert warm.use is not None and warm.use.compiler_cache == "ccache"


def test_real_ccache_hits_after_the_runner_wiped_the_checkout_and_the_build_folder(tmp_path: Path) -> None:
    require_tools("ccache")
    import shutil

    env = {"PATH": _path(), "CCACHE_DIR": str(tmp_path / "ccache")}
    fix = settings(tmp_path / "builds", compiler_cache="ccache")
    assert build(game_server(tmp_path / "checkout"), fix, env)[1].ok
    shutil.rmtree(tmp_path / "checkout")
    shutil.rmtree(tmp_path / "builds")  # an ephemeral runner: new files, no build folder; only CCACHE_DIR kept
    warm, result = build(game_server(tmp_path / "checkout"), fix, env)
    assert result.ok and warm.use is not None and warm.use.state == "new"
    stats = subprocess.run(["ccache", "--print-stats"], env={**env, "HOME": str(tmp_path)}, capture_output=True,
                           text=True, check=True).stdout
    counts = {line.split("\t")[0]: int(line.split("\t")[1]) for line in stats.splitlines() if "\t" in line}
    assert counts.get("direct_cache_hit", 0) + counts.get("preprocessed_cache_hit", 0) >= 7  # every object


def test_a_missing_cache_tool_is_said_and_the_build_goes_on(tmp_path: Path) -> None:
    checkout = game_server(tmp_path / "checkout")
    said: list[str] = []
    warm, result = build(checkout, settings(tmp_path / "builds", compiler_cache="sccache"),
                         {"PATH": str(tmp_path / "empty") + ":" + str(Path(sys.executable).parent) + ":/usr/bin"},
                         say=said)
    if warm.cache is not None:
        pytest.skip("sccache is installed here")
    assert result.ok and not any("LAUNCHER" in part for part in result.steps[0].command)
    assert any("sccache not found" in line for line in said)
    assert warm.use is not None and warm.use.compiler_cache.startswith("none (")

"""`crashfix doctor` on warm builds: the build folder is writable (or why not), the compiler cache is found."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from crashfix.cli import main


def doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], extra: str,
           path: str | None = None) -> str:
    repo = tmp_path / "repo"
    (repo / ".github").mkdir(parents=True, exist_ok=True)
    (repo / ".github" / "crashfix.toml").write_text(f"[fix]\nbuild = [['{sys.executable}', '-c', 'pass']]\n{extra}")
    if path is not None:
        monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ccache"))
    main(["doctor", str(repo), "--repo", "acme/worldserver"])
    return capsys.readouterr().out


def test_a_writable_build_dir_and_a_found_compiler_cache_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "ccache").write_text("#!/bin/sh\nexec \"$@\"\n")
    (tools / "ccache").chmod(0o755)
    root = (tmp_path / "builds").as_posix()
    said = doctor(tmp_path, monkeypatch, capsys, f'build_dir = "{root}"\ncompiler_cache = "auto"\n',
                  f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    assert f"ok      build folder: {Path(root)} is writable; 0 build folder(s) kept;" in said
    assert f"compiler cache: ccache at {tools / 'ccache'}; CCACHE_DIR={tmp_path / 'ccache'}" in said
    assert not list(Path(root).iterdir())  # the probe is gone


def test_an_unwritable_build_dir_fails_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"  # a folder cannot be made under a file, whoever runs the test (root too)
    blocker.write_text("")
    said = doctor(tmp_path, monkeypatch, capsys, f'build_dir = "{blocker.as_posix()}/b"\n')
    assert "FAILED  build folder:" in said and "not writable here" in said and "give the runner's account" in said


def test_a_build_dir_inside_the_checkout_or_relative_fails_in_one_line(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    said = doctor(tmp_path, monkeypatch, capsys, 'build_dir = "build"\n')
    assert "FAILED  build folder: [fix] build_dir 'build' is not an absolute path" in said
    inside = (tmp_path / "repo" / "out").as_posix()
    said = doctor(tmp_path, monkeypatch, capsys, f'build_dir = "{inside}"\n')
    assert "is inside the checkout" in said


def test_no_build_dir_is_no_line_and_a_missing_cache_tool_is_a_warning(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    said = doctor(tmp_path, monkeypatch, capsys, "", str(tmp_path / "empty"))
    assert "build folder" not in said and "compiler cache" not in said  # nothing configured, nothing checked
    said = doctor(tmp_path, monkeypatch, capsys, 'compiler_cache = "sccache"\n', str(tmp_path / "empty"))
    assert "WARN    compiler cache: sccache not found on PATH" in said and "build folder" not in said

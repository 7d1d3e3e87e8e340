"""`crashfix doctor` on a fresh clone: a test program the build itself produces (build/testrunner) is not
there yet and needs no installing; a program that nothing produces is still reported missing."""

from __future__ import annotations

from pathlib import Path

from crashfix.config import load_config
from crashfix.setup.doctor import check_commands


def _check(tmp_path: Path, build: str, test: str):  # type: ignore[no-untyped-def]
    config = tmp_path / "crashfix.toml"
    config.write_text(f"[fix]\nbuild = {build}\ntest = {test}\n")
    return check_commands(tmp_path, load_config(config), {"PATH": "/usr/bin:/bin"})


def test_a_test_program_the_build_makes_is_not_missing(tmp_path: Path) -> None:
    check = _check(tmp_path, '[["sh", "-c", "true"]]', '[["build/testrunner"], ["{checkout}/build/bin/smoke", "-q"]]')
    assert check.state == "ok", check.line()
    assert "made by the build: build/testrunner, {checkout}/build/bin/smoke" in check.detail


def test_a_program_nothing_produces_is_still_missing(tmp_path: Path) -> None:
    first_step = _check(tmp_path, '[["tools/build.sh"]]', '[["build/testrunner"]]')  # runs before any build step
    assert first_step.state == "failed" and "tools/build.sh" in first_step.detail
    assert "build/testrunner" not in first_step.detail
    outside = _check(tmp_path, '[["sh", "-c", "true"]]', '[["../elsewhere/testrunner"], ["/no/such/runner"]]')
    assert outside.state == "failed"
    assert "../elsewhere/testrunner" in outside.detail and "/no/such/runner" in outside.detail
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "build.sh").write_text("#!/bin/sh\n")
    assert _check(tmp_path, '[["tools/build.sh"]]', '[]').state == "ok"

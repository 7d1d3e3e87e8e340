"""The action's installer (stdlib only, run by path before crashfix exists) and the Actions log helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crashfix.actions import install as action_install
from crashfix.actions import workflow as actions_log
from tests.conftest import ROOT


def source_copy(tmp_path: Path) -> Path:
    root = tmp_path / "action"
    root.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(ROOT / "crashfix", root / "crashfix", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_environment_is_keyed_by_the_source_and_kept_in_the_tool_cache(tmp_path: Path) -> None:
    root = source_copy(tmp_path)
    first = action_install.environment_dir(root, {"RUNNER_TOOL_CACHE": str(tmp_path / "tools")})
    assert first.parent == tmp_path / "tools" / "crashfix"
    (root / "crashfix" / "__pycache__").mkdir(exist_ok=True)
    (root / "crashfix" / "__pycache__" / "x.pyc").write_bytes(b"noise")
    assert action_install.environment_dir(root, {"RUNNER_TOOL_CACHE": str(tmp_path / "tools")}) == first
    (root / "crashfix" / "fixer" / "run.py").write_text((root / "crashfix" / "fixer" / "run.py").read_text() + "\n# changed\n")
    assert action_install.environment_dir(root, {"RUNNER_TOOL_CACHE": str(tmp_path / "tools")}) != first


def test_a_complete_environment_is_reused_without_running_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = source_copy(tmp_path)
    venv = action_install.environment_dir(root, {"RUNNER_TOOL_CACHE": str(tmp_path / "tools")})
    program = action_install.executable(venv)
    program.parent.mkdir(parents=True)
    program.write_text("")
    (venv / action_install.MARKER).write_text("done\n")
    output = tmp_path / "output"
    monkeypatch.setattr(action_install, "__file__", str(root / "crashfix" / "actions" / "install.py"))
    code = action_install.main({"RUNNER_TOOL_CACHE": str(tmp_path / "tools"), "GITHUB_OUTPUT": str(output),
                                "GITHUB_ACTIONS": "true", "PATH": ""})  # no pip, no python: nothing may run
    said = capsys.readouterr().out
    assert code == 0 and f"reusing {venv}" in said and "::group::Install crashfix" in said
    assert output.read_text() == f"crashfix={program.as_posix()}\n"


def test_a_self_hosted_runner_gets_a_fresh_environment_every_job(tmp_path: Path) -> None:
    """A build on a self-hosted runner runs as the runner's user: nothing it can write may be run by a later job."""
    root = source_copy(tmp_path)
    job = {"RUNNER_TOOL_CACHE": str(tmp_path / "tools"), "RUNNER_TEMP": str(tmp_path / "job-temp"),
           "RUNNER_ENVIRONMENT": "self-hosted"}
    venv = action_install.environment_dir(root, job)
    assert venv.parent == tmp_path / "job-temp" and (tmp_path / "tools") not in venv.parents
    hosted = action_install.environment_dir(root, {**job, "RUNNER_ENVIRONMENT": "github-hosted"})
    assert hosted.parent == tmp_path / "tools" / "crashfix"


def test_workflow_commands_only_in_actions_and_messages_cannot_forge_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with actions_log.group("fix #1", {}):
        pass
    actions_log.error("boom", {})
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "crashfix: error: boom\n"
    actions = {"GITHUB_ACTIONS": "true"}
    with actions_log.group("fix #1", actions):
        actions_log.error("title\n::add-mask::x 100%", actions)
    assert capsys.readouterr().out == "::group::fix #1\n::error::title%0A::add-mask::x 100%25\n::endgroup::\n"
    output = tmp_path / "out"
    actions_log.set_outputs({"GITHUB_OUTPUT": str(output)}, {"fix": "true", "reason": "two\nlines"})
    lines = output.read_text().splitlines()
    assert lines[0] == "fix=true" and lines[1].startswith("reason<<crashfix_") and lines[-1] == lines[1][8:]


def test_printed_text_is_not_obeyed_as_workflow_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with actions_log.commands_off({}):
        print("::set-output name=status::x")
    assert capsys.readouterr().out == "::set-output name=status::x\n"  # a terminal: nothing added
    with actions_log.commands_off({"GITHUB_ACTIONS": "true"}):
        print("::set-output name=status::x")
    first, text, last = capsys.readouterr().out.splitlines()
    token = first.removeprefix("::stop-commands::")
    assert len(token) > 30 and text == "::set-output name=status::x" and last == f"::{token}::"
    with actions_log.commands_off({"GITHUB_ACTIONS": "true"}):
        pass
    assert token not in capsys.readouterr().out  # a fresh token each time: text cannot guess it

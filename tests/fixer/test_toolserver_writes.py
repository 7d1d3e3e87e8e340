"""Write tools stay ours: what a real tool server process changes in a real git checkout, and what happens then.

Covers crashfix/fixer/checkout/write_guard.py through the session: a server without `allow_writes`
that changes a file stops the run; with it, its changes inside the jail become part of the fix and
anything outside (`..`, an absolute path, `.github/`, `.git/hooks`) stops the run; a write made in
the background is found before the build; the model's own edits and the servers' caches are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crashfix.fixer.checkout.write_guard import WriteViolation
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fixer.toolserver_rig import FINISH, FIXED, Rig, entry, git, results


def run(fake: FakeAnthropic, repo: Path, rigs: list[Rig], *turns: Any, **settings: Any) -> Rig:
    fake.enqueue(*turns)
    rig = Rig(fake, repo, [entry(**settings)])
    rigs.append(rig)
    return rig


def test_a_server_without_allow_writes_that_changes_a_file_stops_the_run(fake: FakeAnthropic, repo: Path,
                                                                         rigs: list[Rig]) -> None:
    rig = run(fake, repo, rigs, Turn([tool_use("kb__touch", {"path": "src/touched.txt"})]),
              Turn([tool_use("finish", FINISH)]))
    with pytest.raises(WriteViolation) as stopped:
        rig.session.propose("Fix the crash.")
    assert "the tool server kb changed src/touched.txt during kb__touch" in stopped.value.message
    assert "allow_writes = true" in stopped.value.message and "before any build" in str(stopped.value.hint)
    assert rig.workspace.changed_paths() == []  # nothing of it would be committed
    assert [call.status for call in rig.servers.calls] == ["ok"]  # the call is listed all the same


def test_with_allow_writes_a_change_inside_the_jail_becomes_part_of_the_fix(fake: FakeAnthropic, repo: Path,
                                                                           rigs: list[Rig]) -> None:
    def second(request: dict[str, Any]) -> Turn:
        got = results(request)
        assert "wrote 8 characters to src/notes.md" in got["kb__save_note"]["content"]
        return Turn([tool_use("finish", FIXED)])

    rig = run(fake, repo, rigs, Turn([tool_use("kb__save_note", {"path": "src/notes.md", "text": "a note\n\n"}),
                                      tool_use("kb__touch", {"path": "src/Player.cpp"})]), second,
              allow_writes=True)
    proposal = rig.session.propose("Fix the crash.")
    assert proposal.status == "fixed"  # accepted: files did change, through the server
    assert rig.workspace.changed_paths() == ["src/Player.cpp", "src/notes.md"]
    assert rig.workspace.originals["src/notes.md"] is None  # a new file
    assert rig.workspace.originals["src/Player.cpp"] == git(repo, "show", "HEAD:src/Player.cpp").encode()
    offered = [tool["name"] for tool in fake.message_requests()[0].json["tools"]]
    assert "kb__save_note" in offered


@pytest.mark.parametrize("target", ["../outside.txt", "src/../../outside.txt", "{outside}",
                                    ".github/workflows/evil.yml", ".GITHUB/workflows/evil.yml", ".git/hooks/pre-push"])
def test_a_write_tool_asked_to_write_outside_the_jail_stops_the_run_before_it_runs(
        fake: FakeAnthropic, repo: Path, rigs: list[Rig], target: str) -> None:
    outside = repo.parent / "outside.txt"
    path = target.replace("{outside}", str(outside))
    rig = run(fake, repo, rigs, Turn([tool_use("kb__save_note", {"path": path, "text": "owned"})]),
              allow_writes=True)
    with pytest.raises(WriteViolation) as stopped:
        rig.session.propose("Fix the crash.")
    assert f"kb__save_note was asked to write {path!r}, which the jail refuses" in stopped.value.message
    assert not outside.exists() and not (repo / ".github" / "workflows" / "evil.yml").exists()
    assert not (repo / ".git" / "hooks" / "pre-push").exists() and rig.servers.calls == []


@pytest.mark.parametrize("allow", [True, False])
def test_a_change_under_github_or_git_found_after_the_call_stops_the_run(fake: FakeAnthropic, repo: Path,
                                                                         rigs: list[Rig], allow: bool) -> None:
    """`touch` has no hints, so its arguments are not checked first; what it did is seen afterwards."""
    rig = run(fake, repo, rigs, Turn([tool_use("kb__touch", {"path": ".github/workflows/evil.yml"})]),
              allow_writes=allow)
    with pytest.raises(WriteViolation) as stopped:
        rig.session.propose("Fix the crash.")
    said = stopped.value.message
    assert ".github/workflows/evil.yml" in said
    assert ("which the jail refuses" in said) if allow else ("does not say allow_writes" in said)
    assert rig.workspace.changed_paths() == []


def test_a_planted_git_hook_stops_the_run(fake: FakeAnthropic, repo: Path, rigs: list[Rig]) -> None:
    rig = run(fake, repo, rigs, Turn([tool_use("kb__touch", {"path": ".git/hooks/pre-commit"})]), allow_writes=True)
    with pytest.raises(WriteViolation, match=r"kb__touch changed \.git/hooks/pre-commit, which the jail refuses"):
        rig.session.propose("Fix the crash.")


def test_a_servers_own_cache_folder_is_left_alone_when_its_entry_names_it(fake: FakeAnthropic, repo: Path,
                                                                          rigs: list[Rig]) -> None:
    rig = run(fake, repo, rigs, Turn([tool_use("kb__touch", {"path": ".cache/clangd/index/Player.idx"})]),
              Turn([tool_use("finish", FINISH)]), ignore_paths=[".cache/"])
    assert rig.session.propose("Fix the crash.").status == "cannot_fix"
    assert (repo / ".cache" / "clangd" / "index" / "Player.idx").exists() and rig.workspace.changed_paths() == []


def test_a_write_behind_the_models_back_is_found_before_the_build(fake: FakeAnthropic, repo: Path,
                                                                  rigs: list[Rig]) -> None:
    """`write_later` says it only reads, answers, and writes a moment later: the check before the build sees it."""
    rig = run(fake, repo, rigs, Turn([tool_use("kb__write_later", {"path": "src/late.cpp", "delay": 0.2})]),
              Turn([tool_use("finish", FINISH)], delay=2.0))
    with pytest.raises(WriteViolation) as stopped:
        rig.session.propose("Fix the crash.")
    assert "files changed before the build while no tool server call was running (src/late.cpp)" in \
        stopped.value.message


def test_the_models_own_edits_between_server_calls_are_not_a_violation(fake: FakeAnthropic, repo: Path,
                                                                       rigs: list[Rig]) -> None:
    edit = {"path": "src/Player.cpp", "old_text": "    target->DealDamage(1);",
            "new_text": "    if (target)\n        target->DealDamage(1);"}
    rig = run(fake, repo, rigs, Turn([tool_use("kb__lookup", {"name": "Player"}), tool_use("edit", edit)]),
              Turn([tool_use("kb__lookup", {"name": "Unit"})]), Turn([tool_use("finish", FIXED)]))
    assert rig.session.propose("Fix the crash.").status == "fixed"
    assert rig.workspace.changed_paths() == ["src/Player.cpp"]
    assert [call.status for call in rig.servers.calls] == ["ok", "ok"]


@pytest.mark.parametrize(("path", "allowed"), [
    ("src/notes.md", True), ("src\\notes.md", True), ("{root}/src/notes.md", True),
    ("C:\\Users\\runner\\notes.md", False), ("C:/Windows/System32/drivers/etc/hosts", False),
    ("\\\\server\\share\\notes.md", False), ("src\\..\\..\\notes.md", False), (".GITHUB\\workflows\\x.yml", False),
    (".github./workflows/x.yml", False), ("GITHUB~1/workflows/x.yml", False), ("src/x.cpp::$DATA", False),
    ("{root}/.git/hooks/post-checkout", False),
])
def test_write_paths_are_jailed_in_every_spelling_windows_would_take(repo: Path, path: str, allowed: bool) -> None:
    """The arguments of a write tool, checked without starting anything (the jail of `edit`, Windows rules included)."""
    from crashfix.fixer.checkout.gitops import Git
    from crashfix.fixer.checkout.workspace import Workspace
    from crashfix.fixer.checkout.write_guard import CheckoutWatch

    watch = CheckoutWatch(Workspace(repo), Git(repo, {}))
    arguments = {"relative_path": path.replace("{root}", str(repo.resolve())), "body": "../../etc/passwd"}
    if allowed:
        watch.jail_arguments("serena", "create_text_file", arguments)  # `body` is not a path argument
    else:
        with pytest.raises(WriteViolation, match="serena__create_text_file was asked to write"):
            watch.jail_arguments("serena", "create_text_file", arguments)

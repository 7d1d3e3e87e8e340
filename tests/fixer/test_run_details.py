"""The smaller items of a real-project trial: repository-relative diagnostics (include chains too), file
tools that take an absolute path inside the checkout, a bounded explanation of a mismatched edit, honest
line counts, commit subjects cut at a word, a local prompt without "issue #(local)", prices for every
spelling of a listed model, and a terminal that a cp1252 console can print."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from crashfix.config import FixSettings
from crashfix.fixer.agent.pricing import load_prices
from crashfix.fixer.checkout.workspace import ToolError, Workspace
from crashfix.fixer.console import Console, exit_code, safe
from crashfix.fixer.deliver import commit_message
from crashfix.fixer.models import FixOutcome, StepResult, VerifyResult
from crashfix.fixer.prompt import task_message
from crashfix.fixer.verify.steps import run_round
from tests.conftest import require_tools


def test_include_chains_and_notes_name_repository_paths(tmp_path: Path) -> None:
    require_tools("g++")
    root = tmp_path / "game"
    (root / "src").mkdir(parents=True)
    (root / "src" / "World.h").write_text("#pragma once\ninline int Spawn(int count) { return count + undeclared; }\n")
    (root / "src" / "Main.cpp").write_text('#include "World.h"\nint main() { return Spawn(1); }\n')
    settings = FixSettings.model_validate({"build": [["g++", "-c", "{checkout}/src/Main.cpp", "-o",
                                                      "{checkout}/Main.o"]]})
    result = run_round(root, settings, {"PATH": os.environ["PATH"]}, 1)
    [step] = result.steps
    assert not step.ok and step.diagnostics
    first = step.diagnostics[0]
    assert (first.path, first.line) == ("src/World.h", 2) and "undeclared" in first.message
    feedback = result.feedback.split("\n", 1)[1]  # after the line quoting the configured command
    shown = " ".join(d.message + d.context for d in step.diagnostics) + step.output_tail + feedback
    assert "In file included from src/Main.cpp:1" in shown  # the chain, repository-relative
    assert str(root) not in shown and str(root.resolve()) not in shown


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "checkout"
    (root / "src").mkdir(parents=True)
    (root / "src" / "Player.cpp").write_text("void Update()\n{\n    Attack();\n}\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    (root / "src" / "out").symlink_to(tmp_path)
    return Workspace(root)


def test_file_tools_take_an_absolute_path_inside_the_checkout(workspace: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    assert workspace.read_file(str(root / "src" / "Player.cpp")).startswith("src/Player.cpp lines 1-4 of 4")
    said = workspace.edit(str(root / "src/Player.cpp"), "    Attack();\n", "    if (target)\n        Attack();\n")
    assert said == "edited src/Player.cpp: replaced 1 line(s) at line 3 with 2 line(s)"  # not 2 with 3
    assert "src/Player.cpp:4:" in workspace.search("Attack", str(root / "src"))
    for outside in (str(tmp_path / "secret.txt"), str(root / ".." / "secret.txt"), str(root / "src/out/secret.txt"),
                    str(root / ".git" / "config"), "/etc/passwd"):
        with pytest.raises(ToolError):
            workspace.read_file(outside)


def test_a_mismatched_edit_is_explained_within_bounded_cpu(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    lines = [f"    int value_{n} = compute(table[{n % 97}], {n}); // step {n}" for n in range(20_000)]
    lines[15_321] = "    if (player->GetTarget() == nullptr) { return; }"
    (root / "World.cpp").write_text("\n".join(lines) + "\n")
    workspace = Workspace(root)
    started = time.process_time()  # this process's CPU time: a loaded machine does not inflate it
    with pytest.raises(ToolError) as refused:
        workspace.edit("World.cpp", "    if (player->GetTarget() == NULL) { return; }\n", "    return;\n")
    spent = time.process_time() - started
    assert "The closest text is at lines 15322-15322" in str(refused.value)
    assert spent < 5.0, f"explaining the mismatch took {spent:.1f} s of CPU"  # was unbounded: 18 s on 4,205 lines


def test_the_commit_subject_is_cut_at_a_word_within_72_characters() -> None:
    title = "Crash: SIGSEGV in CGameContext::Whisper(int, char const*) via CGameContext::ConWhisper and more frames"
    outcome = FixOutcome(status="local", crash_title=title, signature="0123abcd")
    subject = commit_message(outcome, verified=True).split("\n")[0]
    assert len(subject) <= 72 and subject.endswith("...")
    assert subject.removesuffix("...") in f"Fix crash in {title.removeprefix('Crash: ')}"
    assert f"Fix crash in {title.removeprefix('Crash: ')}"[len(subject) - 3] == " "  # the next character: a space
    assert commit_message(outcome, verified=False).startswith("Unverified crashfix attempt for crash 0123abcd\n")


def test_a_local_prompt_names_no_issue() -> None:
    from crashfix.analysis.analyze import analyze_text
    from crashfix.locate.models import CodeContext

    report = analyze_text("Program received signal SIGSEGV, Segmentation fault.\n"
                          "#0  0x0000555555558e1a in Player::Update (this=0x0) at /src/Player.cpp:12\n")
    local = task_message(issue_number=None, repository="worldserver", report=report, context=CodeContext())
    assert "#(local)" not in local and "issue #" not in local.split("\n")[0]
    assert "worldserver" in local.split("\n")[0]
    filed = task_message(issue_number=7, repository="acme/worldserver", report=report, context=CodeContext())
    assert filed.startswith("Fix the crash reported in issue #7 of acme/worldserver.")


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-sonnet-5-5-20261015", "claude-sonnet-5-5-latest",
                                   "anthropic.claude-sonnet-5-5-20261015-v1:0", "claude-sonnet-5-5@20261015"])
def test_every_spelling_of_a_listed_model_has_its_price(model: str) -> None:
    prices = load_prices()
    assert prices.price(model) == prices.models["claude-sonnet-5-5"]


def test_an_unlisted_model_stays_unpriced() -> None:
    assert load_prices().price("claude-sonnet-9-9") is None and load_prices().price("sonnet") is None


def test_the_console_prints_on_a_cp1252_terminal_and_says_a_long_step_still_runs() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", errors="strict", write_through=True)
    console = Console(stream, heartbeat=0.2)
    try:
        console.phase("Analyse", "done", "fixed: Player::Update — a null target ✓ 数据 (1 file, +3 −1)")
        console.step("build", ["cmake", "--build", "build"])
        deadline = time.monotonic() + 30
        while b"still running" not in raw.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        console.close()
    text = raw.getvalue().decode("cp1252")
    assert "Analyse" in text and "a null target ? ??" in text and "+3 -1" in text
    assert "build: still running after" in text and "cmake --build build" in text
    assert safe("round 1 · ok → done", stream) == "round 1 , ok -> done"


def test_exit_codes_say_whether_a_local_run_fixed_it() -> None:
    passed = VerifyResult(round=1, steps=[StepResult(phase="build", command=["make"], returncode=0, seconds=1)])
    failed = VerifyResult(round=1, steps=[StepResult(phase="build", command=["make"], returncode=2, seconds=1)])
    fixed = FixOutcome(status="local", commit="a" * 40, rounds=[passed])
    assert exit_code(fixed, local=True) == 0
    assert exit_code(fixed.model_copy(update={"commit": None}), local=True) == 1  # nothing committed
    assert exit_code(FixOutcome(status="needs-human", rounds=[failed]), local=True) == 1
    assert exit_code(FixOutcome(status="needs-human", rounds=[failed]), local=False) == 0  # said on the issue


def test_fix_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from crashfix.cli import main

    assert main(["fix", "--help"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Exit codes: 0 fixed" in said and "1 not fixed" in said and "2 usage, config or checkout error" in said

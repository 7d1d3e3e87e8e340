"""`crashfix analyze`: what users see in the terminal and what scripts get as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crashfix.cli import example_paths, main

GDB = """Program terminated with signal SIGSEGV, Segmentation fault.
#0  0x0000556d48e636c6 in Unit::DealDamage (this=0x0) at /src/game/Unit.cpp:812
#1  0x0000556d49260b9e in World::ProcessDelayedDamages (this=0x55) at /src/game/World.cpp:2301
"""


@pytest.fixture()
def crash_file(tmp_path: Path) -> Path:
    path = tmp_path / "crash.txt"
    path.write_text(GDB, encoding="utf-8")
    return path


def test_text_summary(crash_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(crash_file)]) == 0
    out = capsys.readouterr().out
    assert "gdb backtrace" in out
    assert "SIGSEGV Segmentation fault" in out
    assert "blamed     Unit::DealDamage  (/src/game/Unit.cpp:812)" in out
    assert "access-violation | Unit::DealDamage | World::ProcessDelayedDamages" in out


def test_json_lines_have_the_documented_keys(crash_file: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text("hello, this is not a crash\n", encoding="utf-8")
    assert main(["analyze", "--json", str(crash_file), str(broken)]) == 3
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first["path"] == str(crash_file) and first["format"] == "gdb"
    assert first["exception"]["code"] == "SIGSEGV" and first["exception"]["name"] == "Segmentation fault"
    assert {"module", "function", "file", "line"} <= first["blamed_frame"].keys()
    assert first["blamed_frame"]["function"] == "Unit::DealDamage" and first["blamed_frame"]["line"] == 812
    assert len(first["frames"]) == 2
    assert {"id", "text", "quality", "version"} <= first["signature"].keys()
    assert second == {"path": str(broken), "error": second["error"]}
    assert "not a crash report crashfix recognises" in second["error"]


def test_missing_file_is_one_line_and_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "nope.dmp")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err


def test_forced_format(crash_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--json", "--format", "wheaty", str(crash_file)]) == 3
    assert "error" in json.loads(capsys.readouterr().out)


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze"]) == 2
    assert "crashfix analyze --example" in capsys.readouterr().err


def test_config_adds_skip_rules(crash_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "crashfix.toml"
    config.write_text('[analysis]\nskip_functions = ["^Unit::DealDamage$"]\n', encoding="utf-8")
    assert main(["analyze", "--json", "--config", str(config), str(crash_file)]) == 0
    assert json.loads(capsys.readouterr().out)["blamed_frame"]["function"] == "World::ProcessDelayedDamages"


def test_bad_config_is_one_clear_line(crash_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "crashfix.toml"
    config.write_text("[analysis]\nskip_functions = 3\n", encoding="utf-8")
    assert main(["analyze", "--config", str(config), str(crash_file)]) == 2
    err = capsys.readouterr().err
    assert "analysis.skip_functions" in err and err.count("\n") == 1


def test_examples_ship_with_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(example_paths()) >= 3
    assert main(["analyze", "--example"]) == 0
    out = capsys.readouterr().out
    assert out.count("signature") >= 3 and "error" not in out


def test_internal_errors_are_one_line_with_the_log_path(crash_file: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def explode(*_: object, **__: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("crashfix.analysis.analyze.analyze_path", explode)
    assert main(["analyze", "--json", str(crash_file)]) == 3
    line = json.loads(capsys.readouterr().out)
    assert "internal error (ZeroDivisionError: boom)" in line["error"]
    log = tmp_path / "state" / "logs" / "internal-errors.log"
    assert "Traceback" in log.read_text(encoding="utf-8")


@pytest.mark.parametrize("entry", [["-m", "crashfix"], ["-c", "import sys; from crashfix.cli import main; sys.exit(main())"]])
def test_runs_as_a_module(crash_file: Path, entry: list[str]) -> None:
    result = subprocess.run([sys.executable, *entry, "analyze", "--json", str(crash_file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["signature"]["quality"] == "good"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "crashfix" in capsys.readouterr().out


def test_the_command_line_starts_without_loading_the_parsers() -> None:
    """`crashfix --help`, `watch` and `status` start fast: the analysis core loads only where it is used."""
    probe = ("import sys, crashfix.cli; "
             "print(sorted(m for m in sys.modules if m.startswith(('crashfix.analysis.parsers', 'github', 'anthropic'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_every_format_the_parsers_know_is_a_format_choice() -> None:
    from crashfix.analysis.formats import FORMAT_NAMES
    from crashfix.analysis.parsers import BINARY_PARSERS, TEXT_PARSERS

    assert sorted(FORMAT_NAMES) == sorted(f.value for f in (*TEXT_PARSERS, *BINARY_PARSERS))

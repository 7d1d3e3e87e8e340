"""What the command line says in the cases a new operator meets first: bare `crashfix`, `--help`, a
network error outside the uploader, a crash past the 32 MB read cap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crashfix.analysis.analyze import MAX_TEXT_BYTES
from crashfix.cli import main

GDB = ("Program terminated with signal SIGSEGV, Segmentation fault.\n"
       "#0  0x0000556d48e636c6 in Unit::DealDamage (this=0x0) at /src/game/Unit.cpp:812\n"
       "#1  0x0000556d49260b9e in World::ProcessDelayedDamages (this=0x55) at /src/game/World.cpp:2301\n")


def test_bare_crashfix_prints_help_and_succeeds() -> None:
    done = subprocess.run([sys.executable, "-m", "crashfix"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("Usage: crashfix") and "watch" in done.stdout and "doctor" in done.stdout


@pytest.mark.parametrize(("command", "names"), [
    ("watch", ["GITHUB_TOKEN", "crashfix login", "GITHUB_API_URL", "CRASHFIX_STATE_DIR", "_NT_SYMBOL_PATH",
               "CRASHFIX_WEBHOOK_URL", "HTTPS_PROXY", "66 a crash folder is missing"]),
    ("file", ["GITHUB_TOKEN", "crashfix login", "--dry-run", "--example"]),
    ("fix", ["GITHUB_TOKEN", "ANTHROPIC_API_KEY", "GITHUB_REPOSITORY", "GITHUB_API_URL", "CRASHFIX_WEBHOOK_URL",
             "CRASHFIX_CACHE_DIR", "HTTPS_PROXY"]),
])
def test_help_names_the_environment_variables(command: str, names: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    for name in names:
        assert name in text, name


@pytest.mark.parametrize("args", [["stats", "--repo", "acme/worldserver"],
                                  ["init", ".", "--repo", "acme/worldserver", "--action", "./action"],
                                  ["fix", "--issue", "1", "--repo", "acme/worldserver"]])
def test_a_network_error_outside_the_uploader_does_not_mention_a_spool(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")  # GITHUB_API_URL: a closed port (conftest)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0 and "could not reach GitHub" in err, err
    assert "spool" not in err and "check the network connection, GITHUB_API_URL" in err


def test_doctor_network_errors_do_not_mention_a_spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    assert main(["doctor", str(tmp_path), "--repo", "acme/worldserver"]) == 1
    out = capsys.readouterr().out
    assert "could not reach GitHub" in out and "spool" not in out


def test_a_crash_past_the_read_cap_names_the_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Server.log"
    with path.open("w", encoding="utf-8") as handle:
        line = "2026-12-01 05:00:00 World: player logged in\n"
        handle.write(line * (MAX_TEXT_BYTES // len(line) + 10))
        handle.write(GDB)
    assert main(["analyze", str(path)]) == 3
    err = capsys.readouterr().err
    assert "not a crash report crashfix recognises" in err
    assert "only the first 32 MB of the file were read (a crash report that starts later is not seen)" in err
    small = tmp_path / "small.log"
    small.write_text("2026-12-01 05:00:00 World: player logged in\n")
    assert main(["analyze", str(small)]) == 3 and "32 MB" not in capsys.readouterr().err

"""`crashfix doctor` starts each `[[fix.mcp]]` tool server (a real MCP server process), asks for its tools,
says which the model would see, and stops it again."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crashfix.cli import main
from tests.fixer.toolserver_rig import SERVER, alive, read_pids


def server(name: str, tools: str, env: str = "") -> str:
    """One [[fix.mcp]] entry for the test server, as a user writes it (`tools` and `env` in TOML)."""
    lines = ["[[fix.mcp]]", f'name = "{name}"', f"command = '{sys.executable}'", f"args = ['{SERVER}']",
             f"tools = {tools}"] + ([f"env = {{ {env} }}"] if env else [])
    return "\n" + "\n".join(lines) + "\n"


def test_doctor_lists_each_tool_server_and_whether_it_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".github").mkdir()
    config = (f"[fix]\nbuild = [['{sys.executable}', '-c', 'pass']]\n"
              + server("kb", '["lookup"]', f"MCP_TEST_PID_FILE = '{tmp_path / 'pids.json'}'")
              + server("kb-typo", '["lookup", "save_note", "look_up"]')
              + server("quits", '["lookup"]', 'MCP_TEST_MODE = "exit-at-start"'))
    (tmp_path / ".github" / "crashfix.toml").write_text(config)
    assert main(["doctor", str(tmp_path), "--repo", "acme/worldserver"]) == 1
    said = capsys.readouterr().out
    assert "ok      tool server kb: started and listed 10 tool(s) in " in said
    assert "the model sees lookup\n" in said
    assert ("FAILED  tool server kb-typo: started and listed 10 tool(s)" in said
            and "the model sees lookup; hidden because they edit files (allow_writes = false): save_note; "
                "not offered by the server: look_up" in said)
    assert "fix: correct tools of [[fix.mcp]] kb-typo (it offers: lookup, slow, broken, huge, save_note" in said
    assert ("FAILED  tool server quits: tool server quits stopped before it answered (exit code 3; it said: "
            "error: no compile_commands.json in the project)" in said)
    assert alive(read_pids(tmp_path / "pids.json")) == []  # started, asked, stopped


def test_doctor_has_no_tool_server_line_when_none_is_configured(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing configured is nothing to check, not a check that was skipped."""
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "crashfix.toml").write_text(f"[fix]\nbuild = [['{sys.executable}', '-c', 'pass']]\n")
    main(["doctor", str(tmp_path), "--repo", "acme/worldserver"])
    assert "tool servers" not in capsys.readouterr().out


@pytest.mark.parametrize(("entry", "said"), [
    ('name = "kb"\ncommand = "x"', "tools: Field required"),
    ('name = "kb"\ncommand = "x"\ntools = []', "tools: name the tools the model may use"),
    ('name = "kb"\ntools = ["a"]', "give either command (a stdio server) or url (HTTP)"),
    ('name = "kb"\ncommand = "x"\nurl = "http://localhost/mcp"\ntools = ["a"]', "not both"),
    ('name = "k__b"\ncommand = "x"\ntools = ["a"]', "no '__'"),
    ('name = "kb"\ncommand = "x"\ntools = ["a"]\nignore_paths = [".github/"]', "not .git/ or .github/"),
    ('name = "kb"\ncommand = "x"\ntools = ["a"]\nignore_paths = ["../x"]', "a folder inside the checkout"),
    ('name = "kb"\nurl = "http://h/mcp"\ntools = ["a"]\nenv = { A = "1" }', "args, env and pass_env are for stdio"),
])
def test_a_bad_tool_server_entry_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str,
                                             said: str) -> None:
    config = tmp_path / "crashfix.toml"
    config.write_text(f"[fix]\n[[fix.mcp]]\n{entry}\n")
    code = main(["fix", "--local", "--report", str(config), "--checkout", str(tmp_path), "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_two_entries_with_one_name_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "crashfix.toml"
    config.write_text('[fix]\n[[fix.mcp]]\nname = "kb"\ncommand = "x"\ntools = ["a"]\n'
                      '[[fix.mcp]]\nname = "KB"\ncommand = "y"\ntools = ["b"]\n')
    code = main(["fix", "--local", "--report", str(config), "--checkout", str(tmp_path), "--config", str(config)])
    assert code == 2 and "two [[fix.mcp]] entries are named 'kb'" in capsys.readouterr().err

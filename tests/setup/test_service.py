"""`crashfix service install | uninstall | status`: the task XML and the unit file as written, and the
system tools driven as real processes (stand-ins for schtasks, icacls, PowerShell and systemctl on PATH
that record what they were asked and answer as the real ones do)."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crashfix.cli import main
from crashfix.setup import service
from crashfix.setup.service_files import TASK_NS, ServiceSpec, _windows_split, read_task_xml, task_xml
from tests.conftest import require_tools

NS = {"t": TASK_NS}
TOOL = r'''#!{python}
"""A stand-in for {name}: records its argv and stdin, answers like the real tool."""
import json, os, shutil, sys
from pathlib import Path
log = Path(os.environ["FAKE_TOOLS_LOG"])
name = Path(sys.argv[0]).name
args = sys.argv[1:]
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
with log.open("a", encoding="utf-8") as handle:
    handle.write(json.dumps({{"tool": name, "args": args, "stdin": stdin}}) + "\n")
saved = log.parent / "task.xml"
if name == "schtasks" and "/Create" in args:
    shutil.copyfile(args[args.index("/XML") + 1], saved)
elif name == "schtasks" and "/Query" in args:
    if not saved.exists():
        print("ERROR: The system cannot find the file specified.", file=sys.stderr)
        sys.exit(1)
    sys.stdout.buffer.write(saved.read_bytes())
elif name == "schtasks" and "/Delete" in args:
    saved.unlink()
elif name == "powershell":
    print(json.dumps({{"state": os.environ.get("FAKE_TASK_STATE", "Running"),
                       "last": int(os.environ.get("FAKE_TASK_RESULT", "267009")), "when": "12/2/2026 5:00:00 AM"}}))
elif name == "systemctl" and args[:1] == ["show"]:
    print(os.environ.get("FAKE_UNIT_SHOW", "ActiveState=active\nSubState=running\nExecMainStatus=0"))
'''


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of stand-in system tools first on PATH; returns the log they write."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("schtasks", "icacls", "powershell", "systemctl"):
        path = folder / name
        path.write_text(TOOL.format(python=sys.executable, name=name), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "tools.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TOOLS_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def host_config(tmp_path: Path) -> Path:
    path = tmp_path / "host config" / "crashfix.toml"
    path.parent.mkdir()
    path.write_text(f'[uploader]\nrepo = "acme/worldserver"\ndirectories = ["{tmp_path.as_posix()}/crashes"]\n')
    return path


def test_the_windows_task_runs_at_boot_restarts_and_has_no_time_limit(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, said = cli(monkeypatch, capsys, [
        "service", "install", "--platform", "windows", "--dry-run", "--account", r"WOW\crashfix-svc",
        "--config", r"D:\crash fix\crashfix.toml", "--python", r"C:\crashfix\venv\Scripts\python.exe"])
    assert code == 0, said
    text, commands = said.split("\n> ", 1)
    root = ET.fromstring(text.encode("utf-16"))  # the declaration says UTF-16: parsed as schtasks reads the file
    assert root.tag == f"{{{TASK_NS}}}Task" and root.get("version") == "1.2"
    settings = root.find("t:Settings", NS)
    assert settings is not None
    assert settings.findtext("t:ExecutionTimeLimit", namespaces=NS) == "PT0S"  # the default stops it after 72 h
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    assert settings.findtext("t:DisallowStartIfOnBatteries", namespaces=NS) == "false"
    interval, count = (settings.findtext(f"t:RestartOnFailure/t:{key}", namespaces=NS) for key in ("Interval",
                                                                                                   "Count"))
    assert interval == "PT1M" and count is not None and 1 <= int(count) <= 255  # the schema's bounds
    boot = root.find("t:Triggers/t:BootTrigger", NS)
    assert boot is not None and boot.findtext("t:Repetition/t:Interval", namespaces=NS) == "PT5M"
    assert boot.find("t:Repetition/t:Duration", NS) is None  # repeated indefinitely: an exited watcher comes back
    principal = root.find("t:Principals/t:Principal", NS)
    assert principal is not None and principal.findtext("t:UserId", namespaces=NS) == r"WOW\crashfix-svc"
    assert principal.findtext("t:LogonType", namespaces=NS) == "Password"  # a full logon: its Credential Manager
    assert root.find("t:Actions", NS).get("Context") == principal.get("id")  # type: ignore[union-attr]
    registered = read_task_xml(text)
    assert registered.config == r"D:\crash fix\crashfix.toml" and registered.state_dir == r"C:\ProgramData\crashfix"
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=NS) == r"C:\crashfix\venv\Scripts\python.exe"
    assert "schtasks /Create /TN crashfix-watch /XML <this file> /F /RU WOW\\crashfix-svc /RP" in commands
    system = task_xml(ServiceSpec("crashfix-watch", "SYSTEM", "python.exe", r"D:\c.toml", r"C:\state"))
    assert "<UserId>S-1-5-18</UserId>" in system and "<LogonType>ServiceAccount</LogonType>" in system


def test_the_systemd_unit_restarts_always_and_reads_the_token_from_its_environment_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = host_config(tmp_path)
    state = tmp_path / "state dir %h"
    code, said = cli(monkeypatch, capsys, ["service", "install", "--platform", "linux", "--dry-run", "--account",
                                          "wow", "--config", str(config), "--state-dir", str(state)])
    assert code == 0, said
    unit_text = said.split("# /etc/crashfix/crashfix.env")[0].split("\n", 1)[1]
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(unit_text)
    section = unit["Service"]
    assert section["Restart"] == "always" and section["EnvironmentFile"] == "/etc/crashfix/crashfix.env"
    assert section["User"] == "wow" and set(section["RestartPreventExitStatus"].split()) == {"2", "74", "77"}
    argv = [part.replace("%%", "%") for part in shlex.split(section["ExecStart"])]
    assert argv == [sys.executable, "-m", "crashfix", "watch", "--config", str(config), "--state-dir", str(state)]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    require_tools("systemd-analyze")
    (tmp_path / "crashfix-check.service").write_text(unit_text.replace("User=wow", "User=root"))
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "crashfix-check.service")],
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stderr


def test_windows_install_status_and_uninstall_drive_schtasks(
        tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "Program Data" / "crashfix"
    spec = ServiceSpec("crashfix-watch", r"WOW\crashfix-svc", r"C:\venv\Scripts\python.exe",
                       r"D:\crash fix\crashfix.toml", str(state))
    said = service.install(spec, "windows", password=lambda: "s3cret pass")
    assert "registered and started the scheduled task crashfix-watch" in said
    assert r'runas /user:WOW\crashfix-svc "cmd /k C:\venv\Scripts\python.exe -m crashfix login"' in said
    made = calls(tools)
    assert [call["tool"] for call in made] == ["icacls", "icacls", "schtasks", "schtasks"]
    assert made[0]["args"] == [r"D:\crash fix\crashfix.toml", "/grant", r"WOW\crashfix-svc:R"]
    assert made[1]["args"] == [str(state), "/grant", r"WOW\crashfix-svc:(OI)(CI)M"]
    made = made[1:]
    create = made[1]["args"]
    assert isinstance(create, list) and create[:2] == ["/Create", "/TN"] and create[-3:] == ["/RU",
                                                                                            r"WOW\crashfix-svc", "/RP"]
    assert made[1]["stdin"] == "s3cret pass\r\n" and "s3cret" not in " ".join(create)  # never on a command line
    written = (tools.parent / "task.xml").read_bytes()
    assert written.startswith(b"\xff\xfe") and ET.fromstring(written) is not None  # UTF-16 with its BOM
    assert made[2]["args"] == ["/Run", "/TN", "crashfix-watch"]

    state_now = service.status("crashfix-watch", "windows")
    assert state_now.installed and state_now.running and state_now.registered is not None
    assert state_now.registered.config == r"D:\crash fix\crashfix.toml"
    assert state_now.registered.state_dir == str(state)
    monkeypatch.setenv("FAKE_TASK_STATE", "Ready")
    monkeypatch.setenv("FAKE_TASK_RESULT", "77")
    stopped = service.status("crashfix-watch", "windows")
    assert not stopped.running and "no usable GitHub token (exit 77)" in stopped.detail

    monkeypatch.setattr(service, "this_platform", lambda: "windows")  # `crashfix status` finds the task's folder
    code, said = cli(monkeypatch, capsys, ["status"])
    assert code == 0 and f"no spool at {state / 'spool.sqlite3'}" in said
    code, said = cli(monkeypatch, capsys, ["service", "status"])
    assert code == 1 and "task ready; last run" in said and "runs as:      WOW\\crashfix-svc" in said

    assert "stopped and removed the scheduled task crashfix-watch" in service.uninstall("crashfix-watch", "windows")
    assert [call["args"][0] for call in calls(tools)[-2:]] == ["/End", "/Delete"]  # type: ignore[index]
    assert not service.status("crashfix-watch", "windows").installed
    assert service.uninstall("crashfix-watch", "windows") == "there is no scheduled task crashfix-watch"


def test_linux_install_status_and_uninstall_drive_systemctl(
        tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    units = tmp_path / "systemd"
    units.mkdir()
    monkeypatch.setattr(service, "UNIT_DIR", units)
    env_file = tmp_path / "etc" / "crashfix.env"
    spec = ServiceSpec("crashfix", "wow", sys.executable, str(host_config(tmp_path)), str(tmp_path / "state"),
                       env_file=str(env_file))
    said = service.install(spec, "linux")
    assert f"put GITHUB_TOKEN=<token> into {env_file} (created now, readable by root only)" in said
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and "GITHUB_TOKEN=" in env_file.read_text()
    assert "Restart=always" in (units / "crashfix.service").read_text()
    assert [call["args"] for call in calls(tools)] == [["daemon-reload"], ["enable", "--now", "crashfix.service"]]

    code, said = cli(monkeypatch, capsys, ["status"])  # no --config: the unit names the state folder
    assert f"no spool at {tmp_path / 'state' / 'spool.sqlite3'}" in said
    found = service.status("crashfix", "linux")
    assert found.running and found.registered is not None and found.registered.config == spec.config
    monkeypatch.setenv("FAKE_UNIT_SHOW", "ActiveState=failed\nSubState=failed\nExecMainStatus=66")
    assert "a crash folder is missing (exit 66)" in service.status("crashfix", "linux").detail

    assert "stopped and removed" in service.uninstall("crashfix", "linux")
    assert not (units / "crashfix.service").exists() and env_file.exists()  # the token file is kept
    assert calls(tools)[-2]["args"] == ["disable", "--now", "crashfix.service"]


def test_a_failing_tool_is_one_line(tools: Path, tmp_path: Path) -> None:
    spec = ServiceSpec("crashfix-watch", "SYSTEM", "python.exe", r"D:\c.toml", str(tmp_path / "state"))
    (tools.parent / "bin" / "schtasks").write_text("#!/bin/sh\necho 'ERROR: Access is denied.' >&2\nexit 1\n")
    with pytest.raises(Exception, match="registering the scheduled task failed: ERROR: Access is denied.") as error:
        service.install(spec, "windows")
    assert "elevated prompt" in str(getattr(error.value, "hint", ""))


def test_install_checks_what_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("[uploader]\n")
    for args, words in ((["--config", str(empty), "--account", "wow"], "must set [uploader] repo and directories"),
                        (["--config", str(host_config(tmp_path)), "--account", "wow; rm"], "is not a Linux user"),
                        (["--config", "crashfix.toml", "--account", "svc", "--platform", "windows"],
                         "must be an absolute path on the service's machine")):
        code, said = cli(monkeypatch, capsys, ["service", "install", "--dry-run", "--platform", "linux", *args])
        assert code == 2 and words in said and len(said.strip().splitlines()) == 1, said


@pytest.mark.parametrize("argument", [r"D:\crash fix\crashfix.toml", r"C:\dir\ ", 'say "hi"', r"C:\ends\\",
                                      "", r"a\\\"b", "tab\there"])
def test_task_arguments_read_back_as_written(argument: str) -> None:
    argv = ["-m", "crashfix", "watch", "--config", argument, "--state-dir", r"C:\ProgramData\crashfix"]
    assert _windows_split(subprocess.list2cmdline(argv)) == argv

"""What `crashfix service install` registers: a Task Scheduler task (Windows) or a systemd unit (Linux).

Both run `python -m crashfix watch --config CONFIG --state-dir STATE` as a chosen account and
keep it running:
- Windows: at boot, whether or not anyone is logged on, with no execution time limit (the
  default stops a task after 72 hours). Task Scheduler's "restart on failure" covers only a
  task that could not be started (MS-TSCH 2.5.4.2), not a program that exits, so the boot
  trigger also repeats every 5 minutes: with `IgnoreNew` a running watcher is left alone and
  one that exited is started again.
- Linux: `Restart=always`, the token from an `EnvironmentFile` readable by root only, and no
  restart loop for what only a person can fix (a config error, the state folder, the token).
The config and state paths are baked into the command line, so `crashfix status` and
`crashfix doctor --host` find them again from the registered service.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from crashfix import __version__

Platform = Literal["windows", "linux"]
ENV_FILE = "/etc/crashfix/crashfix.env"
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
REPEAT_EVERY = "PT5M"
RESTART_EVERY = "PT1M"
RESTART_COUNT = 255  # the schema's most (unsignedByte)
RESTART_SECONDS = 10
# Exit codes a restart cannot cure: usage/config error, state folder not writable, token refused.
NO_RESTART_CODES = (2, 74, 77)
BUILTIN_ACCOUNTS = {"system": "S-1-5-18", "nt authority\\system": "S-1-5-18",
                    "localservice": "S-1-5-19", "nt authority\\localservice": "S-1-5-19",
                    "networkservice": "S-1-5-20", "nt authority\\networkservice": "S-1-5-20"}


@dataclass(frozen=True)
class ServiceSpec:
    """One watcher service: its name, account, interpreter and the paths baked into its command line."""

    name: str
    account: str
    python: str
    config: str
    state_dir: str
    env_file: str = "/etc/crashfix/crashfix.env"  # ENV_FILE

    def arguments(self) -> list[str]:
        return ["-m", "crashfix", "watch", "--config", self.config, "--state-dir", self.state_dir]


def builtin_sid(account: str) -> str | None:
    """The SID of SYSTEM, LocalService or NetworkService; None for an ordinary account."""
    return BUILTIN_ACCOUNTS.get(account.strip().casefold())


def _principal(account: str) -> str:
    sid = builtin_sid(account)
    if sid:
        return (f"      <UserId>{sid}</UserId>\n      <LogonType>ServiceAccount</LogonType>\n"
                "      <RunLevel>LeastPrivilege</RunLevel>")
    # Password logon: a full logon, so the account's Credential Manager (its token) can be read.
    return (f"      <UserId>{escape(account)}</UserId>\n      <LogonType>Password</LogonType>\n"
            "      <RunLevel>LeastPrivilege</RunLevel>")


def task_xml(spec: ServiceSpec) -> str:
    """The Task Scheduler definition (schema 1.2: Windows 7 / Server 2008 R2 and later)."""
    arguments = escape(subprocess.list2cmdline(spec.arguments()))
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="{TASK_NS}">
  <RegistrationInfo>
    <Description>crashfix {__version__}: files crashes from the crash folders as GitHub issues</Description>
    <URI>\\{escape(spec.name)}</URI>
  </RegistrationInfo>
  <Triggers>
    <BootTrigger>
      <Enabled>true</Enabled>
      <Repetition>
        <Interval>{REPEAT_EVERY}</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
    </BootTrigger>
  </Triggers>
  <Principals>
    <Principal id="Watcher">
{_principal(spec.account)}
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>{RESTART_EVERY}</Interval>
      <Count>{RESTART_COUNT}</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Watcher">
    <Exec>
      <Command>{escape(spec.python)}</Command>
      <Arguments>{arguments}</Arguments>
      <WorkingDirectory>{escape(spec.state_dir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""


def systemd_unit(spec: ServiceSpec) -> str:
    """The systemd unit; the token comes from `env_file` (GITHUB_TOKEN=...), which systemd reads as root."""
    command = shlex.join([spec.python, *spec.arguments()]).replace("%", "%%")  # `%` starts a systemd specifier
    state = spec.state_dir.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f"""[Unit]
Description=crashfix {__version__}: file crashes from the crash folders as GitHub issues
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={spec.account}
EnvironmentFile={spec.env_file}
Environment="CRASHFIX_STATE_DIR={state}"
ExecStart={command}
Restart=always
RestartSec={RESTART_SECONDS}
RestartPreventExitStatus={' '.join(map(str, NO_RESTART_CODES))}
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full

[Install]
WantedBy=multi-user.target
"""


ENV_FILE_TEXT = """# crashfix's service environment (systemd EnvironmentFile), readable by root only.
# The uploader's token: a fine-grained token with Issues: read and write on the repository.
# GITHUB_TOKEN=github_pat_...
"""


@dataclass(frozen=True)
class Registered:
    """What a registered service runs, read back from its definition."""

    account: str | None
    config: str | None
    state_dir: str | None


def _paths_from(argv: list[str]) -> tuple[str | None, str | None]:
    values: dict[str, str] = {}
    for flag, value in zip(argv, argv[1:]):
        if flag in ("--config", "--state-dir"):
            values[flag] = value
    return values.get("--config"), values.get("--state-dir")


def _windows_split(arguments: str) -> list[str]:
    """Arguments as Windows programs read them (the quoting `list2cmdline` writes)."""
    parts, current, quoted, backslashes, started = [], "", False, 0, False
    for char in arguments:
        if char == "\\":
            backslashes += 1
            continue
        if char == '"':
            current += "\\" * (backslashes // 2)
            if backslashes % 2:
                current += '"'
            else:
                quoted = not quoted
            backslashes, started = 0, True
            continue
        current += "\\" * backslashes
        backslashes = 0
        if char in " \t" and not quoted:
            if current or started:
                parts.append(current)
            current, started = "", False
        else:
            current, started = current + char, True
    current += "\\" * backslashes
    if current or started:
        parts.append(current)
    return parts


def read_task_xml(text: str) -> Registered:
    """The account and paths of a task definition (as `schtasks /Query /XML` prints it)."""
    try:
        root = ET.fromstring(re.sub(r"^\ufeff?\s*<\?xml[^>]*\?>", "", text))  # the declaration names an encoding
    except ET.ParseError as error:
        raise ValueError(f"not a task definition: {error}") from None
    ns = {"t": TASK_NS}
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", default="", namespaces=ns)
    config, state = _paths_from(_windows_split(arguments))
    return Registered(root.findtext("t:Principals/t:Principal/t:UserId", namespaces=ns), config, state)


def read_unit(text: str) -> Registered:
    """The account and paths of a systemd unit's `User=` and `ExecStart=`."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith(("#", ";")):
            settings[key.strip()] = value.strip()
    argv = [part.replace("%%", "%") for part in shlex.split(settings.get("ExecStart", "").lstrip("-@:+!"))]
    config, state = _paths_from(argv)
    return Registered(settings.get("User"), config, state)

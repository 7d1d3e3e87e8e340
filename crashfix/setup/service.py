"""`crashfix service install | uninstall | status`: the watcher as a service that stays up.

Windows: a Task Scheduler task registered from XML with `schtasks` (its state read with
PowerShell's `Get-ScheduledTask`, whose values are not translated). Linux: a systemd unit in
`/etc/systemd/system`, managed with `systemctl`. `--dry-run` prints what would be written and
run. The task or unit is the record of where the config and state folder are: `status`
reads them back, so `crashfix status` needs no `--config`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from crashfix import procs
from crashfix.config import load_config
from crashfix.errors import CrashfixError, UsageError
from crashfix.setup import service_files as files
from crashfix.setup.service_files import Platform, Registered, ServiceSpec

Runner = Callable[[list[str], "bytes | None"], procs.Completed]
UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_NAME = {"windows": "crashfix-watch", "linux": "crashfix"}
PLACEHOLDER_PYTHON = {"windows": r"C:\crashfix\venv\Scripts\python.exe", "linux": "/opt/crashfix/venv/bin/python"}
# Task Scheduler's own results (SCHED_S_*) and crashfix's exit codes, for `status`.
RESULTS = {0: "exited normally", 0x41301: "running", 0x41303: "has not run yet", 0x41306: "was stopped",
           2: "a usage or config error (exit 2)", 66: "a crash folder is missing (exit 66)",
           74: "the state folder cannot be written (exit 74)", 75: "another watcher holds the state folder (exit 75)",
           77: "no usable GitHub token (exit 77)"}


def this_platform() -> Platform:
    return "windows" if os.name == "nt" else "linux"


def run_tool(argv: list[str], stdin: bytes | None = None) -> procs.Completed:
    return procs.run(argv, timeout=120, stdin=stdin)


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8", errors="replace")


def _checked(run: Runner, argv: list[str], what: str, stdin: bytes | None = None) -> procs.Completed:
    """Run a system tool; one line naming what failed and how to retry when it does."""
    try:
        result = run(argv, stdin)
    except OSError as error:
        raise CrashfixError(f"{what} failed: {argv[0]} could not start ({error.strerror or error})") from None
    if not result.ok:
        said = (_text(result.stderr).strip() or _text(result.stdout).strip()).splitlines()
        raise CrashfixError(f"{what} failed: {said[-1] if said else f'exit code {result.returncode}'}",
                            "run it from an elevated prompt (Windows) or with sudo (Linux)")
    return result


@dataclass(frozen=True)
class InstallRequest:
    platform: Platform
    config: str
    account: str
    name: str | None = None
    state_dir: str | None = None
    python: str | None = None


def build_spec(request: InstallRequest, environ: Mapping[str, str]) -> ServiceSpec:
    """The service to register; the config is read now when it is on this machine (a typo fails here)."""
    here = request.platform == this_platform()
    flavour = PureWindowsPath if request.platform == "windows" else PurePosixPath
    if not flavour(request.config).is_absolute():
        if not here:
            raise UsageError(f"--config {request.config} must be an absolute path on the service's machine")
        request = InstallRequest(**{**request.__dict__, "config": str(Path(request.config).resolve())})
    state = request.state_dir
    if here:
        settings = load_config(Path(request.config)).uploader
        if not settings.repo or not settings.directories:
            raise UsageError(f"{request.config} must set [uploader] repo and directories: the service runs "
                             "`crashfix watch --config` with nothing else")
        state = state or (str(settings.state_dir) if settings.state_dir else None)
        state = str(Path(state).resolve()) if state else None  # the service does not start where we are
    if state is None:
        state = (str(PureWindowsPath(environ.get("ProgramData") or r"C:\ProgramData") / "crashfix")
                 if request.platform == "windows" else "/var/lib/crashfix")
    if not request.account.strip():
        raise UsageError("--account names the account the watcher runs as")
    if request.platform == "linux" and not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$", request.account.strip()):
        raise UsageError(f"--account {request.account!r} is not a Linux user name")
    python = request.python or (sys.executable if here else PLACEHOLDER_PYTHON[request.platform])
    return ServiceSpec(name=request.name or DEFAULT_NAME[request.platform], account=request.account.strip(),
                       python=python, config=request.config, state_dir=state)


def describe_install(spec: ServiceSpec, platform: Platform) -> str:
    """What install writes and runs: the text of the task or unit, then the commands."""
    if platform == "windows":
        grants = [] if files.builtin_sid(spec.account) else [
            f"icacls {spec.config} /grant {spec.account}:R", f"icacls {spec.state_dir} /grant {spec.account}:(OI)(CI)M"]
        steps = [*grants, f"schtasks /Create /TN {spec.name} /XML <this file> /F"
                 + ("" if files.builtin_sid(spec.account) else f" /RU {spec.account} /RP (asks for the password)"),
                 f"schtasks /Run /TN {spec.name}"]
        return files.task_xml(spec) + "\n" + "\n".join(f"> {step}" for step in steps)
    unit = UNIT_DIR / f"{spec.name}.service"
    return (f"# {unit}\n{files.systemd_unit(spec)}\n# {spec.env_file} (created if missing, mode 600)\n"
            f"{files.ENV_FILE_TEXT}\n> systemctl daemon-reload\n> systemctl enable --now {spec.name}.service")


def install(spec: ServiceSpec, platform: Platform, *, run: Runner = run_tool, unit_dir: Path | None = None,
            password: Callable[[], str] | None = None) -> str:
    """Register and start the service; what was done and what is left to do."""
    if platform == "windows":
        return _install_task(spec, run, password)
    return _install_unit(spec, run, unit_dir)


def _install_task(spec: ServiceSpec, run: Runner, password: Callable[[], str] | None) -> str:
    builtin = files.builtin_sid(spec.account)
    Path(spec.state_dir).mkdir(parents=True, exist_ok=True)
    if not builtin:  # the account owns nothing here yet: let it read its config and write its spool and logs
        _checked(run, ["icacls", spec.config, "/grant", f"{spec.account}:R"],
                 f"granting {spec.account} read access to {spec.config}")
        _checked(run, ["icacls", spec.state_dir, "/grant", f"{spec.account}:(OI)(CI)M"],
                 f"granting {spec.account} write access to {spec.state_dir}")
    with tempfile.TemporaryDirectory() as folder:
        definition = Path(folder) / "task.xml"
        definition.write_text(files.task_xml(spec), encoding="utf-16")
        argv = ["schtasks", "/Create", "/TN", spec.name, "/XML", str(definition), "/F"]
        secret = None
        if not builtin:  # schtasks reads the password from stdin: never on a command line
            if password is None:
                raise UsageError(f"the password of {spec.account} is needed to run the task whether or not it is "
                                 "logged on")
            argv += ["/RU", spec.account, "/RP"]
            secret = (password() + "\r\n").encode()
        _checked(run, argv, "registering the scheduled task", secret)
    _checked(run, ["schtasks", "/Run", "/TN", spec.name], "starting the scheduled task")
    who = f"runas /user:{spec.account} \"cmd /k {spec.python} -m crashfix login\""
    token = ("it cannot read a token stored by another account: prefer a dedicated account"
             if builtin else f"store its token as that account: {who}")
    return (f"registered and started the scheduled task {spec.name}: runs as {spec.account} at boot, checked every "
            f"5 minutes and started again if it exited; no time limit.\n"
            f"config {spec.config}, state folder {spec.state_dir}\n"
            f"The task runs as {spec.account}: {token}.\nCheck it with: crashfix service status")


def _install_unit(spec: ServiceSpec, run: Runner, unit_dir: Path | None) -> str:
    unit = (unit_dir or UNIT_DIR) / f"{spec.name}.service"
    env_file = Path(spec.env_file)
    try:
        unit.write_text(files.systemd_unit(spec), encoding="utf-8")
        created = not env_file.exists()
        if created:
            env_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(files.ENV_FILE_TEXT)
    except OSError as error:
        raise CrashfixError(f"cannot write {error.filename or unit}: {error.strerror}", "run it with sudo") from None
    _checked(run, ["systemctl", "daemon-reload"], "systemctl daemon-reload")
    _checked(run, ["systemctl", "enable", "--now", f"{spec.name}.service"], f"starting {spec.name}")
    token = (f"put GITHUB_TOKEN=<token> into {env_file} (created now, readable by root only), then "
             f"`systemctl restart {spec.name}`" if created or "GITHUB_TOKEN=" not in _read(env_file)
             else f"the token comes from {env_file}")
    return (f"installed and started {unit}: runs as {spec.account}, restarted whenever it exits "
            f"(except exit codes {', '.join(map(str, files.NO_RESTART_CODES))}, which need a person).\n"
            f"config {spec.config}, state folder {spec.state_dir}\n{token}.\nCheck it with: crashfix service status")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def uninstall(name: str, platform: Platform, *, run: Runner = run_tool, unit_dir: Path | None = None) -> str:
    """Stop and remove the service; its state folder (spool, logs) is kept."""
    if platform == "windows":
        if registered(name, platform, run=run) is None:
            return f"there is no scheduled task {name}"
        _checked(run, ["schtasks", "/End", "/TN", name], f"stopping the scheduled task {name}")
        _checked(run, ["schtasks", "/Delete", "/TN", name, "/F"], f"deleting the scheduled task {name}")
        return f"stopped and removed the scheduled task {name} (its state folder is kept)"
    unit = (unit_dir or UNIT_DIR) / f"{name}.service"
    if not unit.exists():
        return f"{unit} is not installed"
    _checked(run, ["systemctl", "disable", "--now", f"{name}.service"], f"stopping {name}")
    try:
        unit.unlink()
    except OSError as error:
        raise CrashfixError(f"cannot remove {unit}: {error.strerror}", "run it with sudo") from None
    _checked(run, ["systemctl", "daemon-reload"], "systemctl daemon-reload")
    return f"stopped and removed {unit} (its state folder and {files.ENV_FILE} are kept)"


@dataclass(frozen=True)
class ServiceState:
    installed: bool
    running: bool = False
    detail: str = ""
    registered: Registered | None = None
    last_result: int | None = None


def registered(name: str, platform: Platform, *, run: Runner = run_tool,
               unit_dir: Path | None = None) -> Registered | None:
    """What the registered service runs with, or None when it is not registered."""
    if platform == "linux":
        unit = (unit_dir or UNIT_DIR) / f"{name}.service"
        return files.read_unit(unit.read_text(encoding="utf-8")) if unit.is_file() else None
    try:
        query = run(["schtasks", "/Query", "/TN", name, "/XML"], None)
    except OSError:
        return None
    return files.read_task_xml(_text(query.stdout)) if query.ok else None


def status(name: str, platform: Platform, *, run: Runner = run_tool, unit_dir: Path | None = None) -> ServiceState:
    """Whether the service is registered and running, and what it runs with."""
    found = registered(name, platform, run=run, unit_dir=unit_dir)
    if found is None:
        where = f"scheduled task {name}" if platform == "windows" else str((unit_dir or UNIT_DIR) / f"{name}.service")
        return ServiceState(False, detail=f"no {where}")
    try:
        if platform == "windows":
            return _task_status(name, run, found)
        return _unit_status(name, run, found)
    except OSError as error:
        return ServiceState(True, False, f"its state cannot be read here ({error.strerror or error})", found)


def _task_status(name: str, run: Runner, found: Registered) -> ServiceState:
    script = (f"$t = Get-ScheduledTask -TaskName '{name}' -ErrorAction Stop; $i = $t | Get-ScheduledTaskInfo; "
              "@{state = [string]$t.State; last = $i.LastTaskResult; when = [string]$i.LastRunTime} | ConvertTo-Json")
    info = run(["powershell", "-NoProfile", "-NonInteractive", "-Command", script], None)
    try:
        data = json.loads(_text(info.stdout)) if info.ok else {}
    except ValueError:
        data = {}
    state = str(data.get("state") or "unknown")
    last = data.get("last") if isinstance(data.get("last"), int) else None
    detail = f"task {state.lower()}"
    if last is not None and state != "Running":
        detail += f"; last run {data.get('when') or '?'}: {RESULTS.get(last, f'exit code {last}')}"
    return ServiceState(True, state == "Running", detail, found, last)


def _unit_status(name: str, run: Runner, found: Registered) -> ServiceState:
    shown = run(["systemctl", "show", f"{name}.service", "--property=ActiveState,SubState,ExecMainStatus"], None)
    values = dict(line.partition("=")[::2] for line in _text(shown.stdout).splitlines() if "=" in line)
    active = values.get("ActiveState", "unknown")
    code = int(values["ExecMainStatus"]) if values.get("ExecMainStatus", "").isdigit() else None
    detail = f"{active} ({values.get('SubState', '?')})"
    if active != "active" and code:
        detail += f"; last exit: {RESULTS.get(code, f'exit code {code}')}"
    return ServiceState(True, active == "active", detail, found, code)


def installed_paths(platform: Platform | None = None, *, run: Runner = run_tool,
                    unit_dir: Path | None = None) -> Registered | None:
    """The config and state folder of the installed watcher service, if there is one (for `crashfix status`)."""
    platform = platform or this_platform()
    try:
        return registered(DEFAULT_NAME[platform], platform, run=run, unit_dir=unit_dir)
    except (OSError, ValueError):
        return None

"""`crashfix doctor --host`: is this server ready to file its crashes? The twin of `crashfix doctor`.

Each line is ok, warn, failed (with the fix) or skipped (does not apply here, or could not
run because an earlier check failed). Nothing is written and nothing is filed; GitHub is
only read. The config is the one given, else the one the installed service runs with.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crashfix import paths, procs
from crashfix.config import Config, UploaderSettings, load_config
from crashfix.errors import CrashfixError, ParseError
from crashfix.github import credentials
from crashfix.setup import service
from crashfix.setup.checks import Check, failed, ok, skipped, warn
from crashfix.setup.pdb_lookup import HttpProbe, find_pdb
from crashfix.setup.preflight import TOKEN_NEEDS, check_repository, check_state_folder, token_hint
from crashfix.uploader.cdb import find_cdb
from crashfix.uploader.watcher import DUMP_SUFFIXES, matches, scan

PDB_FIX = ("keep every build's PDB where CDB looks: after each build, `symstore add /f worldserver.pdb /s D:\\symbols "
           "/t worldserver` (Windows SDK) and put srv*D:\\symbols in the symbol path")


@dataclass
class HostContext:
    config_path: Path | None
    config: Config
    environ: Mapping[str, str]
    windows: bool
    probe: HttpProbe
    service: service.ServiceState | None = None
    token: str | None = None


def check_config(path: Path | None, origin: str) -> tuple[Check, Config | None]:
    if path is None:
        return failed("config", "no config given and no installed service names one",
                      "pass --config crashfix.toml (the host's config with [uploader] repo and directories)"), None
    try:
        config = load_config(path)
    except CrashfixError as error:
        return failed("config", error.one_line(), f"correct {path}"), None
    missing = [key for key in ("repo", "directories") if not getattr(config.uploader, key)]
    if missing:
        return failed("config", f"{path} sets no [uploader] {' or '.join(missing)}",
                      f"add them to {path}: the service runs `crashfix watch --config` with nothing else"), config
    return ok("config", f"{path}{origin}"), config


def check_token(context: HostContext) -> Check:
    found = credentials.find_token(context.environ)
    if not found.token:
        return failed("GitHub token", f"GITHUB_TOKEN is not set, and {found.source} {found.problem}",
                      token_hint(found.available))
    context.token = found.token
    from crashfix.github.connect import client_from

    client = client_from({**context.environ, "GITHUB_TOKEN": found.token}, retries=1, max_rate_wait=0.0)
    try:
        login = client.login()
    except CrashfixError as error:
        context.token = None
        return failed("GitHub token", f"from {found.source}: {error.one_line()}",
                      f"`crashfix login` with {TOKEN_NEEDS}")
    scopes = client.token_scopes()
    if found.token.startswith("github_pat_"):
        return ok("GitHub token", f"{login}'s fine-grained token, from {found.source} (GitHub does not list its "
                                  "permissions: it needs Issues: read and write on the repository)")
    if scopes is not None and not {"repo", "public_repo"} & set(scopes):
        return failed("GitHub token", f"{login}'s classic token, from {found.source}, has the scopes "
                                      f"{', '.join(scopes) or 'none'}: it may not write issues",
                      "give it the `repo` scope (`public_repo` for a public repository), or use a fine-grained token")
    listed = f" with the scopes {', '.join(scopes)}" if scopes else ""
    return ok("GitHub token", f"{login}'s token{listed}, from {found.source}")


def check_repo(context: HostContext) -> Check:
    name = context.config.uploader.repo
    if not name or context.token is None:
        return skipped("repository", "needs the config and a working token")
    try:
        check_repository(name, {**context.environ, "GITHUB_TOKEN": context.token}, "the token")
    except CrashfixError as error:
        return failed("repository", error.message, error.hint or "")
    return ok("repository", f"{name} is readable and writable with the token")


def check_folders(settings: UploaderSettings) -> tuple[Check, Path | None]:
    """The crash folders, and the newest dump in them (for the PDB check)."""
    folders = [Path(folder) for folder in settings.directories]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        return failed("crash folders", f"not found: {', '.join(missing)}",
                      "create or mount them, or correct [uploader] directories"), None
    patterns = tuple(settings.dump_patterns) + tuple(settings.text_patterns)
    crashes = [path for path in scan(folders, settings.recursive) if matches(path, patterns)]
    dumps = [path for path in crashes if path.suffix.lower() in DUMP_SUFFIXES]
    newest = max(dumps, key=lambda path: path.stat().st_mtime, default=None)
    return ok("crash folders", f"{', '.join(map(str, folders))}: {len(crashes)} crash file(s), {len(dumps)} dump(s)"), \
        newest


def check_cdb(context: HostContext) -> Check:
    cdb = context.config.uploader.cdb
    if not context.windows or not cdb.enabled:
        return skipped("CDB", "CDB is disabled in [uploader.cdb]" if not cdb.enabled else
                       "not Windows: crash logs, gdb output and minidumps are read without CDB")
    found = find_cdb(cdb, context.environ)
    if not found:
        return failed("CDB", f"{cdb.path or 'cdb.exe'} not found", "install the Debugging Tools for Windows (a "
                      "feature of the Windows SDK installer), or set [uploader.cdb] path")
    try:
        result = procs.run([found, "-version"], timeout=60)
        version = re.search(r"version\s+([\d.]+)", result.stdout.decode("utf-8", "replace"), re.IGNORECASE)
    except OSError as error:
        return failed("CDB", f"{found} does not start ({error.strerror or error})", "reinstall the Debugging Tools")
    return ok("CDB", f"{found}" + (f", version {version.group(1)}" if version else " (version not printed)"))


def check_symbols(context: HostContext, newest_dump: Path | None) -> list[Check]:
    if not context.windows or not context.config.uploader.cdb.enabled:
        why = "CDB is not used here"
        return [skipped("symbol path", why), skipped("PDB of the newest dump", why)]
    symbols = context.config.uploader.cdb.symbol_path or context.environ.get("_NT_SYMBOL_PATH")
    if not symbols:
        return [failed("symbol path", "neither [uploader.cdb] symbol_path nor _NT_SYMBOL_PATH is set",
                       "e.g. symbol_path = \"srv*D:/symbols*https://msdl.microsoft.com/download/symbols\""),
                skipped("PDB of the newest dump", "no symbol path")]
    return [ok("symbol path", symbols), check_pdb(newest_dump, symbols, context.probe)]


def check_pdb(dump: Path | None, symbols: str, probe: HttpProbe) -> Check:
    name = "PDB of the newest dump"
    if dump is None:
        return skipped(name, "no dump in the crash folders yet")
    from crashfix.analysis.analyze import analyze_path
    from crashfix.analysis.models import SourceFormat

    try:
        report = analyze_path(dump, SourceFormat.MINIDUMP)
    except ParseError as error:
        return warn(name, f"{dump.name} cannot be read: {error.message}")
    own = [module for module in report.modules if module.debug_id and module.debug_file
           and re.search(r"[\\/]", module.debug_file)]  # the project's own builds record the PDB's full path
    module = next((m for m in own if m.name == report.faulting_module), own[0] if own else None)
    if module is None or not module.debug_file or not module.debug_id:
        return warn(name, f"{dump.name} names no module with a PDB")
    lookup = find_pdb(module.debug_file, module.debug_id, symbols, probe)
    if lookup.found:
        return ok(name, f"{module.name} of {dump.name}: {lookup.found}")
    other = f"; {', '.join(lookup.mismatched)} belong(s) to another build" if lookup.mismatched else ""
    return failed(name, f"{module.name} of {dump.name} needs {module.debug_file} {module.debug_id}, not found in "
                        f"{', '.join(lookup.looked) or 'the symbol path'}{other}", PDB_FIX)


def check_state(settings: UploaderSettings, environ: Mapping[str, str], registered: str | None) -> Check:
    """The service's state folder (baked into its command line), else the config's, else the default."""
    folder = Path(registered) if registered else settings.state_dir or paths.state_dir(dict(environ))
    try:
        check_state_folder(folder)
    except CrashfixError as error:
        return failed("state folder", error.message, error.hint or "")
    return ok("state folder", f"{folder} is writable")


def check_service(context: HostContext) -> Check:
    state = context.service
    if state is None or not state.installed:
        return warn("service", f"not installed ({state.detail if state else 'not looked for'})",
                    "crashfix service install --config <this config> --account <the account it runs as>")
    if state.running:
        return ok("service", state.detail)
    return failed("service", state.detail, "crashfix service status; fix what its last exit says, then start it again")


def run_host_checks(config_path: Path | None, environ: Mapping[str, str], *, windows: bool = os.name == "nt",
                    probe: HttpProbe | None = None, found: service.ServiceState | None = None) -> list[Check]:
    origin = ""
    if config_path is None and found is not None and found.registered and found.registered.config:
        config_path, origin = Path(found.registered.config), " (the installed service's config)"
    config_check, config = check_config(config_path, origin)
    context = HostContext(config_path, config or Config(), environ, windows, probe or http_probe, found)
    checks = [config_check, check_token(context), check_repo(context)]
    settings = context.config.uploader
    newest: Path | None = None
    if config is not None and settings.directories:
        folders, newest = check_folders(settings)
        checks.append(folders)
    else:
        checks.append(skipped("crash folders", "the config names none"))
    registered = found.registered.state_dir if found is not None and found.registered else None
    checks += [check_cdb(context), *check_symbols(context, newest), check_state(settings, environ, registered),
               check_service(context)]
    return checks


def http_probe(url: str) -> bool:
    """Whether a symbol server has the file (HEAD, following redirects; a short timeout)."""
    import requests

    try:
        return requests.head(url, allow_redirects=True, timeout=10).status_code == 200
    except requests.RequestException:
        return False

"""The uploader commands' shared pieces (`crashfix watch`, `file`, `status`): their options, the settings
from the config file with flags on top, and the argv of the watcher's own filing process."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pydantic import ValidationError

from crashfix.config import Config, UploaderSettings
from crashfix.errors import UsageError
from crashfix.github.connect import checked_repo_name


def uploader_settings(config: Config, repo: str | None, directories: tuple[Path, ...], state: Path | None,
                       cdb: str | None, symbol_path: str | None) -> UploaderSettings:
    """The config file's [uploader] section with command-line flags on top."""
    settings = config.uploader
    updates: dict[str, object] = {}
    if repo:
        updates["repo"] = repo
    if directories:
        updates["directories"] = directories
    if state:
        updates["state_dir"] = state
    if cdb or symbol_path:
        updates["cdb"] = settings.cdb.model_copy(update={k: v for k, v in (("path", cdb), ("symbol_path", symbol_path))
                                                         if v})
    if repo:
        checked_repo_name(repo)
    settings = settings.model_copy(update=updates)
    try:
        return UploaderSettings.model_validate(settings.model_dump())
    except ValidationError as error:
        first = error.errors()[0]
        raise UsageError(f"{'.'.join(map(str, first['loc']))}: {first['msg'].removeprefix('Value error, ')}") from None


def uploader_options(function):  # type: ignore[no-untyped-def]
    for option in reversed([
        click.option("--repo", help="OWNER/NAME of the repository that gets the issues."),
        click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="crashfix.toml"),
        click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False),
                     help="Spool and logs (default: $CRASHFIX_STATE_DIR or the user state folder)."),
        click.option("--cdb", help="Path to cdb.exe (default: PATH, then the Windows Kits folders)."),
        click.option("--symbol-path", help="Symbol path for CDB (default: _NT_SYMBOL_PATH)."),
        click.option("-v", "--verbose", is_flag=True, help="Log debug details."),
    ]):
        function = option(function)
    return function


def filing_argv(config: Path | None, settings: UploaderSettings, folder: Path, cdb: str | None,
                 symbol_path: str | None, verbose: bool) -> list[str]:
    """The watcher's own filing process: this crashfix, with the same settings."""
    argv = [sys.executable, "-m", "crashfix", "watch", "--filing-process", "--repo", settings.repo or "",
            "--state-dir", str(folder)]
    for flag, value in (("--config", config), ("--cdb", cdb), ("--symbol-path", symbol_path)):
        if value:
            argv += [flag, str(value)]
    return argv + (["-v"] if verbose else [])

"""crashfix's configuration: one typed, frozen object built once from a TOML file.

Only the CLI reads the environment and decides which file to load; everything else
receives the resulting `Config`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crashfix.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalysisSettings(Section):
    """Project additions to the frame skip list (see crashfix/data/skip_frames.txt)."""

    skip_functions: tuple[str, ...] = Field(default=(), description="Regexes on function names.")
    skip_modules: tuple[str, ...] = Field(default=(), description="Regexes on module names (lowercase, no extension).")
    skip_files: tuple[str, ...] = Field(default=(), description="Regexes on source paths (forward slashes).")


DEFAULT_CDB_COMMAND = ("{cdb}", "-z", "{dump}", "-lines", "-c", "!analyze -v; .ecxr; kn 64; q")


class CdbSettings(Section):
    """How the uploader runs CDB on a new dump (Windows)."""

    path: str | None = Field(default=None, description="cdb.exe; default: PATH, then the Windows Kits folders.")
    command: tuple[str, ...] = Field(
        default=DEFAULT_CDB_COMMAND, description="Argument template; {cdb} and {dump} are filled in."
    )
    symbol_path: str | None = Field(
        default=None, description="Symbol path for CDB; default: _NT_SYMBOL_PATH from the environment."
    )
    timeout_seconds: float = Field(default=600.0, gt=0, description="Kill CDB and its children after this.")
    enabled: bool = True


class UploaderSettings(Section):
    """`crashfix watch` / `crashfix file`: where crashes appear and how they are filed."""

    repo: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$", description="OWNER/NAME of the repository.")
    directories: tuple[Path, ...] = ()
    dump_patterns: tuple[str, ...] = ("*.dmp", "*.mdmp")
    text_patterns: tuple[str, ...] = ("*.txt", "*.log")
    recursive: bool = False
    host_name: str | None = Field(default=None, description="How this machine appears in issues; default: hostname.")
    labels: tuple[str, ...] = ("crash",)
    regression_label: str = "regression"
    low_quality_label: str = "crashfix:low-quality"
    source_roots: tuple[str, ...] = Field(
        default=(), description="Build-machine path prefixes to strip when linking frames to the repository."
    )
    settle_seconds: float = Field(default=0.25, gt=0, description="A file is complete when unchanged this long.")
    rescan_interval_seconds: float = Field(default=30.0, gt=0)
    comment_interval_seconds: float = Field(default=3600.0, ge=0, description="At most one repeat comment per issue.")
    write_interval_seconds: float = Field(default=1.0, ge=0, description="Spacing of GitHub writes (GitHub asks 1 s).")
    retry_initial_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    once_give_up_seconds: float = Field(default=120.0, ge=0, description="--once: stop retrying GitHub after this.")
    retention_days: float = Field(default=30.0, gt=0, description="Keep filed spool entries this long.")
    state_dir: Path | None = None
    cdb: CdbSettings = CdbSettings()


class Config(Section):
    analysis: AnalysisSettings = AnalysisSettings()
    uploader: UploaderSettings = UploaderSettings()


def load_config(path: Path | None) -> Config:
    """The config in `path`, or the defaults when no file is given."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"config file {path}: {where}: {first['msg']}") from None

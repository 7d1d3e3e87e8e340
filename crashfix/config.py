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


class Config(Section):
    analysis: AnalysisSettings = AnalysisSettings()


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

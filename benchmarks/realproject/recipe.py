"""A per-project recipe (benchmarks/recipes/<project>.toml): how to build and test one real project.

    [project]
    name = "ddnet"                 # the recipe's name; the case's repo is checked against `repository`
    repository = "ddnet/ddnet"
    apt = ["cmake", "ninja-build"] # Debian packages the build needs (printed; installed by you)
    fix_files = []                 # files that belong to the fix; default: the case's fixed_files
    notes = ["..."]                # printed with the settings: what was left out and why

    [fix]                          # written as the checkout's .github/crashfix.toml [fix] section
    build = [["cmake", "-S", "{checkout}", "-B", "{build_dir}", "-G", "Ninja"], ...]
    test = [["{build_dir}/testrunner"]]
    build_dir = "{work}/build-dir" # {work}: the benchmark's --work folder, {jobs}: --jobs
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@dataclass(frozen=True)
class Recipe:
    path: Path
    name: str
    repository: str
    apt: tuple[str, ...]
    fix_files: tuple[str, ...]
    notes: tuple[str, ...]
    fix: dict[str, Any]

    def config_text(self, work: Path, jobs: int, overrides: dict[str, Any]) -> str:
        """The `.github/crashfix.toml` for the export: `[fix]` with {work} and {jobs} filled in."""
        fix = _fill({**self.fix, **overrides}, {"{work}": work.as_posix(), "{jobs}": str(jobs)})
        budget = fix.pop("budget", {})
        lines = ["[fix]", *(f"{key} = {json.dumps(value)}" for key, value in fix.items())]
        if budget:
            lines += ["", "[fix.budget]", *(f"{key} = {json.dumps(value)}" for key, value in budget.items())]
        return "\n".join(lines) + "\n"


def _fill(value: Any, table: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in table.items():
            value = value.replace(key, text)
        return value
    if isinstance(value, list):
        return [_fill(item, table) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, table) for key, item in value.items()}
    return value


def load_recipe(path: Path) -> Recipe:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"recipe {path}: {error}") from None
    project, fix = data.get("project", {}), data.get("fix", {})
    if not fix.get("build") and not fix.get("test"):
        raise SystemExit(f"recipe {path}: [fix] needs build and/or test commands")
    return Recipe(path=path, name=project.get("name", path.stem), repository=project.get("repository", ""),
                  apt=tuple(project.get("apt", ())), fix_files=tuple(project.get("fix_files", ())),
                  notes=tuple(project.get("notes", ())), fix=fix)


def recipe_for(case: dict[str, Any], explicit: Path | None) -> Recipe:
    if explicit is not None:
        return load_recipe(explicit)
    name = str(case.get("repo", "")).rsplit("/", 1)[-1].lower()
    path = RECIPES / f"{name}.toml"
    if not path.is_file():
        raise SystemExit(f"no recipe for {case.get('repo')!r}: write {path} or pass --recipe FILE")
    return load_recipe(path)

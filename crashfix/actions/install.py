"""Installs crashfix from the action's own checkout into a virtual environment of its own.

The composite action (`action.yml`) runs this file by path, before crashfix exists on the
runner, so it uses the standard library only. The environment lives in the runner's tool
cache under a key made from crashfix's source files, so a changed checkout never reuses a
stale environment; on a self-hosted runner, which builds model-written code as the same
user, it is made anew for every job (see `environment_dir`). It is
isolated from the runner's Python packages and from the project being fixed.

    python crashfix/actions/install.py      # prints nothing but pip's errors; writes `crashfix=<path>`
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess  # noqa: TID251 - runs before crashfix (and its process module) is installed
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

MARKER = ".crashfix-complete"
SOURCE_SUFFIXES = (".py", ".toml", ".txt", ".md", ".yml", ".json")


def source_key(root: Path) -> str:
    """A digest of what pip would install: pyproject.toml and the package's files."""
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / "crashfix").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in SOURCE_SUFFIXES:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def self_hosted(environ: Mapping[str, str]) -> bool:
    return environ.get("RUNNER_ENVIRONMENT", "").lower() == "self-hosted"


def environment_dir(root: Path, environ: Mapping[str, str]) -> Path:
    """`$RUNNER_TOOL_CACHE/crashfix/<key>`, reused; on a self-hosted runner a fresh one in `$RUNNER_TEMP`.

    A self-hosted runner builds model-written code as the runner's user: an environment kept
    between jobs could be given a `.pth` file or a patched module by one job's build, and run
    with the next job's API key. `$RUNNER_TEMP` is emptied by the runner after every job.
    """
    key = source_key(root)[:16]
    if self_hosted(environ) and environ.get("RUNNER_TEMP"):
        return Path(environ["RUNNER_TEMP"]) / f"crashfix-env-{key}"
    base = environ.get("RUNNER_TOOL_CACHE") or environ.get("RUNNER_TEMP") or tempfile.gettempdir()
    return Path(base) / "crashfix" / key


def executable(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "crashfix.exe"
    return venv / "bin" / "crashfix"


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install(root: Path, venv: Path, python: str = sys.executable, *, no_cache: bool = False) -> Path:
    """Create the environment and install crashfix into it, unless a complete one is there.

    `no_cache`: pip's cache of built wheels lives in the user's home, where a build could plant one."""
    if (venv / MARKER).is_file() and executable(venv).is_file():
        print(f"crashfix: reusing {venv}")
        return executable(venv)
    if venv.exists():
        shutil.rmtree(venv)  # a half-made environment from an interrupted job
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *(["--no-cache-dir"] if no_cache else []), str(root)], check=True)
    (venv / MARKER).write_text(source_key(root) + "\n", encoding="utf-8")
    return executable(venv)


def main(environ: Mapping[str, str] = os.environ) -> int:
    root = Path(__file__).resolve().parents[2]  # crashfix/actions/install.py -> the checkout
    venv = environment_dir(root, environ)
    actions = environ.get("GITHUB_ACTIONS") == "true"
    if actions:
        print("::group::Install crashfix", flush=True)
    try:
        program = install(root, venv, no_cache=self_hosted(environ))
    except (OSError, subprocess.CalledProcessError) as error:
        if actions:
            print("::endgroup::")
        message = f"could not install crashfix into {venv}: {error}"
        print(f"::error::{message}" if actions else f"crashfix: error: {message}", file=sys.stderr)
        return 1
    if actions:
        print("::endgroup::")
    output = environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"crashfix={program.as_posix()}\n")
    print(f"crashfix: {program.as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

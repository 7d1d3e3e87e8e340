"""`crashfix init`: put the fix workflow, a commented config and the labels into a repository.

Idempotent like the rest of crashfix's writes: a file that is already there is left alone
(the user may have edited it) unless `--force`; labels are created only when missing.
What cannot be done from here (the API-key secret, the runner, a repository setting) is
printed as the remaining manual steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from crashfix.config import REPO_CONFIG
from crashfix.errors import UsageError

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

WORKFLOW = Path(".github") / "workflows" / "crashfix-fix.yml"
DEFAULT_RUNS_ON = ("self-hosted", "windows")
DEFAULT_TIMEOUT_MINUTES = 60
RUNNER_LABEL = re.compile(r"^[\w.:-]+$")

# name, colour, description: what the uploader and the fixer set and read.
LABELS = (
    ("crash", "b60205", "A crash filed by crashfix"),
    ("reanalyze", "1d76db", "Ask crashfix to try again (people with write access)"),
    ("regression", "d93f0b", "A fixed crash came back"),
    ("crashfix:fix-proposed", "0e8a16", "crashfix opened a draft pull request"),
    ("crashfix:needs-human", "fbca04", "crashfix found no verified fix"),
)

FileState = Literal["written", "unchanged", "kept"]


@dataclass(frozen=True)
class InitOptions:
    target: Path
    action: str  # pinned: see action_ref.resolve_action
    runs_on: tuple[str, ...] = DEFAULT_RUNS_ON
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    uploader_login: str | None = None
    force: bool = False


@dataclass
class InitResult:
    files: list[tuple[Path, FileState]] = field(default_factory=list)
    labels: list[tuple[str, bool]] = field(default_factory=list)  # name, created now
    labels_skipped: str | None = None


def _template(name: str) -> str:
    return resources.files("crashfix").joinpath("data", *name.split("/")).read_text(encoding="utf-8")


def check_options(options: InitOptions) -> None:
    bad = [label for label in options.runs_on if not RUNNER_LABEL.match(label)]
    if not options.runs_on or bad:
        raise UsageError(f"--runs-on needs runner labels separated by commas, not {','.join(bad) or 'nothing'}",
                         "e.g. --runs-on self-hosted,windows")
    if options.uploader_login is not None and not re.match(r"^[\w-]+(\[bot\])?$", options.uploader_login):
        raise UsageError(f"--uploader-login {options.uploader_login!r} is not a GitHub login")
    if not 5 <= options.timeout_minutes <= 360:
        raise UsageError("--timeout-minutes must be between 5 and 360 (GitHub's limit for a job)")


def render_workflow(action: str, runs_on: tuple[str, ...], timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES) -> str:
    labels = "[" + ", ".join(runs_on) + "]"
    return (_template("workflows/crashfix-fix.yml").replace("__CRASHFIX_ACTION__", action)
            .replace("__CRASHFIX_RUNS_ON__", labels).replace("__CRASHFIX_TIMEOUT__", str(timeout_minutes)))


def render_config(uploader_login: str | None) -> str:
    line = (f'uploader_login = "{uploader_login}"' if uploader_login
            else '# uploader_login = "crash-uploader-bot"')
    return _template("crashfix.toml").replace("__CRASHFIX_UPLOADER__", line)


def write_files(options: InitOptions) -> list[tuple[Path, FileState]]:
    """The workflow and the config; an existing, different file is kept unless `force`."""
    if not options.target.is_dir():
        raise UsageError(f"{options.target} is not a folder", "give the repository's root folder")
    wanted = {WORKFLOW: render_workflow(options.action, options.runs_on, options.timeout_minutes),
              REPO_CONFIG: render_config(options.uploader_login)}
    done: list[tuple[Path, FileState]] = []
    for relative, text in wanted.items():
        path = options.target / relative
        try:
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                done.append((relative, "unchanged"))
                continue
            if path.exists() and not options.force:
                done.append((relative, "kept"))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
        except OSError as error:
            raise UsageError(f"cannot write {path}: {error.strerror}") from None
        done.append((relative, "written"))
    return done


def create_labels(repo: RepoAPI) -> list[tuple[str, bool]]:
    """Each label crashfix uses, created if missing; (name, created now)."""
    existing = {name.casefold() for name in repo.label_names()}
    done = []
    for name, colour, description in LABELS:
        missing = name.casefold() not in existing
        if missing:
            repo.ensure_label(name, colour, description)
        done.append((name, missing))
    return done


def manual_steps(result: InitResult, options: InitOptions, repo_name: str | None) -> list[str]:
    where = f"https://github.com/{repo_name}/settings" if repo_name else "the repository's Settings"
    steps = []
    if any(state != "unchanged" for _, state in result.files):
        steps.append(f"Review, commit and push {WORKFLOW.as_posix()} and {REPO_CONFIG.as_posix()} "
                     "(the fix job reads the config from the default branch).")
    steps += [
        f"Add the repository secret ANTHROPIC_API_KEY ({where}/secrets/actions).",
        f"Register a self-hosted runner with the labels {', '.join(options.runs_on)} ({where}/actions/runners); "
        "it needs Git Bash, Python 3.10+ and your build tools. It gets a read-only token: the GitHub-hosted "
        "deliver job pushes and opens the pull request. For warm builds give it a folder outside the workspace: "
        "uncomment build_dir (and compiler_cache) in the config.",
        "So that your CI runs on crashfix's pull requests, give the deliver job a GitHub App (variable "
        "CRASHFIX_APP_ID, secret CRASHFIX_APP_PRIVATE_KEY; Contents, Issues, Pull requests: read and write) or a "
        "fine-grained token (secret CRASHFIX_DELIVER_TOKEN, the same permissions). Without either it uses the "
        f"workflow's token: then allow that to open pull requests ({where}/actions > Workflow permissions > "
        "\"Allow GitHub Actions to create and approve pull requests\"), and CI will not start on its own.",
    ]
    if result.labels_skipped:
        steps.append(f"Create the labels: {result.labels_skipped}.")
    steps.append("Run `crashfix doctor` in the repository to check everything.")
    return steps


def describe(result: InitResult, options: InitOptions, repo_name: str | None) -> str:
    lines = []
    for path, state in result.files:
        note = {"written": "written", "unchanged": "already up to date",
                "kept": "exists and differs: kept (use --force to overwrite)"}[state]
        lines.append(f"{path.as_posix()}: {note}")
    for name, created in result.labels:
        lines.append(f"label {name}: {'created' if created else 'exists'}")
    if result.labels_skipped:
        lines.append(f"labels: not created ({result.labels_skipped})")
    lines += ["", "Remaining steps:"]
    lines += [f"  {number}. {step}" for number, step in enumerate(manual_steps(result, options, repo_name), 1)]
    return "\n".join(lines)


_ORIGIN_URL = re.compile(r'^\[remote "origin"\]\s*$(?:\n(?!\[).*)*?\n\s*url\s*=\s*(\S+)', re.MULTILINE)
_OWNER_NAME = re.compile(r"^(?:[a-z+]+://[^/]+/|[\w.-]+@[\w.-]+:)([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


def repository_from_checkout(target: Path) -> str | None:
    """OWNER/NAME from the clone's `origin` URL (https or ssh), so a fresh clone needs no --repo.

    Read from `.git/config` as text: nothing is run inside a repository crashfix does not trust yet.
    """
    try:
        text = (target / ".git" / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = _ORIGIN_URL.search(text)
    name = _OWNER_NAME.search(found.group(1)) if found else None
    return f"{name.group(1)}/{name.group(2)}" if name else None

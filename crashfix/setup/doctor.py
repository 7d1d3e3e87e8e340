"""`crashfix doctor`: is this repository ready for crashfix? Each check says ok, or what failed and
the fix, so a first setup does not end in a failed Actions run. The server host's twin, with CDB,
symbols and the service, is `crashfix doctor --host` (`host_doctor`).

Nothing is written anywhere and the Anthropic API is not called (it would cost money): the
key is only checked to be present. Configured tool servers are started and asked for their
tools (`toolserver_check`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from crashfix.config import REPO_CONFIG, Config, load_config
from crashfix.errors import CrashfixError
from crashfix.github.connect import open_repository, repository_name
from crashfix.setup.action_ref import is_pinned
from crashfix.setup.checks import Check, failed, ok, skipped
from crashfix.setup.init_repo import WORKFLOW, repository_from_checkout
from crashfix.setup.workflow_check import boundary_problems

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?([^\s'\"#]+)", re.MULTILINE)


def check_config(target: Path, path: Path | None) -> tuple[Check, Config | None]:
    path = path or target / REPO_CONFIG
    if not path.is_file():
        return failed("config", f"{path} does not exist", "run `crashfix init` in the repository"), None
    try:
        config = load_config(path)
    except CrashfixError as error:
        return failed("config", error.one_line(), f"correct {path}"), None
    return ok("config", f"{path} is valid"), config


def check_workflow(target: Path) -> Check:
    path = target / WORKFLOW
    if not path.is_file():
        return failed("workflow", f"{WORKFLOW.as_posix()} does not exist", "run `crashfix init` in the repository")
    text = path.read_text(encoding="utf-8", errors="replace")
    if "pull_request_target" in text:
        return failed("workflow", "it is triggered by pull_request_target, which runs forks' code with secrets",
                      "use the `issues` trigger that `crashfix init` writes")
    loose = [uses for uses in USES.findall(text) if not is_pinned(uses)]
    if loose:
        return failed("workflow", f"actions not pinned by commit SHA: {', '.join(loose)}",
                      "pin each `uses:` to a 40-hex commit (crashfix init --force --action OWNER/REPO@SHA)")
    problems = boundary_problems(text)
    if problems:
        return failed("workflow", "; ".join(problems),
                      "install the split workflow (a read-only fix job, a GitHub-hosted deliver job): "
                      "crashfix init --force --action OWNER/REPO@SHA --runs-on YOUR,LABELS")
    return ok("workflow", f"{WORKFLOW.as_posix()} present, actions pinned, the fix job read-only and a "
                          "GitHub-hosted deliver job")


def check_commands(target: Path, config: Config, environ: Mapping[str, str]) -> Check:
    fix = config.fix
    commands = [*fix.build, *fix.test]
    if not any(commands):
        return failed("build and test", "[fix] has no build or test command, so no fix can be verified",
                      f"set [fix] build and test in {REPO_CONFIG.as_posix()}")
    found = {argv[0]: _program(argv[0], target, environ, built=index > 0)
             for index, argv in enumerate(commands) if argv}  # a program of a later step may come from an earlier one
    missing = sorted(name for name, state in found.items() if state == "missing")
    if missing:
        return failed("build and test", f"not found on this machine: {', '.join(missing)}",
                      "install them on the self-hosted runner (and here, to try `crashfix fix --local`)")
    built = sorted(name for name, state in found.items() if state == "built")
    later = f"; not there yet, made by the build: {', '.join(built)}" if built else ""
    return ok("build and test", f"{len(fix.build)} build and {len(fix.test)} test command(s); programs found{later}")


def _program(argv0: str, target: Path, environ: Mapping[str, str], *, built: bool = False) -> str:
    """"found", "missing", or "built": a path inside the checkout that a build step before it produces
    (a test runner such as build/testrunner is not there on a fresh clone, and needs no installing)."""
    argv0 = argv0.replace("{checkout}", str(target))
    if "/" in argv0 or os.sep in argv0 or "{build_dir}" in argv0:
        path = Path(argv0)
        path = path if path.is_absolute() else target / path
        if path.exists():
            return "found"
        folder = os.path.normcase(os.path.normpath(os.path.abspath(target)))
        inside = os.path.normcase(os.path.normpath(os.path.abspath(path))).startswith(folder + os.sep)
        return "built" if built and (inside or "{build_dir}" in argv0) else "missing"
    return "found" if shutil.which(argv0, path=environ.get("PATH") or os.defpath) is not None else "missing"


def check_github(repo_name: str | None, config: Config, environ: Mapping[str, str]) -> list[Check]:
    """The token opens the repository and may push; the labels crashfix uses exist."""
    labels_skipped = skipped("labels", "needs a token that opens the repository")
    if not environ.get("GITHUB_TOKEN"):
        return [failed("GitHub token", "GITHUB_TOKEN is not set",
                       "export GITHUB_TOKEN=<a token with Contents, Issues and Pull requests: read and write>"),
                labels_skipped]
    if not repo_name:
        return [failed("GitHub token", "no repository to check", "pass --repo OWNER/NAME or set [uploader] repo"),
                labels_skipped]
    try:
        repo = open_repository(repo_name, environ)
        permissions = repo.token_permissions()
        names = {name.casefold() for name in repo.label_names()}
    except CrashfixError as error:
        return [failed("GitHub token", error.one_line(), "check GITHUB_TOKEN, GITHUB_API_URL and the repository"),
                labels_skipped]
    checks = []
    if permissions is None:
        checks.append(ok("GitHub token", f"opens {repo_name}; GitHub does not report this token's permissions"))
    elif permissions.get("push"):
        checks.append(ok("GitHub token", f"opens {repo_name} with write access"))
    else:
        checks.append(failed("GitHub token", f"opens {repo_name} but may not write to it",
                             "use a token of an account with write access (the fixer pushes and opens PRs)"))
    fix, uploader = config.fix, config.uploader
    wanted = [*uploader.labels, uploader.regression_label, fix.reanalyze_label, fix.fix_proposed_label,
              fix.needs_human_label]
    absent = [name for name in dict.fromkeys(wanted) if name.casefold() not in names]
    if absent:
        checks.append(failed("labels", f"missing: {', '.join(absent)}", "run `crashfix init --repo OWNER/NAME`"))
    else:
        checks.append(ok("labels", ", ".join(dict.fromkeys(wanted))))
    return checks


def check_api_key(environ: Mapping[str, str]) -> Check:
    if environ.get("ANTHROPIC_API_KEY"):
        return ok("Anthropic API key", "ANTHROPIC_API_KEY is set (not called: that would cost money)")
    return failed("Anthropic API key", "ANTHROPIC_API_KEY is not set",
                  "add the repository secret ANTHROPIC_API_KEY; export it here to run `crashfix fix` by hand")


def run_checks(target: Path, repo: str | None, config_path: Path | None, environ: Mapping[str, str]) -> list[Check]:
    """The repository side; the server host has its own (`crashfix doctor --host`)."""
    config_check, config = check_config(target, config_path)
    checks = [config_check, check_workflow(target)]
    config = config or Config()
    if config_check.state == "ok":
        from crashfix.setup.build_check import warm_build_checks

        checks += [check_commands(target, config, environ), *warm_build_checks(target, config, environ)]
    else:
        checks.append(skipped("build and test", "the config did not load"))
    name = repository_name(repo, environ) or config.uploader.repo or repository_from_checkout(target)
    checks += check_github(name, config, environ)
    checks.append(check_api_key(environ))
    if config_check.state == "ok":
        from crashfix.setup.toolserver_check import check_tool_servers  # starts the servers: only when configured

        checks += check_tool_servers(target, config, environ)
    return checks


__all__ = ["Check", "run_checks"]

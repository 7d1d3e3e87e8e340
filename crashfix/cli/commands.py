"""The `crashfix` command line: thin commands over plain functions, one error boundary.

`main` decides exit codes and turns every failure into one line on stderr: a
`CrashfixError` into its message, anything unexpected into a pointer to the log
file where its traceback went.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crashfix import __version__, logs, paths
from crashfix.analysis.formats import FORMAT_NAMES
from crashfix.cli.help_text import FIX_ENVIRONMENT, UPLOADER_ENVIRONMENT
from crashfix.cli.host import login, logout, service
from crashfix.cli.uploader_options import filing_argv, uploader_options, uploader_settings
from crashfix.config import Config, UploaderSettings, load_config
from crashfix.errors import CrashfixError, ParseError, UsageError
from crashfix.setup import preflight

if TYPE_CHECKING:
    from crashfix.analysis.models import CrashReport

STATE_IN_USE: list[Path] = []  # the state folder of the running command: its internal errors are logged there


def log_internal_error(error: BaseException) -> Path | None:
    """Write a traceback to the internal-error log; the user sees one line pointing here.

    The log is in the state folder the command uses (`--state-dir`), else the default one.
    """
    for path in [folder / "logs" / "internal-errors.log" for folder in STATE_IN_USE] + [paths.internal_error_log()]:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
                log.write("\n")
        except OSError:
            continue
        return path
    return None


def internal_error_message(error: BaseException) -> str:
    where = log_internal_error(error)
    detail = f"; the traceback is in {where}" if where else ""
    return f"internal error ({type(error).__name__}: {error}) — this is a bug in crashfix{detail}"


def example_paths() -> list[Path]:
    """The crash outputs shipped with crashfix, real crashes of its test game server."""
    folder = resources.files("crashfix").joinpath("examples")
    return sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith((".txt", ".log")))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="crashfix")
@click.pass_context
def cli(context: click.Context) -> None:
    """crashfix: from a C++ server crash to a reviewed draft pull request."""
    if context.invoked_subcommand is None:  # bare `crashfix`: the help, and success
        click.echo(context.get_help())


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input file, one per line.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), help="Skip detection; parse as this format.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="crashfix.toml with [analysis] rules.")
@click.option("--example", is_flag=True, help="Analyse the example crashes shipped with crashfix.")
def analyze(paths: tuple[Path, ...], as_json: bool, fmt: str | None, config: Path | None, example: bool) -> None:
    """Analyse crash files: exception, blamed frame, signature, top frames."""
    from crashfix.analysis.analyze import analyze_path, rules_for  # the parsers load only for this command
    from crashfix.analysis.models import SourceFormat
    from crashfix.analysis.render import summary

    targets = list(paths) + (example_paths() if example else [])
    if not targets:
        raise UsageError("give at least one crash file to analyse", hint="or try: crashfix analyze --example")
    rules = rules_for(load_config(config).analysis)
    source_format = SourceFormat(fmt) if fmt else None
    failed = 0
    for path in targets:
        report: CrashReport | None = None
        error: str | None = None
        try:
            report = analyze_path(path, source_format, rules)
        except CrashfixError as problem:
            error = problem.one_line()
        except Exception as problem:  # noqa: BLE001 - the error boundary: one line, traceback to the log
            error = internal_error_message(problem)
        if error is not None:
            failed += 1
            if as_json:
                click.echo(json.dumps({"path": str(path), "error": error}))
            else:
                click.echo(f"{path}: error: {error}", err=True)
            continue
        assert report is not None
        if as_json:
            click.echo(json.dumps({"path": str(path), **report.model_dump(mode="json")}))
        else:
            click.echo(summary(str(path), report))
            click.echo()
    if failed:
        raise SystemExit(ParseError.exit_code)


def _uploader_start(config: Path | None, repo: str | None, directories: tuple[Path, ...], state_dir: Path | None,
                    cdb: str | None, symbol_path: str | None, verbose: bool,
                    patient: bool = False) -> tuple[Config, UploaderSettings, Path]:
    """Settings from the config file and flags; logging to the state folder, which internal errors use too."""
    from crashfix.uploader.commands import start_logging, state_folder

    loaded = load_config(config)
    settings = uploader_settings(loaded, repo, directories, state_dir, cdb, symbol_path)
    if not settings.repo:
        raise UsageError("no repository to file into", hint="pass --repo OWNER/NAME or set [uploader] repo")
    folder = state_folder(settings)
    STATE_IN_USE[:] = [folder]
    start_logging(folder, verbose, patient=patient)
    return loaded, settings, folder


@cli.command(epilog=UPLOADER_ENVIRONMENT)
@click.argument("directories", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--once", is_flag=True, help="File what is there now, then exit (non-zero if something was not filed).")
@click.option("--filing-process", is_flag=True, hidden=True, help="Internal: the watcher's filing process.")
@uploader_options
def watch(directories: tuple[Path, ...], once: bool, filing_process: bool, repo: str | None, config: Path | None,
          state_dir: Path | None, cdb: str | None, symbol_path: str | None, verbose: bool) -> None:
    """Watch crash folders and file one GitHub issue per distinct crash."""
    from crashfix.uploader import commands

    if filing_process:
        loaded = load_config(config)
        settings = uploader_settings(loaded, repo, (), state_dir, cdb, symbol_path)
        STATE_IN_USE[:] = [commands.state_folder(settings)]
        logs.setup(None, verbose=verbose)  # its lines reach the watcher's log through the watcher
        raise SystemExit(commands.run_filing_process(settings, loaded.analysis, loaded.notify, os.environ))
    loaded, settings, folder = _uploader_start(config, repo, directories, state_dir, cdb, symbol_path, verbose,
                                               patient=not once)
    if not settings.directories:
        raise UsageError("no folder to watch", hint="pass folders, or set [uploader] directories")
    folders = [Path(d) for d in settings.directories]
    from crashfix.uploader.lock import StateFolderBusy, holder

    busy = holder(folder)
    if busy is not None:  # refused at once, before GitHub is asked anything (run_watch takes the lock itself)
        raise StateFolderBusy(folder, busy)
    environ = preflight.uploader_start(settings, os.environ, folders)  # token, repository, folders: fail fast
    stop = threading.Event()
    try:
        result = commands.run_watch(settings, loaded.analysis, loaded.notify, folders, environ, once=once,
                                    filer_argv=filing_argv(config, settings, folder, cdb, symbol_path, verbose),
                                    stop=stop)
    except KeyboardInterrupt:
        stop.set()
        click.echo("stopped", err=True)
        return
    if result is not None:
        code, message = result
        click.echo(message, err=code != 0)
        raise SystemExit(code)


@cli.command("file", epilog=UPLOADER_ENVIRONMENT)
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--example", is_flag=True, help="File a crash shipped with crashfix (a smoke test of the setup).")
@click.option("--dry-run", is_flag=True, help="Analyse and show the issue it would file; write and send nothing.")
@uploader_options
def file_command(path: Path | None, example: bool, dry_run: bool, repo: str | None, config: Path | None,
                 state_dir: Path | None, cdb: str | None, symbol_path: str | None, verbose: bool) -> None:
    """File one crash (a dump or crash log, with its same-named siblings)."""
    from crashfix.uploader.commands import run_file

    loaded = load_config(config)
    uploader_settings(loaded, repo, (), state_dir, cdb, symbol_path)  # --repo and the config first: one line each
    if example == (path is not None):
        raise UsageError("give one crash file, or --example", "e.g. crashfix file --example --dry-run")
    path = path or next(p for p in example_paths() if "null-target" in p.name)
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    if dry_run:
        from crashfix.setup.smoke import preview

        loaded = load_config(config)
        settings = uploader_settings(loaded, repo, (), state_dir, cdb, symbol_path)
        click.echo(preview(path, settings, loaded.analysis, dict(os.environ)))
        return
    loaded, settings, _ = _uploader_start(config, repo, (), state_dir, cdb, symbol_path, verbose)
    environ = preflight.uploader_start(settings, os.environ)  # token and repository: fail fast
    code, message = run_file(settings, loaded.analysis, loaded.notify, path, environ)
    click.echo(message, err=code != 0)
    raise SystemExit(code)


@cli.command()
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="crashfix.toml")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), help="The uploader's state folder.")
def status(config: Path | None, state_dir: Path | None) -> None:
    """The uploader's queue, last activity, failures, and whether a watcher runs."""
    from crashfix.uploader.status import describe_status

    if config is None and state_dir is None:  # the installed service's, when there is one
        from crashfix.setup.service import installed_paths

        found = installed_paths()
        state_dir = Path(found.state_dir) if found and found.state_dir else None
        config = Path(found.config) if found and found.config and state_dir is None else None
    settings = load_config(config).uploader
    directory = state_dir or settings.state_dir or paths.state_dir()
    click.echo(describe_status(directory, time.time()))


@cli.command(epilog=FIX_ENVIRONMENT)
@click.option("--issue", type=int, help="The crash issue to fix.")
@click.option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY).")
@click.option("--checkout", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="A clone of the repository to work in.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="With --local: the crash file to fix.")
@click.option("--local", is_flag=True, help="No GitHub at all: fix --report on a local branch.")
@click.option("--dry-run", is_flag=True, help="Everything but push, pull request, labels and comments.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (default: <checkout>/.github/crashfix.toml).")
@click.option("--model", help="Override [fix] model.")
@click.option("--max-cost", "max_cost", type=float, help="Override [fix.budget] max_cost_usd.")
@click.option("--remote", default="origin", show_default=True, help="The git remote to push to.")
@click.option("--bundle-out", "bundle_out", type=click.Path(path_type=Path, file_okay=False),
              help="The fix job of the split workflow: write nothing to GitHub, leave the result in this folder "
                   "for `crashfix deliver`.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def fix(issue: int | None, repo: str | None, checkout: Path, report: Path | None, local: bool, dry_run: bool,
        config: Path | None, model: str | None, max_cost: float | None, remote: str, bundle_out: Path | None,
        as_json: bool, verbose: bool) -> None:
    """Turn a crash issue into a built, tested draft PR (or say on the issue why not)."""
    from crashfix.fixer.console import run_fix_command
    from crashfix.fixer.job import FixOptions

    options = FixOptions(checkout=checkout, issue=issue, repo=repo, report=report, local=local, dry_run=dry_run,
                         config=config, model=model, max_cost_usd=max_cost, remote=remote, bundle_out=bundle_out)
    raise SystemExit(run_fix_command(options, as_json=as_json, verbose=verbose))


@cli.command()
@click.option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY, then [uploader] repo).")
@click.option("--since", help="Only crash issues filed since a date (2026-11-01), a time, or an age (30d).")
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON, for scripts.")
@click.option("--markdown", is_flag=True, help="A Markdown table (for $GITHUB_STEP_SUMMARY).")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write one self-contained HTML page with charts.")
@click.option("--json-file", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the JSON to this file.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="crashfix.toml (labels, branches).")
def stats(repo: str | None, since: str | None, as_json: bool, markdown: bool, html_path: Path | None,
          json_path: Path | None, config: Path | None) -> None:
    """Is the autonomous loop working? Figures computed from the crash issues, comments and PRs on GitHub."""
    from crashfix.stats import page
    from crashfix.stats import render as stats_render
    from crashfix.stats.collect import gather

    result = gather(repo, since, os.environ, load_config(config))
    for path, write in ((html_path, page.render), (json_path, stats_render.as_json)):
        if path is None:
            continue
        try:
            path.write_text(write(result), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {path}: {error.strerror}") from None
    render = stats_render.as_json if as_json else stats_render.markdown if markdown else stats_render.terminal
    click.echo(render(result), nl=False)


def event_options(function):  # type: ignore[no-untyped-def]
    """The options of the workflow's GitHub-hosted steps: the event's issue, the repository, where the config is."""
    for option in reversed([
        click.option("--issue", type=int, required=True, help="The issue of the triggering event."),
        click.option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)."),
        click.option("--checkout", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
                     help="A checkout of the default branch: where .github/crashfix.toml is (nothing in it runs)."),
        click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                     help="Config file (default: <checkout>/.github/crashfix.toml)."),
    ]):
        function = option(function)
    return function


@cli.command()
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The fix job's result folder (the downloaded artifact).")
@event_options
@click.option("--fix-result", help="The fix job's result (success, failure, cancelled), said when it left none.")
@click.option("--dry-run", is_flag=True, help="Check and commit the result, but push and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def deliver(bundle_dir: Path, issue: int, repo: str | None, checkout: Path, config: Path | None,
            fix_result: str | None, dry_run: bool, as_json: bool) -> None:
    """Actions: the deliver job. Validate the fix job's result, push it and open the draft PR, or say why not."""
    from crashfix.actions import workflow
    from crashfix.fixer.deliver_job import DeliverOptions, run_deliver
    from crashfix.fixer.job import publish
    from crashfix.fixer.report import after_fix, terminal_summary

    logs.setup(paths.state_dir())
    options = DeliverOptions(bundle=bundle_dir, issue=issue, checkout=checkout, repo=repo, config=config,
                             fix_result=fix_result, dry_run=dry_run)
    with workflow.commands_off(os.environ):  # the result quotes the model: no `::` line is obeyed
        outcome, loaded = run_deliver(options, os.environ)
    publish(outcome, os.environ)
    if outcome.status == "needs-human" and workflow.in_actions(os.environ):
        workflow.error(f"crashfix: no verified fix for #{issue}: {outcome.reason}", os.environ)
    if not dry_run:
        after_fix(outcome, os.environ, loaded.notify)
    with workflow.commands_off(os.environ):
        click.echo(outcome.model_dump_json(indent=2) if as_json else terminal_summary(outcome))


@cli.command()
@event_options
@click.option("--announce", is_flag=True,
              help="When a fix starts: say so on the issue's progress comment and take the `reanalyze` label off "
                   "(the token needs Issues: write).")
def gate(issue: int, repo: str | None, checkout: Path, config: Path | None, announce: bool) -> None:
    """Actions: should the fix job start for this event? Writes the step outputs `fix` and `reason`."""
    from crashfix.actions import workflow
    from crashfix.config import repo_config_path
    from crashfix.fixer.gate_event import run_gate

    result = run_gate(issue, repo, load_config(repo_config_path(checkout, config)), os.environ, announce=announce)
    with workflow.commands_off(os.environ):  # the reason names a label: text, never a workflow command
        click.echo(f"{'run' if result.run else 'no fix'}: {result.reason}")


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--repo", help="OWNER/NAME, to create the labels (default: $GITHUB_REPOSITORY, then origin's URL).")
@click.option("--action", "action", help="The crashfix action, pinned: OWNER/REPO@<40-hex commit SHA> (default: the "
              "commit crashfix was installed from, when installed from git).")
@click.option("--runs-on", default="self-hosted,windows", show_default=True,
              help="Labels of the self-hosted runner for the fix job, separated by commas.")
@click.option("--timeout-minutes", type=int, default=60, show_default=True, help="The fix job's time limit.")
@click.option("--uploader-login", help="The account `crashfix watch` files issues as.")
@click.option("--force", is_flag=True, help="Overwrite the workflow and config even if they were edited.")
@click.option("--no-labels", is_flag=True, help="Do not create labels on GitHub.")
def init(directory: Path, repo: str | None, action: str | None, runs_on: str, timeout_minutes: int,
         uploader_login: str | None, force: bool, no_labels: bool) -> None:
    """Install the fix workflow, a commented config and the labels into a repository."""
    from crashfix.github.connect import open_repository, repository_name
    from crashfix.setup import init_repo
    from crashfix.setup.action_ref import resolve_action

    name = repository_name(repo, os.environ) or init_repo.repository_from_checkout(directory)
    options = init_repo.InitOptions(
        target=directory, action=resolve_action(action), force=force, uploader_login=uploader_login,
        runs_on=tuple(label.strip() for label in runs_on.split(",") if label.strip()),
        timeout_minutes=timeout_minutes)
    init_repo.check_options(options)
    result = init_repo.InitResult(files=init_repo.write_files(options))
    if no_labels:
        result.labels_skipped = "--no-labels was given"
    elif not os.environ.get("GITHUB_TOKEN"):
        result.labels_skipped = "no GITHUB_TOKEN to create them with; set it and run `crashfix init --repo OWNER/NAME`"
    elif not name:
        result.labels_skipped = "no repository given; run `crashfix init --repo OWNER/NAME` again"
    else:
        result.labels = init_repo.create_labels(open_repository(name, os.environ))
    click.echo(init_repo.describe(result, options, name))


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY, [uploader] repo, then origin's URL).")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (default: <directory>/.github/crashfix.toml; with --host: the service's).")
@click.option("--host", is_flag=True, help="Check this server instead: token, repository, crash folders, CDB, "
              "symbols and the newest dump's PDB, state folder, service.")
def doctor(directory: Path, repo: str | None, config: Path | None, host: bool) -> None:
    """Check a repository's setup (or with --host, this server's); each line ok, or what failed and the fix."""
    from crashfix.setup.checks import report

    if host:
        from crashfix.setup import service as services
        from crashfix.setup.host_doctor import run_host_checks

        platform = services.this_platform()
        found = services.status(services.DEFAULT_NAME[platform], platform)
        raise SystemExit(report(run_host_checks(config, os.environ, found=found), click.echo))
    from crashfix.setup.doctor import run_checks

    raise SystemExit(report(run_checks(directory, repo, config, os.environ), click.echo))


for _command in (login, logout, service):  # the host's own commands (cli/host.py)
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns every failure into one line and an exit code."""
    STATE_IN_USE.clear()  # set by the command that runs now, not by an earlier one in this process (tests)
    try:
        cli.main(args=argv, prog_name="crashfix", standalone_mode=False)
    except CrashfixError as error:
        from crashfix.actions.workflow import in_actions

        annotation = "::error::" if in_actions(os.environ) else ""  # an annotation in Actions
        click.echo(f"{annotation}crashfix: error: {error.one_line()}", err=True)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("crashfix: aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    except KeyboardInterrupt:
        click.echo("crashfix: interrupted", err=True)
        return 130
    except Exception as error:  # noqa: BLE001 - last resort: never a traceback on the terminal
        click.echo(f"crashfix: {internal_error_message(error)}", err=True)
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

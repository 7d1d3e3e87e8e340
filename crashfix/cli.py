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
from crashfix.config import AnalysisSettings, Config, NotifySettings, UploaderSettings, load_config
from crashfix.errors import CrashfixError, ParseError, UsageError

if TYPE_CHECKING:
    from crashfix.analysis.models import CrashReport


def log_internal_error(error: BaseException) -> Path | None:
    """Write a traceback to the internal-error log; the user sees one line pointing here."""
    path = paths.internal_error_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
            log.write("\n")
    except OSError:
        return None
    return path


def internal_error_message(error: BaseException) -> str:
    where = log_internal_error(error)
    detail = f"; the traceback is in {where}" if where else ""
    return f"internal error ({type(error).__name__}: {error}) — this is a bug in crashfix{detail}"


def example_paths() -> list[Path]:
    """The crash outputs shipped with crashfix, real crashes of its test game server."""
    folder = resources.files("crashfix").joinpath("examples")
    return sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith((".txt", ".log")))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crashfix")
def cli() -> None:
    """crashfix: from a C++ server crash to a reviewed draft pull request."""


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


def _uploader_settings(config: Config, repo: str | None, directories: tuple[Path, ...], state: Path | None,
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
    settings = settings.model_copy(update=updates)
    return UploaderSettings.model_validate(settings.model_dump())


def _require_repo(settings: UploaderSettings) -> str:
    if not settings.repo:
        raise UsageError("no repository to file into", hint="pass --repo OWNER/NAME or set [uploader] repo")
    return settings.repo


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


def _open_uploader(settings: UploaderSettings, analysis: AnalysisSettings,  # type: ignore[no-untyped-def]
                   notify: NotifySettings | None = None):
    """Spool and a lazily connecting filer, from settings and the environment."""
    from crashfix.analysis.analyze import rules_for
    from crashfix.notify import notifier_from
    from crashfix.uploader.filing import Filer
    from crashfix.uploader.pipeline import Uploader, host_name
    from crashfix.uploader.spool import Spool

    repo_name = _require_repo(settings)
    directory = settings.state_dir or paths.state_dir()
    spool = Spool(directory / "spool.sqlite3")
    environ = dict(os.environ)
    notifier = notifier_from(environ, notify)

    def connect() -> Filer:
        from crashfix.github.connect import client_from  # PyGithub is ~30 MB: loaded at the first crash to file

        client = client_from(environ, write_interval=settings.write_interval_seconds)
        return Filer(client.repository(repo_name), spool, settings, host_name(settings), time.time, notifier)

    return Uploader(settings, spool, connect, environ, rules_for(analysis)), directory


@cli.command()
@click.argument("directories", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--once", is_flag=True, help="File what is there now, then exit (non-zero if something was not filed).")
@uploader_options
def watch(directories: tuple[Path, ...], once: bool, repo: str | None, config: Path | None, state_dir: Path | None,
          cdb: str | None, symbol_path: str | None, verbose: bool) -> None:
    """Watch crash folders and file one GitHub issue per distinct crash."""
    loaded = load_config(config)
    settings = _uploader_settings(loaded, repo, directories, state_dir, cdb, symbol_path)
    if not settings.directories:
        raise UsageError("no folder to watch", hint="pass folders, or set [uploader] directories")
    uploader, directory = _open_uploader(settings, loaded.analysis, loaded.notify)
    log_path = logs.setup(directory, verbose=verbose)
    folders = [Path(d) for d in settings.directories]
    if once:
        code, message = uploader.run_once(folders)
        click.echo(message, err=code != 0)
        raise SystemExit(code)
    click.echo(f"watching {', '.join(map(str, folders))} for {settings.repo}; log: {log_path}", err=True)
    stop = threading.Event()
    try:
        uploader.run_forever(folders, stop)
    except KeyboardInterrupt:
        stop.set()
        click.echo("stopped", err=True)


@cli.command("file")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@uploader_options
def file_command(path: Path, repo: str | None, config: Path | None, state_dir: Path | None, cdb: str | None,
                 symbol_path: str | None, verbose: bool) -> None:
    """File one crash (a dump or crash log, with its same-named siblings)."""
    loaded = load_config(config)
    settings = _uploader_settings(loaded, repo, (), state_dir, cdb, symbol_path)
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    uploader, directory = _open_uploader(settings, loaded.analysis, loaded.notify)
    logs.setup(directory, verbose=verbose)
    code, message = uploader.file_one(path)
    click.echo(message, err=code != 0)
    raise SystemExit(code)


@cli.command()
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="crashfix.toml")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), help="The uploader's state folder.")
def status(config: Path | None, state_dir: Path | None) -> None:
    """The uploader's queue, last activity, failures, and whether a watcher runs."""
    from crashfix.uploader.status import describe_status

    settings = load_config(config).uploader
    directory = state_dir or settings.state_dir or paths.state_dir()
    click.echo(describe_status(directory, time.time()))


@cli.command()
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
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def fix(issue: int | None, repo: str | None, checkout: Path, report: Path | None, local: bool, dry_run: bool,
        config: Path | None, model: str | None, max_cost: float | None, remote: str, as_json: bool,
        verbose: bool) -> None:
    """Turn a crash issue into a built, tested draft PR (or say on the issue why not)."""
    from crashfix.fixer.job import FixOptions, build_job, load_fix_config, publish
    from crashfix.fixer.report import terminal_summary
    from crashfix.fixer.run import run_fix

    logs.setup(paths.state_dir(), verbose=verbose)
    options = FixOptions(checkout=checkout, issue=issue, repo=repo, report=report, local=local, dry_run=dry_run,
                         config=config, model=model, max_cost_usd=max_cost, remote=remote)
    from crashfix.actions import workflow

    with workflow.group(f"crashfix fix #{issue}" if issue else "crashfix fix", os.environ):
        with workflow.commands_off(os.environ):  # the log may quote the model: no `::` line is obeyed
            outcome = run_fix(build_job(options, os.environ))
    publish(outcome, os.environ)
    if outcome.status == "needs-human" and workflow.in_actions(os.environ):
        workflow.error(f"crashfix: no verified fix for #{issue}: {outcome.reason}", os.environ)
    if not dry_run:
        from crashfix.fixer.report import after_fix

        after_fix(outcome, os.environ, load_fix_config(options).notify)  # a chat message, if configured
    if as_json:  # JSON escapes newlines: no line of it can start a workflow command, and scripts parse it
        click.echo(outcome.model_dump_json(indent=2))
        return
    with workflow.commands_off(os.environ):
        click.echo(terminal_summary(outcome))


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


@cli.command()
@click.option("--issue", type=int, required=True, help="The issue of the triggering event.")
@click.option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY).")
@click.option("--checkout", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="Where .github/crashfix.toml is.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (default: <checkout>/.github/crashfix.toml).")
def gate(issue: int, repo: str | None, checkout: Path, config: Path | None) -> None:
    """Actions: should the fix job start for this event? Writes the step outputs `fix` and `reason`."""
    from crashfix.actions import workflow
    from crashfix.config import repo_config_path
    from crashfix.fixer.gate_event import run_gate

    result = run_gate(issue, repo, load_config(repo_config_path(checkout, config)), os.environ)
    with workflow.commands_off(os.environ):  # the reason names a label: text, never a workflow command
        click.echo(f"{'run' if result.run else 'no fix'}: {result.reason}")


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--repo", help="OWNER/NAME, to create the labels (default: $GITHUB_REPOSITORY, then origin's URL).")
@click.option("--action", "action", help="The crashfix action to use, pinned: OWNER/REPO@<commit SHA>.")
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

    options = init_repo.InitOptions(
        target=directory, action=action or init_repo.DEFAULT_ACTION, force=force, uploader_login=uploader_login,
        runs_on=tuple(label.strip() for label in runs_on.split(",") if label.strip()),
        timeout_minutes=timeout_minutes)
    init_repo.check_options(options)
    result = init_repo.InitResult(files=init_repo.write_files(options),
                                  action_pinned=init_repo.is_pinned(options.action))
    name = repository_name(repo, os.environ) or init_repo.repository_from_checkout(directory)
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
              help="Config file (default: <directory>/.github/crashfix.toml).")
def doctor(directory: Path, repo: str | None, config: Path | None) -> None:
    """Check the config, workflow, token, labels, API key, CDB, build commands and tool servers; each ok or the fix."""
    from crashfix.setup.doctor import report, run_checks

    raise SystemExit(report(run_checks(directory, repo, config, os.environ), click.echo))


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns every failure into one line and an exit code."""
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

"""The `crashfix` command line: thin commands over plain functions, one error boundary.

`main` decides exit codes and turns every failure into one line on stderr: a
`CrashfixError` into its message, anything unexpected into a pointer to the log
file where its traceback went.
"""

from __future__ import annotations

import json
import sys
import traceback
from importlib import resources
from pathlib import Path

import click

from crashfix import __version__
from crashfix.analysis import analyze_path, rules_for
from crashfix.config import load_config
from crashfix.errors import CrashfixError, ParseError, UsageError
from crashfix.models import CrashReport, SourceFormat
from crashfix.parsers import all_formats
from crashfix.paths import internal_error_log
from crashfix.render import summary


def log_internal_error(error: BaseException) -> Path | None:
    """Write a traceback to the internal-error log; the user sees one line pointing here."""
    path = internal_error_log()
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
@click.option("--format", "fmt", type=click.Choice(all_formats()), help="Skip detection; parse as this format.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="crashfix.toml with [analysis] rules.")
@click.option("--example", is_flag=True, help="Analyse the example crashes shipped with crashfix.")
def analyze(paths: tuple[Path, ...], as_json: bool, fmt: str | None, config: Path | None, example: bool) -> None:
    """Analyse crash files: exception, blamed frame, signature, top frames."""
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


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns every failure into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="crashfix", standalone_mode=False)
    except CrashfixError as error:
        click.echo(f"crashfix: error: {error.one_line()}", err=True)
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

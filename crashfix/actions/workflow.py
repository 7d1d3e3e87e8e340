"""Speaking GitHub Actions natively (`::group::`, `::error::`, step outputs, job summary), only in Actions.

On a terminal the same calls print plain lines, so a command reads the same everywhere
and a log on a developer's machine is not littered with workflow commands.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import click


def in_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def run_url(environ: Mapping[str, str]) -> str | None:
    """The web page of this workflow run, when Actions says which it is."""
    server, run_id, name = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_RUN_ID"), \
        environ.get("GITHUB_REPOSITORY")
    return f"{server}/{name}/actions/runs/{run_id}" if server and run_id and name else None


@contextmanager
def group(title: str, environ: Mapping[str, str]) -> Iterator[None]:
    """A collapsible section of the Actions log; nothing on a terminal."""
    if not in_actions(environ):
        yield
        return
    click.echo(f"::group::{_escape(title)}")
    try:
        yield
    finally:
        click.echo("::endgroup::")


@contextmanager
def commands_off(environ: Mapping[str, str]) -> Iterator[None]:
    """Printed text cannot be taken for workflow commands (`::set-output`, `::add-mask`, ...).

    What crashfix prints while fixing can carry text the model wrote about an untrusted issue; a
    line of it starting with `::` would otherwise be obeyed by the runner. The resume token is
    random, so the text cannot end the pause either.
    """
    if not in_actions(environ):
        yield
        return
    token = f"crashfix-{uuid.uuid4().hex}"
    click.echo(f"::stop-commands::{token}")
    click.echo(f"::stop-commands::{token}", err=True)
    try:
        yield
    finally:
        click.echo(f"::{token}::", err=True)
        click.echo(f"::{token}::")


def error(message: str, environ: Mapping[str, str]) -> None:
    """An annotation on the run in Actions; a plain `crashfix: error:` line elsewhere."""
    if in_actions(environ):
        click.echo(f"::error::{_escape(message)}")
    else:
        click.echo(f"crashfix: error: {message}", err=True)


def set_outputs(environ: Mapping[str, str], values: Mapping[str, str]) -> None:
    """Step outputs (`$GITHUB_OUTPUT`); multi-line values get a random delimiter that no value can forge."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            if "\n" in value:
                delimiter = f"crashfix_{uuid.uuid4().hex}"
                handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                handle.write(f"{name}={value}\n")


def summary(environ: Mapping[str, str], markdown: str) -> None:
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown)


def _escape(text: str) -> str:
    """Workflow-command data escaping: a title or message cannot end the command or start another."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

"""The server host's own commands: `crashfix login`, `logout` and `service install|uninstall|status`.

Thin click commands over `crashfix.setup`; registered on the `crashfix` group in `cli/commands.py`.
Heavy imports wait until a command runs, so `crashfix --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command()
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input (for scripts).")
def login(token_stdin: bool) -> None:
    """Store the uploader's GitHub token where the OS keeps credentials, for this account.

    Checked with GitHub first. `crashfix watch` and `crashfix file` use it when GITHUB_TOKEN is
    not set. Run it as the account the service runs as (Windows: runas /user:ACCOUNT ...).
    """
    from crashfix.setup.credentials import login as store

    if token_stdin:
        token = sys.stdin.readline()
    else:
        token = click.prompt("GitHub token (input is hidden)", hide_input=True, err=True)
    click.echo(store(token, os.environ))


@click.command()
def logout() -> None:
    """Remove the stored GitHub token of this account."""
    from crashfix.setup.credentials import logout as remove

    click.echo(remove(os.environ))


@click.group()
def service() -> None:
    """Run `crashfix watch` as a service that stays up: a scheduled task (Windows) or a systemd unit (Linux)."""


PLATFORM = click.option("--platform", type=click.Choice(["windows", "linux"]),
                        help="The service's operating system (default: this one); for --dry-run elsewhere.")
NAME = click.option("--name", help="Task or unit name (default: crashfix-watch on Windows, crashfix on Linux).")


@service.command()
@click.option("--config", required=True, help="The host's crashfix.toml ([uploader] repo and directories).")
@click.option("--account", required=True,
              help="The account it runs as: a dedicated user (Windows: HOST\\user; the password is asked), or SYSTEM.")
@click.option("--state-dir", help="Spool and logs (default: [uploader] state_dir, else %ProgramData%\\crashfix or "
              "/var/lib/crashfix).")
@click.option("--python", help="The Python crashfix is installed in (default: this one).")
@click.option("--dry-run", is_flag=True, help="Print the task XML or unit file and the commands; change nothing.")
@PLATFORM
@NAME
def install(config: str, account: str, state_dir: str | None, python: str | None, dry_run: bool,
            platform: str | None, name: str | None) -> None:
    """Register the watcher: at boot, as ACCOUNT, restarted when it exits, no time limit."""
    from crashfix.setup import service as services

    chosen = services.this_platform() if platform is None else platform
    request = services.InstallRequest(chosen, config, account, name, state_dir, python)  # type: ignore[arg-type]
    spec = services.build_spec(request, os.environ)
    if dry_run:
        click.echo(services.describe_install(spec, chosen))  # type: ignore[arg-type]
        return

    def password() -> str:
        return str(click.prompt(f"Password of {spec.account}", hide_input=True, err=True))

    click.echo(services.install(spec, chosen, password=password))  # type: ignore[arg-type]


@service.command()
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@PLATFORM
@NAME
def uninstall(dry_run: bool, platform: str | None, name: str | None) -> None:
    """Stop and remove the watcher service (its state folder is kept)."""
    from crashfix.setup import service as services

    chosen = services.this_platform() if platform is None else platform
    name = name or services.DEFAULT_NAME[chosen]  # type: ignore[index]
    if dry_run:
        click.echo(f"would stop and remove the {'scheduled task' if chosen == 'windows' else 'unit'} {name}")
        return
    click.echo(services.uninstall(name, chosen))  # type: ignore[arg-type]


@service.command("status")
@PLATFORM
@NAME
def service_status(platform: str | None, name: str | None) -> None:
    """Whether the watcher service is installed and running, and what it runs with (exit 1 when not running)."""
    from crashfix.setup import service as services
    from crashfix.uploader.status import describe_status

    chosen = services.this_platform() if platform is None else platform
    name = name or services.DEFAULT_NAME[chosen]  # type: ignore[index]
    state = services.status(name, chosen)  # type: ignore[arg-type]
    click.echo(f"service:      {name}: {state.detail}")
    found = state.registered
    if found is not None:
        click.echo(f"runs as:      {found.account or '?'}\nconfig:       {found.config or '?'}")
        if found.state_dir and chosen == services.this_platform():
            import time

            click.echo(describe_status(Path(found.state_dir), time.time()))
    if not state.running:
        raise SystemExit(1)


"""Checks `crashfix watch` and `crashfix file` make before they touch anything: fail fast, in one line.

Without them a watcher with no token, or pointed at a folder that does not exist, runs
quietly until the first crash (or says "0 filed" and exits 0). Each check that fails
raises one `CrashfixError` with its own exit code, so a service manager can tell a
problem that waiting fixes (a crash folder not mounted yet: 66) from one that needs a
person (no usable token: 77; a state folder that cannot be written: 74).

GitHub is asked once (the repository, which says whether the token's account may push).
When GitHub cannot be reached the command carries on: that is what the spool is for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from crashfix import paths
from crashfix.config import UploaderSettings
from crashfix.errors import AccessDenied, CannotWrite, MissingInput, UsageError
from crashfix.github import credentials
from crashfix.github.permissions import WRITE_ROLE

log = logging.getLogger(__name__)

TOKEN_NEEDS = "a token that may write issues (fine-grained: Issues: read and write on the repository)"


def token_hint(store_available: bool) -> str:
    if store_available:
        return f"run `crashfix login` as the account that runs crashfix, with {TOKEN_NEEDS}"
    return (f"set GITHUB_TOKEN to {TOKEN_NEEDS}; for the service, in its environment file "
            "(/etc/crashfix/crashfix.env, made by `crashfix service install`)")


def check_folders(folders: Sequence[Path]) -> None:
    for folder in folders:
        if not folder.exists():
            raise MissingInput(f"the crash folder {folder} does not exist",
                               "create it, mount it, or correct the folder given ([uploader] directories)")
        if not folder.is_dir():
            raise MissingInput(f"the crash folder {folder} is not a folder", "give the folder the crashes appear in")


def check_state_folder(folder: Path) -> None:
    """The spool and logs go here: it must exist (or be creatable) and take a new file."""
    probe = folder / f".crashfix-write-test-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
        spool = folder / "spool.sqlite3"
        if spool.exists() and not os.access(spool, os.W_OK):
            raise PermissionError(13, "the spool is read-only")
    except OSError as error:
        raise CannotWrite(f"cannot write to the state folder {folder} ({error.strerror or error})",
                          "make it writable for the account that runs crashfix, or choose another with "
                          "--state-dir or [uploader] state_dir") from None


def check_repository(name: str, environ: Mapping[str, str], source: str) -> None:
    """One request: the repository, seen by the token. Unreachable GitHub is a warning, not a failure."""
    from crashfix.github.connect import client_from  # PyGithub loads only when GitHub is asked
    from crashfix.github.records import GitHubAuthError, GitHubNotFound, GitHubRateLimited, GitHubUnavailable

    try:
        repo = client_from(environ, write_interval=0.0, retries=1, max_rate_wait=0.0).repository(name)
        permissions = repo.token_permissions()
    except GitHubAuthError as error:
        if error.status == 401:
            raise AccessDenied(f"GitHub rejected the token from {source} (401: expired, revoked or mistyped)",
                               f"run `crashfix login` with {TOKEN_NEEDS}") from None
        raise AccessDenied(f"the token from {source} may not read {name} ({error.message})", error.hint) from None
    except GitHubNotFound:
        raise AccessDenied(f"{name} was not found with the token from {source} (404)",
                           "check the name; a private repository must be one the token's account can see "
                           "(fine-grained token: select it under Repository access)") from None
    except (GitHubUnavailable, GitHubRateLimited) as error:
        log.warning("could not check the token with GitHub (%s); carrying on: crashes wait in the spool until "
                    "GitHub answers", error.message)
        return
    if permissions is not None and not permissions.get("push"):
        raise AccessDenied(f"the token's account may only read {name}: GitHub would drop the labels of its "
                           "issues", WRITE_ROLE)
    log.info("GitHub: the token from %s opens %s%s", source, name,
             " with write access" if permissions else "")


def uploader_start(settings: UploaderSettings, environ: Mapping[str, str],
                   folders: Sequence[Path] = ()) -> dict[str, str]:
    """Check what `watch` / `file` need, cheapest first; the environment to run with (the stored token in it)."""
    if not settings.repo:
        raise UsageError("no repository to file into", "pass --repo OWNER/NAME or set [uploader] repo")
    check_folders(folders)
    check_state_folder(settings.state_dir or paths.state_dir(dict(environ)))
    found = credentials.find_token(environ)
    if not found.token:
        raise AccessDenied(f"no GitHub token: GITHUB_TOKEN is not set, and {found.source} {found.problem}",
                           token_hint(found.available))
    merged = {**environ, "GITHUB_TOKEN": found.token}
    check_repository(settings.repo, merged, found.source)
    return merged

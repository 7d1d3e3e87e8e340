"""`crashfix login` and `crashfix logout`: the uploader's token in the OS credential store.

The token is checked with GitHub before it is stored (a mistyped token is refused, not
found at the first crash); when GitHub cannot be reached it is stored anyway, with a
warning. It is stored for the account that runs the command: run `login` as the account
the uploader's service runs as.
"""

from __future__ import annotations

from collections.abc import Mapping

from crashfix.errors import AccessDenied, CrashfixError
from crashfix.github import credentials
from crashfix.github.records import GitHubAuthError, GitHubUnavailable

NO_STORE_HINT = ("on a server without one (Linux without a desktop session), give the token to the service "
                 "instead: GITHUB_TOKEN=<token> in its environment file, /etc/crashfix/crashfix.env, which "
                 "`crashfix service install` creates readable by root only")


def _check_with_github(token: str, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the token's user, a warning): GitHub is asked who the token belongs to."""
    from crashfix.github.connect import client_from  # PyGithub loads only here

    try:
        return client_from(environ, token=token, retries=1).login(), None
    except GitHubAuthError as error:
        raise AccessDenied(f"GitHub rejected this token ({error.status}); nothing was stored",
                           "copy the whole token again, or make a new one") from None
    except GitHubUnavailable as error:
        return None, f"not checked with GitHub: {error.message}"


def login(token: str, environ: Mapping[str, str]) -> str:
    """Check `token` with GitHub, store it; what was done, in one or two lines."""
    import keyring
    from keyring.errors import KeyringError

    token = token.strip()
    if not token or any(ch.isspace() for ch in token):
        raise CrashfixError("that is not a GitHub token (empty, or more than one word)", "paste only the token")
    user, warning = _check_with_github(token, environ)
    try:
        keyring.set_password(credentials.SERVICE, credentials.account(environ), token)
        where = credentials.store_name()
    except KeyringError as error:
        raise CrashfixError(f"no OS credential store can be used here ({error})", NO_STORE_HINT) from None
    whose = f"the token of {user}" if user else "the token"
    lines = [f"stored {whose} for {credentials.account(environ).split('@', 1)[1]} in {where}; "
             "crashfix watch and crashfix file use it when GITHUB_TOKEN is not set"]
    if warning:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def logout(environ: Mapping[str, str]) -> str:
    """Remove the stored token (nothing stored is not an error: the goal is reached)."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    name = credentials.account(environ)
    try:
        keyring.delete_password(credentials.SERVICE, name)
    except PasswordDeleteError:
        return f"no token was stored for {name.split('@', 1)[1]}"
    except KeyringError as error:
        raise CrashfixError(f"no OS credential store can be used here ({error})", NO_STORE_HINT) from None
    return f"removed the token for {name.split('@', 1)[1]} from {credentials.store_name()}"

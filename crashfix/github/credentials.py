"""The uploader's GitHub token, from `GITHUB_TOKEN` or from where the OS keeps credentials.

`crashfix login` stores the token with `keyring`: the Windows Credential Manager, the macOS
Keychain or the Secret Service on a Linux desktop, readable only by the account that stored
it. That keeps it out of machine-wide environment variables, which every local process can
read. `GITHUB_TOKEN`, when set, always wins (Actions, a systemd EnvironmentFile).
Kept in the `github` layer so that the uploader can read it; storing is `setup.credentials`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

log = logging.getLogger(__name__)

SERVICE = "crashfix"
DEFAULT_HOST = "api.github.com"


@dataclass(frozen=True)
class FoundToken:
    """A token and where it came from, or why there is none."""

    token: str | None
    source: str
    problem: str | None = None
    available: bool = True  # whether this machine has an OS credential store at all


def account(environ: Mapping[str, str]) -> str:
    """The key a token is stored under: the GitHub API host it is for (github.com or an Enterprise server)."""
    host = urlparse(environ.get("GITHUB_API_URL") or "").netloc
    return f"github-token@{host or DEFAULT_HOST}"


def store_name() -> str:
    """How the OS credential store in use is called, for messages."""
    import keyring

    return f"the OS credential store ({keyring.get_keyring().name})"


def stored_token(environ: Mapping[str, str]) -> FoundToken:
    """The token `crashfix login` stored for this GitHub, or why none could be read."""
    import keyring  # loaded only when GITHUB_TOKEN is not set
    from keyring.errors import KeyringError, NoKeyringError

    try:
        token = keyring.get_password(SERVICE, account(environ))
        where = store_name()
    except NoKeyringError:
        return FoundToken(None, "the OS credential store", "is not available on this machine", available=False)
    except KeyringError as error:
        log.debug("no token from the OS credential store: %s", error)
        return FoundToken(None, "the OS credential store", f"cannot be read ({error})")
    if not token:
        return FoundToken(None, where, f"holds none for {account(environ).split('@', 1)[1]}")
    return FoundToken(token, where)


def find_token(environ: Mapping[str, str]) -> FoundToken:
    """`GITHUB_TOKEN` when set, else the stored token."""
    if environ.get("GITHUB_TOKEN"):
        return FoundToken(environ["GITHUB_TOKEN"], "GITHUB_TOKEN")
    return stored_token(environ)


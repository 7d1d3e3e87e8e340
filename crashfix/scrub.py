"""Keeping credentials out of what crashfix runs and shows: scrubbed environments and redacted output.

Every child process that runs code crashfix did not write (a build, its tests, a git that a
build could have configured) gets an environment without crashfix's tokens, the action's
inputs or anything whose name says it is secret; whatever it prints has every secret value
replaced before it is stored, parsed or shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MIN_SECRET_LENGTH = 8
# Matched against the name upper-cased (Windows names are case-insensitive), `-` read as `_` (action inputs).
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|COOKIE|AUTHORI[SZ]ATION|"
    r"WEBHOOK|CONNECTION_?STRING|JWT|CREDS|(?:^|_)(?:O?AUTH|SESSION|KEY|PASS|PWD|PAT|SAS|DSN|SIGNING)(?:_|$)|"
    r"^GIT_CONFIG_(?:KEY_\d+|VALUE_\d+|PARAMETERS|COUNT)$"  # `http.extraHeader=AUTHORIZATION: basic ...`
)
# A value that carries its own credential whatever the name: `scheme://user:password@host` (a proxy, a
# database URL) or a signed URL's query (`?sig=...`, `&token=...`, an Azure SAS for a binary cache).
_CREDENTIAL_VALUE = re.compile(
    r"://[^/\s:@]*:[^/\s@]+@|[?&,;](?:sig|signature|token|access_token|key|password|secret|x-amz-signature)=[^&\s]",
    re.IGNORECASE,
)
# Values of these are redacted from output too; the weaker words above (SESSION, KEY...) are dropped only.
_STRONG_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTHORI[SZ]ATION|"
    r"WEBHOOK"  # a webhook URL is its own credential: whoever has it can post to the channel
)
# crashfix's own credentials, the runner's and the workflow-command files (writing to GITHUB_ENV would
# reach later steps): never passed on, whatever `keep` says.
_ALWAYS_DROPPED = re.compile(
    r"^(?:GITHUB_TOKEN|GH_TOKEN|GH_ENTERPRISE_TOKEN|GITHUB_ENTERPRISE_TOKEN|ANTHROPIC_\w*|CLAUDE_\w*|"
    r"ACTIONS_RUNTIME_\w*|ACTIONS_ID_TOKEN_REQUEST_\w*|ACTIONS_CACHE_\w*|ACTIONS_RESULTS_\w*|"
    r"GITHUB_ENV|GITHUB_OUTPUT|GITHUB_PATH|GITHUB_STATE|GITHUB_STEP_SUMMARY|"
    r"INPUT_(?:ANTHROPIC\w*|CLAUDE\w*|GITHUB_TOKEN|GH_TOKEN|TOKEN|API_KEY))$"
)
_NOT_SECRET = frozenset({"PWD", "OLDPWD"})
_PATH_LIKE = re.compile(r"^(?:[/~.]|[A-Za-z]:[\\/]|\\\\)")


def _normal(name: str) -> str:
    return name.upper().replace("-", "_")


def _secret_name(normal: str, keep: set[str]) -> bool:
    """Whether the name rule drops this variable (`keep` overrides all of it but the fixed list)."""
    if _ALWAYS_DROPPED.match(normal):
        return True
    if normal in _NOT_SECRET or normal in keep:
        return False
    return normal.startswith("INPUT_") or bool(SECRET_NAME.search(normal))


def scrubbed_environment(
    environ: Mapping[str, str], keep: Iterable[str] = (), secret_values: Iterable[str] = ()
) -> dict[str, str]:
    """`environ` without credentials: by name (unless in `keep`: exact names) and by value (always)."""
    kept = {_normal(name) for name in keep}
    secrets = [value for value in secret_values if len(value) >= MIN_SECRET_LENGTH]
    return {
        name: value
        for name, value in environ.items()
        if not _secret_name(_normal(name), kept) and not any(secret in value for secret in secrets)
        and (_normal(name) in kept or not _CREDENTIAL_VALUE.search(value))
    }


def secret_values_in(environ: Mapping[str, str], keep: Iterable[str] = ()) -> list[str]:
    """Values of variables whose names say they are secrets: to redact from output wherever they show up."""
    kept = {_normal(name) for name in keep}
    found = []
    for name, value in environ.items():
        normal = _normal(name)
        strong = _ALWAYS_DROPPED.match(normal) or (_STRONG_SECRET_NAME.search(normal) and normal not in kept)
        plain_url = "://" in value[:12] and "@" not in value  # an endpoint, not a credential
        if strong and len(value) >= MIN_SECRET_LENGTH and not _PATH_LIKE.match(value) and not plain_url:
            found.append(value)
        elif normal not in kept and _CREDENTIAL_VALUE.search(value) and len(value) >= MIN_SECRET_LENGTH:
            found.append(value)  # a proxy or database URL with a password: redacted wherever it shows
    return found


def redact(text: str, secret_values: Iterable[str]) -> str:
    """`text` with every secret value (8 characters or more) replaced by `***`, longest first."""
    for secret in sorted({value for value in secret_values if len(value) >= MIN_SECRET_LENGTH}, key=len,
                         reverse=True):
        text = text.replace(secret, "***")
    return text

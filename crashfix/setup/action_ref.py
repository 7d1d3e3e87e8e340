"""Which crashfix action a repository's workflow uses, pinned to one commit.

The action is `action.yml` at the root of the crashfix repository, so the workflow names it
`OWNER/REPO@<commit>`. A tag or branch can be moved under the workflow's feet, so only a full
40-hex commit SHA (or a local `./path` inside the repository) is accepted, by `init` and by
`doctor` alike. When crashfix itself was installed from a pinned git commit, that commit is
the natural pin: the action then runs exactly the crashfix version the operator installed.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from urllib.parse import urlparse

from crashfix import __version__
from crashfix.errors import UsageError

ACTION_REPOSITORY = "crashfix-dev/crashfix"
SHA_PINNED = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
LOCAL_ACTION = re.compile(r"^\./\S*$")
WHERE = (f"the crashfix action is action.yml at the root of https://github.com/{ACTION_REPOSITORY}; pin it to "
         f"the commit of the release you run: `git ls-remote https://github.com/{ACTION_REPOSITORY} "
         f"refs/tags/v{__version__}` prints it, then pass --action {ACTION_REPOSITORY}@<that 40-hex commit>")


def is_pinned(action: str) -> bool:
    """`OWNER/REPO[/PATH]@<40-hex commit>`, or an action inside the repository (`./path`)."""
    return bool(SHA_PINNED.match(action) or LOCAL_ACTION.match(action))


def action_from_direct_url(text: str) -> str | None:
    """`OWNER/REPO@<commit>` from pip's `direct_url.json` of a git install (PEP 610), else None."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    vcs = data.get("vcs_info") if isinstance(data, dict) else None
    if not isinstance(vcs, dict) or vcs.get("vcs") != "git":
        return None
    commit = str(vcs.get("commit_id") or "")
    url = urlparse(str(data.get("url") or ""))
    parts = [part for part in url.path.removesuffix(".git").split("/") if part]
    if url.scheme not in ("https", "ssh", "git+ssh") or len(parts) != 2:
        return None
    action = f"{parts[0]}/{parts[1]}@{commit}"
    return action if SHA_PINNED.match(action) else None


def installed_action() -> str | None:
    """The commit crashfix was installed from, as an action reference, when it was installed from git."""
    try:
        text = metadata.distribution("crashfix").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    return action_from_direct_url(text) if text else None


def resolve_action(given: str | None) -> str:
    """The `--action` to write: the given one when pinned, else the installed commit; one clear line if neither."""
    if given is None:
        installed = installed_action()
        if installed is None:
            raise UsageError("give the crashfix action to use, pinned to a commit: --action OWNER/REPO@<40-hex SHA>",
                             WHERE)
        return installed
    if not is_pinned(given):
        raise UsageError(f"--action {given!r} is not pinned to a commit (OWNER/REPO@<40-hex SHA> or ./PATH): a tag "
                         "or branch can be moved to other code", WHERE)
    return given

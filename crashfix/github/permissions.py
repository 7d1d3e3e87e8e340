"""What a 403 from GitHub means for crashfix: one line saying what the token (or its account) lacks.

GitHub refuses for three different reasons, told apart by its message, and the remedy differs:
- the token lacks a permission ("Resource not accessible by integration" for an app's token
  such as the Actions GITHUB_TOKEN, "... by personal access token" for a fine-grained one, a
  push refused by git): grant the permission of that endpoint family (Issues, Pull requests,
  Contents), in a workflow with its `permissions:` block;
- the repository forbids the Actions token to open pull requests ("GitHub Actions is not
  permitted to create or approve pull requests."): a repository setting;
- the token's account has too small a role ("Must have admin rights to Repository.",
  "Must have push access to ..."): the account needs write access.
Kept free of PyGithub so that git errors (a refused push) get the same advice.
"""

from __future__ import annotations

from typing import Literal

Family = Literal["issues", "pull-requests", "contents"]

ACTIONS_SETTING = "GitHub Actions is not permitted to create or approve pull requests"
WRITE_ROLE = "the token's account needs write access to the repository (the Write role or higher)"
_FAMILIES: dict[str, tuple[str, str]] = {
    "issues": ("Issues", "issues"),
    "pull-requests": ("Pull requests", "pull-requests"),
    "contents": ("Contents", "contents"),
}


def refusal_hint(family: Family, message: str) -> str:
    """What to change so that GitHub allows the refused request, given GitHub's 403 message."""
    said = message.casefold()
    if ACTIONS_SETTING.casefold() in said:
        return ("allow it in the repository's Settings > Actions > General > Workflow permissions: "
                "\"Allow GitHub Actions to create and approve pull requests\"")
    if "must have" in said and ("push access" in said or "admin rights" in said):
        return WRITE_ROLE
    title, scope = _FAMILIES[family]
    return f"give the token {title}: read and write (in a workflow: `permissions: {scope}: write`)"

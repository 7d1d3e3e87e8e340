"""Who may start a fix: the uploader's account, or someone with write access to the repository.

A fix spends money and pushes a branch, so it is never started by an arbitrary issue
author or labeller. Permission is read from the API (`role_name`), not from
`author_association`, which misreports private org members and says nothing about
who added a label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from crashfix.config import FixSettings
from crashfix.github.records import IssueData
from crashfix.untrusted import inert_markdown

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
REFUSED_MARKER = "<!-- crashfix:refused -->"


@dataclass(frozen=True)
class Trigger:
    """Why this run started: a new issue, a label added by someone, or a person at a terminal."""

    kind: Literal["opened", "labeled", "reopened", "manual"]
    actor: str | None = None
    label: str | None = None

    def describe(self) -> str:
        if self.kind == "labeled":
            return f"label `{self.label}` added by @{self.actor or 'unknown'}"
        if self.kind == "opened":
            return f"issue opened by @{self.actor or 'unknown'}"
        if self.kind == "reopened":
            return f"issue reopened by @{self.actor or 'unknown'}"
        return f"run by hand{f' as @{self.actor}' if self.actor else ''}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str


def trigger_from_event(event_path: str | None, event_name: str | None) -> Trigger:
    """The trigger described by the Actions event payload (GITHUB_EVENT_PATH), else a manual run."""
    if not event_path or not Path(event_path).is_file():
        return Trigger("manual")
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Trigger("manual")
    sender = (event.get("sender") or {}).get("login")
    if event_name == "issues" and event.get("action") == "labeled":
        return Trigger("labeled", sender, (event.get("label") or {}).get("name"))
    if event_name == "issues" and event.get("action") == "opened":
        return Trigger("opened", sender)
    if event_name == "issues" and event.get("action") == "reopened":
        return Trigger("reopened", sender)
    return Trigger("manual", sender)


def trigger_from_actions(environ: Mapping[str, str], viewer: str | None = None) -> Trigger:
    """The trigger of this Actions run; a manual run is credited to `GITHUB_ACTOR`, else to `viewer`."""
    trigger = trigger_from_event(environ.get("GITHUB_EVENT_PATH"), environ.get("GITHUB_EVENT_NAME"))
    if trigger.kind == "manual" and trigger.actor is None:
        return Trigger("manual", environ.get("GITHUB_ACTOR") or viewer)
    return trigger


def decide(repo: RepoAPI, issue: IssueData, trigger: Trigger, settings: FixSettings,
           token_user: str | None = None) -> Decision:
    """Allow the run, or say why not. Reads permissions through the API."""
    if trigger.kind == "labeled" and (trigger.label or "").casefold() == settings.reanalyze_label.casefold():
        actor = trigger.actor or repo.label_adder(issue.number, settings.reanalyze_label)
        return _by_permission(repo, actor, f"`{settings.reanalyze_label}` was added by")
    if trigger.kind == "reopened":  # the uploader reopens a crash whose merged fix did not hold; nobody else starts one
        if settings.uploader_login and (trigger.actor or "").casefold() == settings.uploader_login.casefold():
            return Decision(True, f"reopened by the uploader account @{trigger.actor}: the crash came back")
        return Decision(False, f"a reopen starts a fix only when the uploader account reopens a crash that came back "
                               f"(this one: @{trigger.actor or 'unknown'}); add `{settings.reanalyze_label}` to run it")
    if settings.uploader_login and (issue.author or "").casefold() == settings.uploader_login.casefold():
        return Decision(True, f"filed by the uploader account @{issue.author}")
    if trigger.kind == "manual":
        actor = trigger.actor or token_user
        return _by_permission(repo, actor, "run by")
    return _by_permission(repo, issue.author, "issue opened by")


def _by_permission(repo: RepoAPI, login: str | None, what: str) -> Decision:
    if not login:
        return Decision(False, f"could not tell who the run is for ({what} an unknown user)")
    role = repo.permission(login)
    if role in WRITE_ROLES:
        return Decision(True, f"{what} @{login} ({role})")
    return Decision(False, f"{what} @{login}, whose permission is `{role}`; a fix needs write, maintain or admin")


def refusal_comment(decision: Decision, settings: FixSettings) -> str:
    uploader = f" or by the uploader account (`{settings.uploader_login}`)" if settings.uploader_login else ""
    why = inert_markdown(decision.why, 1000, one_line=True)  # logins and, in the deliver job, bundle text
    return (f"{REFUSED_MARKER}\ncrashfix did not start a fix: {why}.\n\n"
            f"Fixes run for issues filed by people with write access{uploader}, or when someone with write "
            f"access adds the label `{settings.reanalyze_label}`.")

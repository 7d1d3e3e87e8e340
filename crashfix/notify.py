"""Chat notifications: a Discord or Slack message when a crash is new, fixed, unfixable or back.

Optional and best-effort. A message is posted from a background thread with short
timeouts, so the uploader and the fixer never wait on a chat service; a failure is one
log line. The webhook URL is a secret (it is the credential), so it is never logged.
`requests` is imported only when a message goes out: an idle watcher stays small.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from crashfix.config import NotifySettings

log = logging.getLogger(__name__)

EventKind = Literal["new-signature", "pr-opened", "fix-failed", "regression"]
Service = Literal["discord", "slack"]
EVENTS: tuple[EventKind, ...] = ("new-signature", "pr-opened", "fix-failed", "regression")
_HEADLINES = {"new-signature": "New crash", "pr-opened": "Draft fix proposed", "fix-failed": "No verified fix",
              "regression": "Crash came back"}
_COLORS = {"new-signature": 0xB60205, "pr-opened": 0x1A7F37, "fix-failed": 0xBF8700, "regression": 0xD93F0B}


class NotifyEvent(BaseModel):
    """One thing worth a chat message: what happened, to which issue, and where to look."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EventKind
    repository: str
    issue_number: int
    title: str
    url: str
    detail: str = ""

    def headline(self) -> str:
        return f"{_HEADLINES[self.kind]} in {self.repository}: #{self.issue_number} {self.title}"


def service_for(url: str, configured: str | None = None) -> Service | None:
    """Discord or Slack, from the setting or the webhook's host; None when neither says."""
    if configured in ("discord", "slack"):
        return configured  # type: ignore[return-value]
    host = (urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host in ("discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"):
        return "discord"
    return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def discord_payload(event: NotifyEvent) -> dict[str, Any]:
    """Discord's execute-webhook body: `content` plus one embed; mentions in crash text never ping anyone."""
    return {
        "username": "crashfix",
        "content": _clip(event.headline(), 2000),
        "embeds": [{
            "title": _clip(f"#{event.issue_number} {event.title}", 256),
            "url": event.url,
            "description": _clip(event.detail, 4096),
            "color": _COLORS[event.kind],
            "fields": [{"name": "Repository", "value": event.repository, "inline": True},
                       {"name": "Event", "value": event.kind, "inline": True}],
        }],
        "allowed_mentions": {"parse": []},
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: NotifyEvent) -> dict[str, Any]:
    """Slack's incoming-webhook body: `text` (the notification fallback) plus Block Kit `blocks`."""
    title = _slack_escape(f"#{event.issue_number} {event.title}")
    section = f"*{_slack_escape(_HEADLINES[event.kind])}:* <{event.url}|{title}>"
    if event.detail:
        section += "\n" + _slack_escape(event.detail)
    return {
        "text": _clip(_slack_escape(event.headline()), 3000),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(section, 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": f"{_slack_escape(event.repository)} · {event.kind}"}]},
        ],
    }


class Notifier:
    """Posts events to one webhook without ever blocking or failing its caller."""

    def __init__(self, url: str, service: Service, *, timeout: float = 5.0,
                 events: tuple[str, ...] = EVENTS) -> None:
        self.url = url
        self.service = service
        self.timeout = timeout
        self.events = frozenset(events)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        atexit.register(self.flush)

    def payload(self, event: NotifyEvent) -> dict[str, Any]:
        return discord_payload(event) if self.service == "discord" else slack_payload(event)

    def send(self, event: NotifyEvent) -> None:
        """Post in the background; returns at once."""
        if event.kind not in self.events:
            return
        thread = threading.Thread(target=self._post, args=(event,), name="crashfix-notify", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def flush(self, timeout: float | None = None) -> None:
        """Wait for messages on their way, at most `timeout` (default: the post timeout) in all."""
        deadline = time.monotonic() + (self.timeout + 1 if timeout is None else timeout)
        with self._lock:
            pending = list(self._threads)
        for thread in pending:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _post(self, event: NotifyEvent) -> None:
        import requests  # only when a message goes out

        what = f"{self.service} notification ({event.kind}, #{event.issue_number})"
        try:
            answer = requests.post(self.url, json=self.payload(event), timeout=(self.timeout, self.timeout),
                                   headers={"User-Agent": "crashfix"})
        except requests.Timeout:
            log.warning("%s not delivered: no answer within %.0f s", what, self.timeout)
            return
        except requests.RequestException as error:
            log.warning("%s not delivered: %s", what, type(error).__name__)
            return
        if answer.status_code >= 300:
            log.warning("%s not delivered: the webhook answered %d", what, answer.status_code)
        else:
            log.info("%s delivered", what)


def notifier_from(environ: Mapping[str, str], settings: NotifySettings | None = None) -> Notifier | None:
    """From CRASHFIX_WEBHOOK_URL / CRASHFIX_WEBHOOK_SERVICE (they win) or the config's [notify] values."""
    chat = settings or NotifySettings()
    url = environ.get("CRASHFIX_WEBHOOK_URL") or chat.webhook_url
    if not url:
        return None
    kind = service_for(url, environ.get("CRASHFIX_WEBHOOK_SERVICE") or chat.service)
    if kind is None:
        log.warning("notifications are off: the webhook is neither Discord's nor Slack's by its address; set "
                    "CRASHFIX_WEBHOOK_SERVICE (or [notify] service) to discord or slack")
        return None
    return Notifier(url, kind, timeout=chat.timeout_seconds, events=chat.events)

"""Chat notifications against a local webhook receiver on 127.0.0.1 (real HTTP), per service's payload shape."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crashfix.analysis.analyze import rules_for
from crashfix.config import AnalysisSettings, NotifySettings, load_config
from crashfix.fixer.models import FixOutcome
from crashfix.fixer.report import after_fix, fix_event
from crashfix.github.api import GitHubClient
from crashfix.notify import Notifier, NotifyEvent, notifier_from, service_for
from crashfix.uploader.filing import Filer
from crashfix.uploader.pipeline import Uploader
from crashfix.uploader.spool import Spool
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import REPO, TOKEN, settings, write_crashes
from tests.uploader.test_uploader import settled, wheaty_log

EVENT = NotifyEvent(kind="new-signature", repository=REPO, issue_number=7,
                    title="ACCESS_VIOLATION in Player::Update <@everyone> & co", url="https://github.com/acme/ws/issues/7",
                    detail="3 crash(es) on realm-1")


class Receiver:
    """A webhook endpoint: records each POST; `mode` is "ok", "error" (500) or "hang" (answers after `hang` s)."""

    def __init__(self, mode: str = "ok", status: int = 204, hang: float = 10.0) -> None:
        self.mode, self.status, self.hang = mode, status, hang
        self.posts: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.posts.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers))
                if receiver.mode == "hang":
                    receiver.released.wait(receiver.hang)
                status = 500 if receiver.mode == "error" else receiver.status
                body = b"ok" if status == 200 else b"" if status == 204 else b'{"message": "boom"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhooks/1/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < end:
            time.sleep(0.01)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_discord_gets_content_and_an_embed_and_pings_nobody(receiver: Receiver) -> None:
    notifier = Notifier(receiver.url, "discord", timeout=2)
    notifier.send(EVENT)
    notifier.flush()
    [body] = receiver.posts
    assert body["content"] == f"New crash in {REPO}: #7 ACCESS_VIOLATION in Player::Update <@everyone> & co"
    [embed] = body["embeds"]
    assert embed["title"].startswith("#7 ACCESS_VIOLATION") and embed["url"] == EVENT.url
    assert embed["description"] == "3 crash(es) on realm-1" and embed["color"] == 0xB60205
    assert {field["name"] for field in embed["fields"]} == {"Repository", "Event"}
    assert body["allowed_mentions"] == {"parse": []}  # crash text never pings a channel
    assert receiver.headers[0]["Content-Type"] == "application/json"


def test_slack_gets_text_and_blocks_with_escaped_mrkdwn(receiver: Receiver) -> None:
    receiver.status = 200
    notifier = Notifier(receiver.url, "slack", timeout=2)
    notifier.send(EVENT.model_copy(update={"kind": "regression"}))
    notifier.flush()
    [body] = receiver.posts
    assert body["text"].startswith(f"Crash came back in {REPO}: #7")
    assert "<@everyone>" not in body["text"] and "&lt;@everyone&gt;" in body["text"]  # the fallback pings no one
    section, context = body["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"] == ("*Crash came back:* <https://github.com/acme/ws/issues/7|#7 ACCESS_VIOLATION in "
                                       "Player::Update &lt;@everyone&gt; &amp; co>\n3 crash(es) on realm-1")
    assert context["type"] == "context" and context["elements"][0]["text"] == f"{REPO} · regression"


def test_a_failing_webhook_is_one_log_line_without_the_secret_url(caplog: pytest.LogCaptureFixture) -> None:
    failing = Receiver("error")
    try:
        notifier = Notifier(failing.url, "discord", timeout=2)
        with caplog.at_level(logging.WARNING, logger="crashfix.notify"):
            notifier.send(EVENT)
            notifier.flush()
    finally:
        failing.close()
    [record] = [r for r in caplog.records if r.name == "crashfix.notify"]
    message = record.getMessage()
    assert message == "discord notification (new-signature, #7) not delivered: the webhook answered 500"
    assert "secret-token" not in caplog.text and "\n" not in message


def test_a_hanging_webhook_never_blocks_the_caller_beyond_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    hanging = Receiver("hang", hang=30)
    try:
        notifier = Notifier(hanging.url, "slack", timeout=0.5)
        with caplog.at_level(logging.WARNING, logger="crashfix.notify"):
            started = time.perf_counter()
            notifier.send(EVENT)
            sent = time.perf_counter() - started
            notifier.flush()
            flushed = time.perf_counter() - started
    finally:
        hanging.close()
    assert sent < 0.2  # the caller goes on at once
    assert 0.4 < flushed < 2.0  # and even a flush waits no longer than the timeout
    assert "not delivered: no answer within 0 s" in caplog.text or "no answer within 1 s" in caplog.text
    print(f"\nhanging webhook: send returned in {sent * 1000:.1f} ms, flush after {flushed:.2f} s (timeout 0.5 s)")


def test_an_unreachable_webhook_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    gone = Receiver()
    url = gone.url
    gone.close()
    notifier = Notifier(url, "discord", timeout=1)
    with caplog.at_level(logging.WARNING, logger="crashfix.notify"):
        notifier.send(EVENT)
        notifier.flush()
    assert "not delivered: ConnectionError" in caplog.text


def test_service_and_settings() -> None:
    assert service_for("https://hooks.slack.com/services/T/B/x") == "slack"
    assert service_for("https://discord.com/api/webhooks/1/x") == "discord"
    assert service_for("https://chat.example.com/hook") is None
    assert service_for("https://chat.example.com/hook", "slack") == "slack"
    assert notifier_from({}) is None
    from_env = notifier_from({"CRASHFIX_WEBHOOK_URL": "https://discord.com/api/webhooks/1/x"},
                             NotifySettings(webhook_url="https://hooks.slack.com/x"))
    assert from_env is not None and from_env.service == "discord"  # the secret wins over the file
    assert notifier_from({}, NotifySettings(webhook_url="https://chat.example.com/hook")) is None  # unknown: off
    only_prs = notifier_from({}, NotifySettings(webhook_url="https://hooks.slack.com/x", events=("pr-opened",)))
    assert only_prs is not None and only_prs.events == {"pr-opened"}


def test_the_config_file_has_a_notify_section(tmp_path: Path) -> None:
    path = tmp_path / "crashfix.toml"
    path.write_text('[notify]\nservice = "slack"\ntimeout_seconds = 3\nevents = ["pr-opened", "fix-failed"]\n')
    notify = load_config(path).notify
    assert (notify.service, notify.timeout_seconds, notify.events) == ("slack", 3, ("pr-opened", "fix-failed"))


# -- the uploader's hook ----------------------------------------------------------------------


def uploader_with(state: Path, api_url: str, notifier: Notifier) -> Uploader:
    config = settings(state)
    spool = Spool(state / "spool.sqlite3")

    def connect() -> Filer:
        client = GitHubClient(base_url=api_url, token=TOKEN, write_interval=0.0, retries=2, max_rate_wait=10)
        return Filer(client.repository(REPO), spool, config, "realm-1", time.time, notifier)

    return Uploader(config, spool, connect, dict(os.environ), rules_for(AnalysisSettings()))


def test_the_uploader_announces_new_signatures_and_regressions_only(receiver: Receiver, tmp_path: Path) -> None:
    with FakeGitHub() as github:
        folder = tmp_path / "crashes"
        write_crashes(folder, signatures=2, repeats=3)
        notifier = Notifier(receiver.url, "discord", timeout=2)
        uploader = uploader_with(tmp_path / "state", github.url, notifier)
        assert uploader.run_once([folder])[0] == 0
        notifier.flush()
        assert sorted(body["embeds"][0]["fields"][1]["value"] for body in receiver.posts) == ["new-signature"] * 2
        assert {body["embeds"][0]["url"] for body in receiver.posts} == {
            github.issues[n]["html_url"] for n in github.issues}

        settled(folder / "first.txt", wheaty_log("2024-01-01 10:00:00"))  # a two-frame stack, not young
        uploader.run_once([folder])
        number = max(github.issues)
        github.issues[number].update(state="closed", state_reason="completed", closed_at="2030-06-01T00:00:00Z")
        settled(folder / "again.txt", wheaty_log("2031-01-01 10:00:00", "f00dfeed1234"))
        uploader.run_once([folder])
        notifier.flush()
        kinds = [body["embeds"][0]["fields"][1]["value"] for body in receiver.posts]
        assert kinds == ["new-signature"] * 3 + ["regression"]
        assert "newer than this issue's closing" in receiver.posts[-1]["embeds"][0]["description"]


def test_a_hanging_webhook_does_not_slow_filing(tmp_path: Path) -> None:
    hanging = Receiver("hang", hang=30)
    try:
        with FakeGitHub() as github:
            folder = tmp_path / "crashes"
            write_crashes(folder, signatures=3, repeats=1)
            uploader = uploader_with(tmp_path / "state", github.url, Notifier(hanging.url, "discord", timeout=3))
            started = time.perf_counter()
            assert uploader.run_once([folder])[0] == 0
            assert time.perf_counter() - started < 2.5  # three messages hang for 3 s each, filing does not wait
            assert len(github.issues) == 3
            hanging.wait(3)
            assert len(hanging.posts) == 3
    finally:
        hanging.close()


# -- the fixer's hook -------------------------------------------------------------------------


def test_the_fixer_announces_a_draft_pr_or_giving_up(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    proposed = FixOutcome(status="fix-proposed", reason="draft PR #12 (1 file) builds and passes the tests",
                          issue_number=7, repository=REPO, crash_title="Crash: SIGSEGV in Player::Update",
                          pull_number=12, pull_url="https://github.com/acme/worldserver/pull/12")
    failed = proposed.model_copy(update={"status": "needs-human", "reason": "build still failed after 3 round(s)",
                                         "pull_url": None, "pull_number": None})
    assert fix_event(proposed.model_copy(update={"status": "refused"})) is None
    env = {"CRASHFIX_WEBHOOK_URL": receiver.url, "CRASHFIX_WEBHOOK_SERVICE": "slack",
           "GITHUB_SERVER_URL": "https://github.example.com"}
    receiver.status = 200
    after_fix(proposed, env)
    after_fix(failed, env)
    first, second = receiver.posts
    assert first["text"] == f"Draft fix proposed in {REPO}: #7 SIGSEGV in Player::Update"
    assert "<https://github.com/acme/worldserver/pull/12|" in first["blocks"][0]["text"]["text"]
    assert second["text"].startswith("No verified fix in")
    assert "<https://github.example.com/acme/worldserver/issues/7|" in second["blocks"][0]["text"]["text"]
    assert "build still failed after 3 round(s)" in second["blocks"][0]["text"]["text"]
    only_prs = NotifySettings(webhook_url=receiver.url, service="discord", events=("pr-opened",))
    after_fix(failed, {}, only_prs)  # the config's [notify], with failures left out
    after_fix(proposed, {}, only_prs)
    assert len(receiver.posts) == 3 and receiver.posts[2]["embeds"][0]["url"] == proposed.pull_url


def test_crashfix_file_sends_through_the_secret_webhook(receiver: Receiver, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI wiring: CRASHFIX_WEBHOOK_URL reaches the filer that `crashfix file` builds."""
    from crashfix.cli import main

    with FakeGitHub() as github:
        [crash] = write_crashes(tmp_path / "crashes", signatures=1, repeats=1)
        for name, value in {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "CRASHFIX_WEBHOOK_URL": receiver.url,
                            "CRASHFIX_WEBHOOK_SERVICE": "discord"}.items():
            monkeypatch.setenv(name, value)
        code = main(["file", str(crash), "--repo", REPO, "--state-dir", str(tmp_path / "state")])
        assert code == 0
        receiver.wait(1)
        [body] = receiver.posts
        assert body["content"].startswith(f"New crash in {REPO}: #1 ") and body["embeds"][0]["url"].endswith("/issues/1")

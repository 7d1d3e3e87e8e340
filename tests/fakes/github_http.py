"""The fake GitHub's HTTP side: the record of each request, failure switches, rate-limit windows,
and the HTTP/1.1 server that hands each parsed request to `FakeGitHub._serve`.

Kept apart from github_server so that the fake's behaviour (what it answers) and its plumbing
(how bytes come and go) can each be read on their own.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes import github_objects as objects
from tests.fakes.github_routes import Reply


@dataclass
class RecordedRequest:
    """One request as the fake received it, and what it answered.

    `status` is None when the connection was closed without an answer (outage, dropped write).
    `headers` keep the client's spelling (requests sends `Authorization`, `Content-Type`).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    timestamp: float
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_json: Any = None
    dropped: bool = False


@dataclass
class Fault:
    """A failure switch: applies to the next `remaining` requests that match."""

    kind: str  # "status" | "secondary" | "drop"
    remaining: int
    status: int = 502
    retry_after: int = 1
    method: str | None = None
    path: str | None = None

    def take(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and not re.fullmatch(self.method, method, re.IGNORECASE):
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        self.remaining -= 1
        return True


@dataclass
class Bucket:
    """A rate-limit window: `remaining` requests until `reset` (epoch seconds), then refilled."""

    limit: int
    window: int
    remaining: int = -1
    reset: int = 0

    def refresh(self, now: float) -> None:
        if now >= self.reset:
            self.remaining, self.reset = self.limit, int(now) + self.window

    def headers(self, resource: str) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset), "X-RateLimit-Used": str(self.limit - self.remaining),
                "X-RateLimit-Resource": resource}


class Dropped(Exception):
    """Close the connection without an answer."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: Any  # the FakeGitHub it serves

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.connections):
                shut(connection)


def shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as PyGithub's connection pool expects."""

    protocol_version = "HTTP/1.1"
    server: Server
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, delayed ACKs add ~40 ms to each answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the fake's record (`FakeGitHub.requests`) is the log."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items()}
        record = RecordedRequest(self.command, parts.path.rstrip("/") or "/", dict(parse_qsl(parts.query)),
                                 headers, None, time.time())
        with fake.lock:
            fake.requests.append(record)
        try:
            record.json = json.loads(raw) if raw.strip() else None
        except ValueError:
            record.json = raw.decode("utf-8", "replace")
            reply = Reply(400, objects.error("Problems parsing JSON", 400))
        else:
            try:
                reply = fake._serve(record, {key.lower(): value for key, value in headers.items()})
            except Dropped:
                record.dropped = True
                self.close_connection = True
                shut(self.connection)
                return
        self._answer(record, reply)

    def _answer(self, record: RecordedRequest, reply: Reply) -> None:
        fake = self.server.fake
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3; format=json",
                   "X-GitHub-Api-Version-Selected": "2022-11-28", "X-GitHub-Request-Id": fake._request_id(),
                   **reply.headers}
        status = reply.status
        with fake.lock:
            record.status, record.response_headers = status, headers
            record.response_json = json.loads(payload) if payload else None
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(payload)

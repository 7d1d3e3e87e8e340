"""The HTTP side of the fake Anthropic API: request records, JSON answers and chunked SSE streams.

Kept apart from the API logic (anthropic_server.py) so each stays readable. HTTP/1.1 with
keep-alive, as httpx pools connections; streams go out with chunked transfer encoding, as the
API's do, and a broken stream still ends cleanly after its `error` event.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.anthropic_script import Json, new_id
from tests.fakes.anthropic_sse import frame
from tests.fakes.anthropic_validate import ApiError

ORGANIZATION_ID = "00000000-0000-4000-8000-000000000000"


@dataclass
class RecordedRequest:
    """One request as received and what it was answered; `headers` are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    streamed: bool
    timestamp: float
    status: int | None = None
    request_id: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_json: Any = None  # the message or error; for streams, the message the events add up to


@dataclass
class Stream:
    """A 200 answered as SSE; with `error`, the events stop after `cut` and an `error` event ends the stream."""

    events: list[tuple[str, Json]]
    error: Json | None = None
    cut: int = 0
    delay: float = 0.0
    drop: bool = False
    """With `error` None and `drop`, the connection is closed after `cut` events (a network failure)."""


@dataclass
class Reply:
    """A JSON answer (a message, a token count or an error), sent after `delay` seconds."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeBug(Exception):
    """The fake (or the test's script) went wrong: answer 500 and keep the evidence in server_errors."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: Any  # the FakeAnthropic serving here

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (httpx pools connections); streams go out chunked, as the API's do."""

    protocol_version = "HTTP/1.1"
    server: Server
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the fake's record (`FakeAnthropic.requests`) is the log."""

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _handle(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        record = RecordedRequest(self.command, urlsplit(self.path).path.rstrip("/") or "/", headers, None, False,
                                 time.time(), request_id=new_id("req_011C"))
        with fake.lock:
            fake.requests.append(record)
        try:
            try:
                record.json = json.loads(raw) if raw.strip() else None
            except ValueError as error:
                record.json = raw.decode("utf-8", "replace")
                raise ApiError(400, "invalid_request_error", "There was an error parsing the body") from error
            record.streamed = isinstance(record.json, dict) and record.json.get("stream") is True
            answer: Reply | Stream = fake._serve(record, headers)
        except ApiError as error:
            answer = Reply(error.status, error.body(record.request_id), error.headers)
        except FakeBug as bug:
            with fake.lock:
                fake.server_errors.append(str(bug))
            answer = _fake_failure(record)
        except Exception:  # a bug in the fake itself
            with fake.lock:
                fake.server_errors.append(traceback.format_exc())
            answer = _fake_failure(record)
        if isinstance(answer, Stream):
            self._stream(record, answer)
        else:
            self._answer(record, answer)

    def _answer(self, record: RecordedRequest, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        payload = json.dumps(reply.body).encode()
        headers = {"content-type": "application/json", "request-id": record.request_id,
                   "anthropic-organization-id": ORGANIZATION_ID, **reply.headers}
        with self.server.fake.lock:
            record.status, record.response_headers = reply.status, headers
            if reply.status != 200:
                record.response_json = reply.body
        try:
            self.send_response(reply.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up waiting (a timeout test)

    def _stream(self, record: RecordedRequest, stream: Stream) -> None:
        fake = self.server.fake
        if stream.delay:
            time.sleep(stream.delay)
        headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                   "request-id": record.request_id, "transfer-encoding": "chunked",
                   "anthropic-organization-id": ORGANIZATION_ID}
        with fake.lock:
            record.status, record.response_headers = 200, headers
        try:
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            sent = stream.events if stream.error is None and not stream.drop else stream.events[:stream.cut]
            for name, data in sent:
                if fake.stream_interval:
                    time.sleep(fake.stream_interval)
                self._chunk(frame(name, data))
            if stream.drop:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # no final chunk: the client sees a broken body
                self.close_connection = True
                return
            if stream.error is not None:
                self._chunk(frame("error", {**stream.error, "request_id": record.request_id}))
                self.close_connection = True
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True  # the client went away mid-stream

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _fake_failure(record: RecordedRequest) -> Reply:
    """500 without retries: a script that ran out or a callable that raised must fail the test at once."""
    error = ApiError(500, "api_error", "fake Anthropic failed; see FakeAnthropic.server_errors",
                     {"x-should-retry": "false"})
    return Reply(500, error.body(record.request_id), error.headers)

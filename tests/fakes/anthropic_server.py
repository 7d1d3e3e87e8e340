"""A local fake of the Anthropic Messages API over real HTTP, for driving the real anthropic SDK.

    with FakeAnthropic() as fake:
        fake.enqueue(Turn([text("Hello")]))
        client = anthropic.Anthropic(base_url=fake.url, api_key="test-key", _strict_response_validation=True)
        client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=[...])
        assert fake.requests[0].json["model"] == "claude-sonnet-5-5"

Why a server rather than mocks: crashfix's model calls depend on the SDK's retries, SSE parsing and
stream accumulation, which only real HTTP exercises. The fake answers from a script of turns, checks
requests as strictly as the real API (tool_use/tool_result pairing, thinking signatures, cache_control
limits, removed sampling parameters), bills tokens deterministically with prompt caching, and fails on
demand (429 with retry-after, 529, 5xx, a stream that breaks off with an `error` event).
"""

from __future__ import annotations

import collections
import copy
import json
import re
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tests.fakes.anthropic_http import FakeBug, Handler, RecordedRequest, Reply, Server, Stream
from tests.fakes.anthropic_script import (
    Json,
    Script,
    Signer,
    Turn,
    as_turn,
    new_id,
    redacted_thinking,
    render,
    text,
    thinking,
    tool_use,
)
from tests.fakes.anthropic_sse import events
from tests.fakes.anthropic_usage import PromptCache, count_input_tokens
from tests.fakes.anthropic_validate import DEFAULT_MODELS, ApiError, ModelSpec, validate

__all__ = ["FakeAnthropic", "ModelSpec", "RecordedRequest", "Turn", "redacted_thinking", "text", "thinking",
           "tool_use"]

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 504: "timeout_error", 529: "overloaded_error"}
ERROR_MESSAGES = {
    "rate_limit_error": "This request would exceed your organization's rate limit of 50 requests per minute "
                        "(https://docs.claude.com/en/api/rate-limits). Please try again later.",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
}
ROUTES = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}


@dataclass
class _Fault:
    kind: str  # "status" | "stream"
    remaining: int
    status: int = 500
    retry_after: float | None = None
    should_retry: bool | None = None
    message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    after_events: int = 0
    path: str | None = None
    drop: bool = False

    def take(self, path: str, streamed: bool) -> bool:
        if self.remaining <= 0 or (self.kind == "stream" and not streamed):
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        self.remaining -= 1
        return True


class FakeAnthropic:
    """The Messages API at `url` (http://127.0.0.1:PORT), answering from a script of turns.

    `models` maps each known model id to its ModelSpec (others get 404); `cache_min_tokens` is the
    smallest cacheable prefix; `thinking_display` is what a request that does not set
    `thinking.display` gets ("omitted": thinking text empty, signature kept); `strict_alternation`
    refuses consecutive same-role messages, which the real API merges.
    """

    def __init__(self, api_key: str = "test-key", *, models: Mapping[str, ModelSpec] | None = None,
                 cache_min_tokens: int = 1024, thinking_display: str = "omitted", strict_alternation: bool = False,
                 signing_key: bytes | None = None) -> None:
        self.api_key = api_key
        self.models: dict[str, ModelSpec] = dict(DEFAULT_MODELS if models is None else models)
        self.thinking_display = thinking_display
        self.strict_alternation = strict_alternation
        self.stream_interval = 0.0  # seconds between streamed events, for clients' read timeouts
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[str] = []  # bugs in the fake or its script (answered with 500)
        self.lock = threading.RLock()
        self._clock_offset = 0.0
        self.cache = PromptCache(min_tokens=cache_min_tokens, clock=self.now)
        self._signer = Signer(signing_key)
        self._script: collections.deque[Script] = collections.deque()
        self._faults: list[_Fault] = []
        self._thought_tool_ids: set[str] = set()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeAnthropic is not started")
        return self._url

    def start(self) -> FakeAnthropic:
        server = Server(("127.0.0.1", 0), Handler)
        server.fake = self
        self._server = server
        self._url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections, so no client hangs on a dead fake."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- script and inspection ------------------------------------------------------------------

    def enqueue(self, *turns: Script) -> None:
        """Answers for the next requests, in order: a Turn, or a callable given the request JSON returning one."""
        with self.lock:
            for turn in turns:
                if not isinstance(turn, Turn) and not callable(turn):
                    raise TypeError(f"enqueue takes Turns or callables, not {turn!r}")
                self._script.append(turn)

    def remaining(self) -> int:
        """Scripted turns not yet used."""
        with self.lock:
            return len(self._script)

    def message_requests(self) -> list[RecordedRequest]:
        """Requests to POST /v1/messages only (not count_tokens), in arrival order."""
        with self.lock:
            return [request for request in self.requests if request.path == "/v1/messages"]

    def now(self) -> float:
        """The fake's clock (time.time() plus `advance_clock`), which prompt-cache TTLs run on."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Let time pass for the prompt cache without sleeping (e.g. 301 s expires 5-minute entries)."""
        with self.lock:
            self._clock_offset += seconds

    # -- failure switches -----------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 429, *, retry_after: float | None = None,
                  should_retry: bool | None = None, message: str | None = None, error_type: str | None = None,
                  error_code: str | None = None, path: str | None = None) -> None:
        """Answer the next `count` requests (whose path matches regex `path`) with an API error.

        429 always carries `retry-after` (`retry_after`, default 1 s); other statuses only when
        `retry_after` is given. `should_retry` sets `x-should-retry`; `error_code` sets
        `error.details.error_code` (e.g. "enforced_spend_limit_reached").
        """
        with self.lock:
            if status == 429 and retry_after is None:
                retry_after = 1.0
            self._faults.append(_Fault("status", count, status=status, retry_after=retry_after,
                                       should_retry=should_retry, message=message, error_type=error_type,
                                       error_code=error_code, path=path))

    def break_stream_next(self, after_events: int = 3, *, count: int = 1, error_type: str = "overloaded_error",
                          message: str | None = None, drop: bool = False) -> None:
        """The next `count` streamed answers send `after_events` events, then an `error` event, and end.

        The status is 200 (the stream had begun), so the SDK raises from the stream and does not retry.
        No turn is consumed: the partial answer previews the next scripted Turn (or a placeholder).
        With `drop`, the connection is closed instead of sending the `error` event (a network failure).
        """
        with self.lock:
            self._faults.append(_Fault("stream", count, status=200, error_type=error_type, message=message,
                                       after_events=after_events, drop=drop))

    # -- serving (called from the handler threads) ----------------------------------------------

    def _serve(self, record: RecordedRequest, headers: dict[str, str]) -> Reply | Stream:
        self._authenticate(headers)
        version = headers.get("anthropic-version")
        if not version:
            raise ApiError(400, "invalid_request_error", "anthropic-version: header is required")
        route = ROUTES.get(record.path)
        if route is None or record.method != "POST":
            raise ApiError(404, "not_found_error", "Not Found")
        with self.lock:
            fault = next((f for f in self._faults if f.kind == "status" and f.take(record.path, False)), None)
        if fault is not None:
            raise self._fault_error(fault)
        body = record.json
        with self.lock:
            thought = set(self._thought_tool_ids)
        validate(body, models=self.models, version=version, signer=self._signer, count_tokens=route == "count_tokens",
                 strict_alternation=self.strict_alternation, thought_tool_ids=thought)
        if route == "count_tokens":
            return Reply(200, {"input_tokens": count_input_tokens(body)})
        with self.lock:
            broken = next((f for f in self._faults if f.kind == "stream" and f.take(record.path, record.streamed)),
                          None)
            if broken is not None:
                upcoming = self._script[0] if self._script else None
                turn = upcoming if isinstance(upcoming, Turn) else Turn([text("Looking at the crash now.")])
                message = self._message(body, turn, commit=False)
                error = {"type": "error", "error": {"type": broken.error_type, "message": broken.message
                                                    or ERROR_MESSAGES.get(broken.error_type or "", "Error")}}
                stream = events(message)
                if broken.drop:
                    return Stream(stream, cut=min(broken.after_events, len(stream) - 1), drop=True)
                return Stream(stream, error=error, cut=min(broken.after_events, len(stream) - 1))
            if body["max_tokens"] == 0:  # cache pre-warming: no generation, no turn used
                turn = Turn([])
            elif not self._script:
                raise FakeBug(f"no scripted turn left for request #{len(self.requests)}: {json.dumps(body)[:2000]}")
            else:
                item = self._script.popleft()
                turn = item if isinstance(item, Turn) else self._call(item, body)
            message = self._message(body, turn, commit=True)
            record.response_json = message
        if record.streamed:
            return Stream(events(message), delay=turn.delay)
        return Reply(200, message, delay=turn.delay)

    def _call(self, item: Any, body: Json) -> Turn:
        try:
            return as_turn(item(copy.deepcopy(body)))
        except Exception as error:
            raise FakeBug(f"the scripted callable failed:\n{traceback.format_exc()}") from error

    def _message(self, body: Json, turn: Turn, *, commit: bool) -> Json:
        config = body.get("thinking") or {}
        display = config.get("display") or self.thinking_display
        rendered = render(turn, max_tokens=body["max_tokens"], show_thinking=display == "summarized",
                          think=config.get("type") != "disabled", signer=self._signer)
        usage = self.cache.account(body["model"], body, commit=commit).as_json()
        usage["output_tokens"] = rendered.output_tokens
        if rendered.thinking_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": rendered.thinking_tokens}
        usage["service_tier"] = "standard"
        if commit and any(block["type"] in ("thinking", "redacted_thinking") for block in rendered.content):
            self._thought_tool_ids.update(block["id"] for block in rendered.content if block["type"] == "tool_use")
        return {"id": new_id("msg_01"), "type": "message", "role": "assistant", "model": body["model"],
                "content": rendered.content, "stop_reason": rendered.stop_reason,
                "stop_sequence": rendered.stop_sequence, "stop_details": None, "usage": usage}

    def _authenticate(self, headers: dict[str, str]) -> None:
        key = headers.get("x-api-key")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if key is None and not token:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        if key is not None and key != self.api_key:
            raise ApiError(401, "authentication_error", "invalid x-api-key")
        if key is None and (scheme.lower() != "bearer" or token.strip() != self.api_key):
            raise ApiError(401, "authentication_error", "Invalid bearer token")

    @staticmethod
    def _fault_error(fault: _Fault) -> ApiError:
        kind = fault.error_type or ERROR_TYPES.get(fault.status, "api_error" if fault.status >= 500
                                                   else "invalid_request_error")
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            seconds = fault.retry_after
            headers["retry-after"] = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
        if fault.should_retry is not None:
            headers["x-should-retry"] = "true" if fault.should_retry else "false"
        error = ApiError(fault.status, kind, fault.message or ERROR_MESSAGES.get(kind, "Injected failure"), headers)
        error.details = {"error_code": fault.error_code} if fault.error_code else None
        return error

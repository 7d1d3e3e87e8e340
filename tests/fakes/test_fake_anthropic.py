"""The fake Anthropic API behaves as the real one does for the real anthropic SDK, failures included.

crashfix's model client is tested against this fake, so the fake itself must be right: every test
drives it through `anthropic.Anthropic` over HTTP with strict response validation (a malformed
answer fails the SDK) and checks both what the client sees and what the fake recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from tests.fakes.anthropic_server import FakeAnthropic, Turn, redacted_thinking, text, thinking, tool_use

MODEL = "claude-sonnet-5-5"
TOOLS: list[Any] = [{"name": "read_file", "description": "Read a source file.",
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]
ASK: list[Any] = [{"role": "user", "content": "Why does the server crash in Player::Update?"}]
LONG_SYSTEM = "You fix crashes in a C++ game server. " * 120  # ~4,600 characters: above the 1,024-token cache minimum


_OPEN: list[anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    """Each test's SDK clients are closed after it, so no pooled socket outlives its fake."""
    yield
    while _OPEN:
        _OPEN.pop().close()


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server
        assert not server.server_errors, server.server_errors[0]


def client(fake: FakeAnthropic, *, api_key: str = "test-key", max_retries: int = 0,
           timeout: float = 10) -> anthropic.Anthropic:
    llm = anthropic.Anthropic(base_url=fake.url, api_key=api_key, max_retries=max_retries, timeout=timeout,
                              _strict_response_validation=True)
    _OPEN.append(llm)
    return llm


def create(fake: FakeAnthropic, **kwargs: Any) -> Any:  # Any: tests reach into content blocks by type
    arguments: dict[str, Any] = {"model": MODEL, "max_tokens": 2000, "messages": ASK, **kwargs}
    return client(fake).messages.create(**arguments)


def without_signatures(message: Any) -> dict[str, Any]:
    """A message as JSON minus what differs between two renderings of one turn: ids and signatures."""
    data = message.model_dump(exclude={"id"}, exclude_none=True)
    for block in data["content"]:
        block.pop("signature", None)
        block.pop("parsed_output", None)
    return data


# -- answers ----------------------------------------------------------------------------------


def test_a_text_reply_arrives_with_ids_usage_and_the_request_recorded(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("A null Player pointer is dereferenced.")]))
    message = create(fake)
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "A null Player pointer is dereferenced."
    assert message.stop_reason == "end_turn" and message.id.startswith("msg_01")
    assert message._request_id is not None and message._request_id.startswith("req_")
    block = json.dumps({"text": ASK[0]["content"], "type": "text"}, separators=(",", ":"))
    assert message.usage.input_tokens == -(-len("user:" + block) // 4)  # ceil(chars / 4) of the tagged block
    assert message.usage.output_tokens == -(-len(message.content[0].text) // 4)
    assert (message.usage.cache_creation_input_tokens, message.usage.cache_read_input_tokens) == (0, 0)
    [request] = fake.requests
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.headers["anthropic-version"] == "2026-10-21"
    assert request.json["messages"] == ASK and request.streamed is False and request.status == 200
    assert fake.remaining() == 0


def test_streaming_adds_up_to_the_same_message_as_a_plain_answer(fake: FakeAnthropic) -> None:
    turn = Turn([thinking("Player* can be null after logout."), text("Let me read the function first. " * 3),
                 tool_use("read_file", {"path": "src/player.cpp", "lines": [10, 80]}, id="toolu_01fixed")])
    fake.enqueue(turn, turn, turn)
    shown = {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 4000, "messages": ASK, "tools": TOOLS, "thinking": shown}
    plain = client(fake).messages.create(**kwargs)
    with client(fake).messages.stream(**kwargs) as stream:
        streamed = stream.get_final_message()
    assert without_signatures(streamed) == without_signatures(plain)
    assert plain.stop_reason == "tool_use" and plain.content[0].thinking == "Player* can be null after logout."
    assert getattr(streamed.content[0], "signature", None)  # the signature_delta arrived

    # The raw events, as the SDK parses them: one start/stop per block, deltas in between.
    raw = list(client(fake).messages.create(**kwargs, stream=True))
    kinds = [event.type for event in raw]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 3
    assert raw[0].message.content == [] and raw[0].message.usage.output_tokens == 1
    pieces = [event.delta.partial_json for event in raw
              if event.type == "content_block_delta" and event.delta.type == "input_json_delta"]
    assert len(pieces) > 1 and json.loads("".join(pieces)) == {"path": "src/player.cpp", "lines": [10, 80]}
    for piece in pieces:
        with pytest.raises(ValueError):
            json.loads(piece)
    deltas = [event.delta.type for event in raw if event.type == "content_block_delta"]
    assert deltas.index("signature_delta") > deltas.index("thinking_delta")
    assert raw[-2].usage.output_tokens == plain.usage.output_tokens
    assert [request.streamed for request in fake.requests] == [False, True, True]


def test_the_stream_is_framed_as_server_sent_events_with_pings(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("one"), text("two")]))
    with client(fake).messages.with_streaming_response.create(model=MODEL, max_tokens=100, messages=ASK,
                                                             stream=True) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_")
        body = b"".join(response.iter_bytes()).decode()
    frames = body.split("\n\n")
    assert frames[-1] == ""  # every event ends with a blank line
    for block in frames[:-1]:
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        assert json.loads(data[len("data: "):])["type"] == name[len("event: "):]
    names = [block.split("\n")[0][len("event: "):] for block in frames[:-1]]
    assert names[:2] == ["message_start", "ping"] and names.count("ping") == 2


def test_a_tool_loop_gets_the_result_back_and_answers(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("I need the source."), tool_use("read_file", {"path": "src/player.cpp"})]))
    seen: list[dict[str, Any]] = []

    def second(request: dict[str, Any]) -> Turn:
        seen.append(request)
        return Turn([text("Line 42 dereferences a null session.")])

    fake.enqueue(second)
    llm = client(fake)
    first = llm.messages.create(model=MODEL, max_tokens=1000, messages=ASK, tools=TOOLS)
    assert first.stop_reason == "tool_use"
    call = first.content[1]
    assert call.type == "tool_use" and call.id.startswith("toolu_01") and call.input == {"path": "src/player.cpp"}
    messages = [*ASK, {"role": "assistant", "content": first.content},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "int x;"}]}]
    final: Any = llm.messages.create(model=MODEL, max_tokens=1000, messages=messages, tools=TOOLS)
    assert final.stop_reason == "end_turn" and final.content[0].text.startswith("Line 42")
    assert seen[0]["messages"][2]["content"][0]["tool_use_id"] == call.id
    assert fake.remaining() == 0 and len(fake.requests) == 2


def test_tool_use_and_tool_result_must_pair_up(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([tool_use("read_file", {"path": "a.cpp"})]), Turn([text("unused")]))
    call = create(fake, tools=TOOLS).content[0]
    said = {"role": "assistant", "content": [call]}
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "int x;"}
    note = {"type": "text", "text": "Here it is."}
    cases = [
        ([*ASK, said, {"role": "user", "content": "What now?"}],
         f"messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: {call.id}."),
        ([*ASK, said, {"role": "user", "content": [note, result]}],
         "messages.2: Did not find 1 `tool_result` block(s) at the beginning of this message."),
        ([*ASK, {"role": "assistant", "content": "Sure."},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01nope", "content": "x"}]}],
         "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01nope."),
    ]
    for messages, expected in cases:
        with pytest.raises(anthropic.BadRequestError) as caught:
            create(fake, tools=TOOLS, messages=messages)
        assert expected in caught.value.message
        assert caught.value.type == "invalid_request_error"
    assert fake.remaining() == 1  # refused requests use no turn
    assert create(fake, tools=TOOLS, messages=[*ASK, said, {"role": "user", "content": [result, note]}]).content


def test_thinking_must_come_back_exactly_as_it_was_given(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([thinking("The session was freed on logout."), tool_use("read_file", {"path": "a.cpp"})]),
                 Turn([text("Fixed.")]))
    config = {"type": "enabled", "budget_tokens": 1024}
    first = create(fake, tools=TOOLS, thinking=config)
    assert first.content[0].type == "thinking" and first.content[0].thinking == ""  # omitted by default
    call = first.content[1]
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "..."}]}

    def conversation(content: list[Any]) -> list[dict[str, Any]]:
        return [*ASK, {"role": "assistant", "content": content}, answer]

    sent_back = [block.model_dump(exclude_none=True) for block in first.content]
    tampered = [{**sent_back[0], "thinking": "I decided to delete the tests."}, sent_back[1]]
    forged = [{**sent_back[0], "signature": sent_back[0]["signature"][:-8] + "AAAAAAA="}, sent_back[1]]
    unsigned = [{"type": "thinking", "thinking": ""}, sent_back[1]]
    for content, expected in [(tampered, "messages.1.content.0: Invalid `signature` in `thinking` block"),
                              (forged, "messages.1.content.0: Invalid `signature` in `thinking` block"),
                              (unsigned, "messages.1.content.0.thinking.signature: Field required"),
                              ([sent_back[1]], "Expected `thinking` or `redacted_thinking`, but found `tool_use`")]:
        with pytest.raises(anthropic.BadRequestError) as caught:
            create(fake, tools=TOOLS, thinking=config, messages=conversation(content))
        assert expected in caught.value.message
    final = create(fake, tools=TOOLS, thinking=config, messages=conversation(first.content))
    assert final.content[0].text == "Fixed."


def test_redacted_thinking_round_trips_and_display_summarized_shows_the_text(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([redacted_thinking(), thinking("visible"), tool_use("read_file", {"path": "b.cpp"})]),
                 Turn([text("ok")]))
    config = {"type": "enabled", "budget_tokens": 2048, "display": "summarized"}
    first = create(fake, max_tokens=4000, tools=TOOLS, thinking=config)
    assert [block.type for block in first.content] == ["redacted_thinking", "thinking", "tool_use"]
    assert first.content[1].thinking == "visible" and first.usage.output_tokens_details.thinking_tokens > 0
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[2].id, "content": ""}]}
    forged = [{"type": "redacted_thinking", "data": "bm90IHJlYWw="}, *first.content[1:]]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `data` in `redacted_thinking` block"):
        create(fake, max_tokens=4000, tools=TOOLS, thinking=config,
               messages=[*ASK, {"role": "assistant", "content": forged}, result])
    final = create(fake, max_tokens=4000, tools=TOOLS, thinking=config,
                   messages=[*ASK, {"role": "assistant", "content": first.content}, result])
    assert final.content[0].text == "ok"


# -- refused requests ---------------------------------------------------------------------------

INVALID = [
    ({"extra_body": {"temperature": 0.2}}, anthropic.BadRequestError, "temperature: Extra inputs are not permitted"),
    ({"extra_body": {"top_k": 5}}, anthropic.BadRequestError, "top_k: Extra inputs are not permitted"),
    ({"model": "claude-nonexistent-9"}, anthropic.NotFoundError, "model: claude-nonexistent-9"),
    ({"max_tokens": 64001}, anthropic.BadRequestError,
     "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-5-5"),
    ({"messages": [{"role": "assistant", "content": "Hi"}, *ASK]}, anthropic.BadRequestError,
     'first message must use the "user" role'),
    ({"messages": [*ASK, {"role": "assistant", "content": "The crash is"}]}, anthropic.BadRequestError,
     "Prefilling assistant messages is not supported for this model."),
    ({"messages": [{"role": "user", "content": ""}]}, anthropic.BadRequestError,
     "text content blocks must be non-empty"),
    ({"tools": [{"name": "read file", "input_schema": {"type": "object"}}]}, anthropic.BadRequestError,
     "tools.0.custom.name: String should match pattern"),
    ({"tools": [{"name": "read_file", "input_schema": {"type": "array"}}]}, anthropic.BadRequestError,
     "tools.0.custom.input_schema.type: Input should be 'object'"),
    ({"tools": [{"name": "read_file"}]}, anthropic.BadRequestError, "tools.0.custom.input_schema: Field required"),
    ({"tool_choice": {"type": "any"}}, anthropic.BadRequestError,
     "tool_choice may only be specified while providing tools."),
    ({"tools": TOOLS, "tool_choice": {"type": "tool", "name": "write_file"}}, anthropic.BadRequestError,
     "Tool 'write_file' not found"),
    ({"tools": TOOLS, "tool_choice": {"type": "any"}, "thinking": {"type": "enabled", "budget_tokens": 1024}},
     anthropic.BadRequestError, "Thinking may not be enabled when tool_choice forces tool use."),
    ({"thinking": {"type": "enabled", "budget_tokens": 4000}}, anthropic.BadRequestError,
     "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ({"system": [{"type": "text", "text": f"part {n}", "cache_control": {"type": "ephemeral"}} for n in range(5)]},
     anthropic.BadRequestError, "A maximum of 4 blocks with cache_control may be provided. Found 5."),
    ({"system": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                 {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
     anthropic.BadRequestError, "ttl='1h' must not come after one with ttl='5m'"),
    ({"extra_body": {"max_token": 5}}, anthropic.BadRequestError, "max_token: Extra inputs are not permitted"),
    ({"messages": [*ASK, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_01same", "name": "read_file", "input": {}},
        {"type": "tool_use", "id": "toolu_01same", "name": "read_file", "input": {}}]}]},
     anthropic.BadRequestError, "messages.1.content.1: `tool_use` ids must be unique"),
    ({"messages": [*ASK, {"role": "system", "content": [{"type": "image", "source": {}}]}]},
     anthropic.BadRequestError, "messages.1.content.0.type: Input should be 'text'"),
]


@pytest.mark.parametrize(("kwargs", "error", "expected"), INVALID, ids=[case[2][:40] for case in INVALID])
def test_invalid_requests_are_refused_as_the_api_refuses_them(fake: FakeAnthropic, kwargs: dict[str, Any],
                                                              error: type[Exception], expected: str) -> None:
    fake.enqueue(Turn([text("never sent")]))
    with pytest.raises(error) as caught:
        create(fake, **kwargs)
    assert expected in str(caught.value)
    assert isinstance(caught.value, anthropic.APIStatusError)
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["request_id"] == caught.value.request_id
    assert fake.remaining() == 1 and len(fake.requests) == 1  # never retried, no turn used


def test_consecutive_same_role_messages_are_merged_unless_alternation_is_strict() -> None:
    twice = [*ASK, {"role": "system", "content": "Be brief."}, {"role": "user", "content": "It happens at logout."}]
    with FakeAnthropic() as lenient:
        lenient.enqueue(Turn([text("ok")]))
        assert create(lenient, messages=twice).content[0].text == "ok"
    with FakeAnthropic(strict_alternation=True) as strict:
        with pytest.raises(anthropic.BadRequestError, match='found multiple "user" roles in a row'):
            create(strict, messages=twice)


def test_older_models_accept_prefill(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("null pointer.")]))
    message = create(fake, model="claude-haiku-4-5", messages=[*ASK, {"role": "assistant", "content": "It is a"}])
    assert message.model == "claude-haiku-4-5"


def test_a_wrong_key_or_missing_version_header_is_refused(fake: FakeAnthropic) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(fake, api_key="wrong-key").messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert caught.value.status_code == 401 and caught.value.type == "authentication_error"
    assert caught.value.request_id and caught.value.request_id.startswith("req_")
    with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):  # the 0.x SDKs' header
        client(fake).messages.create(model=MODEL, max_tokens=10, messages=ASK,
                                     extra_headers={"X-Api-Key": "wrong-key", "Authorization": anthropic.omit})
    with pytest.raises(anthropic.BadRequestError, match="anthropic-version: header is required"):
        client(fake).messages.create(model=MODEL, max_tokens=10, messages=ASK,
                                     extra_headers={"anthropic-version": anthropic.omit})
    with pytest.raises(anthropic.NotFoundError):
        client(fake).get("/v1/models", cast_to=object)
    assert [request.status for request in fake.requests] == [401, 401, 400, 404]
    assert "authorization" not in fake.requests[1].headers


def test_a_long_turn_is_cut_at_max_tokens(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("x" * 400), tool_use("read_file", {"path": "a.cpp"})]), Turn([text("short")],
                                                                                       stop_reason="max_tokens"))
    cut = create(fake, max_tokens=50, tools=TOOLS)
    assert cut.stop_reason == "max_tokens" and cut.content[0].text == "x" * 200 and len(cut.content) == 1
    assert cut.usage.output_tokens == 50
    assert create(fake).stop_reason == "max_tokens"


# -- failures -------------------------------------------------------------------------------------


def test_a_429_is_retried_after_retry_after_and_then_succeeds(fake: FakeAnthropic) -> None:
    fake.fail_next(status=429)  # retry-after: 1, while the SDK's own first backoff is at most 0.5 s
    fake.enqueue(Turn([text("done")]))
    started = time.monotonic()
    message = client(fake, max_retries=2).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    elapsed = time.monotonic() - started
    assert message.content[0].to_dict() == {"type": "text", "text": "done"}
    assert [request.status for request in fake.requests] == [429, 200]
    assert fake.requests[0].response_headers["retry-after"] == "1" and elapsed >= 1.0
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"
    first = fake.requests[0].response_json
    assert first["error"]["type"] == "rate_limit_error" and first["request_id"].startswith("req_")


def test_529_is_retried_until_the_retries_run_out(fake: FakeAnthropic) -> None:
    fake.fail_next(count=5, status=529, retry_after=0.05)
    fake.enqueue(Turn([text("never")]))
    with pytest.raises(anthropic.OverloadedError) as caught:  # an InternalServerError subclass
        client(fake, max_retries=2).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert isinstance(caught.value, anthropic.InternalServerError) and caught.value.type == "overloaded_error"
    assert [request.status for request in fake.requests] == [529, 529, 529]
    assert fake.remaining() == 1


def test_400_and_should_retry_false_are_not_retried(fake: FakeAnthropic) -> None:
    fake.fail_next(status=400, message="messages: bad")
    with pytest.raises(anthropic.BadRequestError, match="messages: bad"):
        client(fake, max_retries=3).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert len(fake.requests) == 1
    fake.fail_next(status=500, should_retry=False)
    with pytest.raises(anthropic.InternalServerError):
        client(fake, max_retries=3).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert len(fake.requests) == 2 and fake.requests[1].status == 500


def test_a_spend_limit_429_raises_its_own_error(fake: FakeAnthropic) -> None:
    fake.fail_next(status=429, retry_after=60, should_retry=False, error_code="enforced_spend_limit_reached",
                   message="You have reached your specified API usage limits.")
    with pytest.raises(anthropic.EnforcedSpendLimitReachedError) as caught:
        client(fake, max_retries=2).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert isinstance(caught.value, anthropic.RateLimitError) and caught.value.error_code == "enforced_spend_limit_reached"
    assert len(fake.requests) == 1 and fake.requests[0].response_json["error"]["details"]


def test_a_stream_broken_by_an_error_event_raises_and_is_not_retried(fake: FakeAnthropic) -> None:
    fake.break_stream_next(after_events=4)
    fake.enqueue(Turn([text("The whole answer, which streams in several pieces. " * 4)]))
    llm = client(fake, max_retries=2)
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with llm.messages.stream(model=MODEL, max_tokens=1000, messages=ASK) as stream:
            for event in stream:
                received.append(event.type)
    error = caught.value
    assert error.status_code == 200 and error.type == "overloaded_error"
    assert not isinstance(error, anthropic.InternalServerError)  # so the SDK's retry loop never sees it
    assert "message_start" in received and "message_stop" not in received
    assert len(fake.requests) == 1 and fake.remaining() == 1  # the turn is still there for the retry
    with llm.messages.stream(model=MODEL, max_tokens=1000, messages=ASK) as stream:
        assert stream.get_final_text().startswith("The whole answer")


def test_a_slow_answer_runs_into_the_client_timeout(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("late")], delay=0.5), Turn([text("slow stream")]))
    llm = client(fake, timeout=0.2)
    with pytest.raises(anthropic.APITimeoutError):
        llm.messages.create(model=MODEL, max_tokens=10, messages=ASK)
    fake.stream_interval = 0.3  # every event waits: a stalled stream times out on read...
    with llm.messages.stream(model=MODEL, max_tokens=10, messages=ASK) as stream:
        with pytest.raises(httpx2.ReadTimeout):  # ...raised by httpx2 itself, not as an anthropic.APIError
            stream.get_final_message()
    assert fake.remaining() == 0


# -- tokens and caching -------------------------------------------------------------------------


def cached_system() -> list[dict[str, Any]]:
    return [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]


def test_a_cached_prefix_is_written_once_then_read(fake: FakeAnthropic) -> None:
    fake.enqueue(*[Turn([text("ok")]) for _ in range(4)])
    first = create(fake, system=cached_system())
    second = create(fake, system=cached_system())
    assert first.usage.cache_creation_input_tokens > 1024 and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens < first.usage.cache_creation_input_tokens
    fake.advance_clock(301)  # past the 5-minute TTL
    assert create(fake, system=cached_system()).usage.cache_read_input_tokens == 0
    short = [{"type": "text", "text": "Short.", "cache_control": {"type": "ephemeral"}}]
    assert create(fake, system=short).usage.cache_creation_input_tokens == 0  # below the minimum: not cached


def test_a_breakpoint_moved_forward_reads_the_earlier_prefix(fake: FakeAnthropic) -> None:
    """The tool-loop pattern: each call marks its newest block; the previous prefix is read back."""
    fake.enqueue(Turn([tool_use("read_file", {"path": "a.cpp"})]), Turn([text("ok")]))
    ask = [{"role": "user", "content": [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]}]
    first = create(fake, messages=ask, tools=TOOLS)
    call = first.content[0]
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "int main() { return 0; }" * 20,
              "cache_control": {"type": "ephemeral"}}
    later: list[Any] = [{"role": "user", "content": [{"type": "text", "text": LONG_SYSTEM}]},
             {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    second = create(fake, messages=later, tools=TOOLS)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    total = client(fake).messages.count_tokens(model=MODEL, messages=later, tools=TOOLS).input_tokens
    assert second.usage.cache_creation_input_tokens == total - second.usage.cache_read_input_tokens
    assert second.usage.input_tokens == 0


def test_count_tokens_matches_the_usage_of_the_same_request(fake: FakeAnthropic) -> None:
    fake.enqueue(Turn([text("ok")]), Turn([text("ok")]))
    kwargs: dict[str, Any] = {"model": MODEL, "messages": ASK, "tools": TOOLS, "system": cached_system()}
    counted = client(fake).messages.count_tokens(**kwargs).input_tokens
    for _ in range(2):  # once written to the cache, once read from it
        usage = create(fake, **kwargs).usage
        assert usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens == counted
    assert fake.requests[0].path == "/v1/messages/count_tokens" and fake.requests[0].response_json is None


def test_max_tokens_zero_warms_the_cache_without_using_a_turn(fake: FakeAnthropic) -> None:
    warm = create(fake, max_tokens=0, system=cached_system())
    assert warm.content == [] and warm.stop_reason == "max_tokens" and warm.usage.output_tokens == 0
    fake.enqueue(Turn([text("ok")]))
    assert create(fake, system=cached_system()).usage.cache_read_input_tokens == warm.usage.cache_creation_input_tokens


# -- the fake's own failures ------------------------------------------------------------------


def test_an_exhausted_script_answers_500_once_and_records_a_server_error(fake: FakeAnthropic) -> None:
    with pytest.raises(anthropic.InternalServerError):
        client(fake, max_retries=2).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert len(fake.requests) == 1  # x-should-retry: false, so the test fails at once
    assert fake.server_errors and "no scripted turn left" in fake.server_errors[0]
    fake.server_errors.clear()


def test_a_failing_scripted_callable_is_reported(fake: FakeAnthropic) -> None:
    def check(request: dict[str, Any]) -> Turn:
        assert request["max_tokens"] == 5, "the client asked for the wrong budget"
        return Turn([text("ok")])

    fake.enqueue(check)
    with pytest.raises(anthropic.InternalServerError):
        client(fake).messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert "the client asked for the wrong budget" in fake.server_errors[0]
    fake.server_errors.clear()

"""A finished message as the API streams it: the server-sent events, in order, before framing.

message_start (empty content, input usage, output_tokens 1), a ping, then per block
content_block_start / content_block_delta… / content_block_stop (text and thinking in several deltas,
tool input as `input_json_delta` chunks that parse only once joined, the thinking signature last as a
`signature_delta`), pings between blocks, message_delta (stop reason and cumulative usage) and message_stop.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.anthropic_script import Json

Event = tuple[str, Json]
CHUNK_CHARS = 24
MAX_CHUNKS = 64


def frame(name: str, data: Any) -> bytes:
    """One SSE event: `event:` and `data:` lines and the blank line that ends it."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _pieces(value: str) -> list[str]:
    """A string as the deltas of a stream: a few chunks, never more than MAX_CHUNKS."""
    if not value:
        return []
    size = max(CHUNK_CHARS, -(-len(value) // MAX_CHUNKS))
    return [value[start:start + size] for start in range(0, len(value), size)]


def _json_pieces(value: Json) -> list[str]:
    """Tool input as partial JSON, split after `{`, `,` or `:` (never inside an escape), at least in two."""
    if not value:
        return [""]  # the API sends a single empty delta for a tool called without arguments
    whole = json.dumps(value, ensure_ascii=False)
    cuts = [match.end() for match in re.finditer(r"[{,:]", whole)][:MAX_CHUNKS]
    bounds = [0] + [cut for cut in cuts if 0 < cut < len(whole)] + [len(whole)]
    return [whole[start:end] for start, end in zip(bounds, bounds[1:]) if end > start]


def events(message: Json) -> list[Event]:
    """The stream of a complete (non-streaming shaped) message."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": min(usage["output_tokens"], 1)}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    out: list[Event] = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]
    for index, block in enumerate(message["content"]):
        if index:
            out.append(("ping", {"type": "ping"}))
        kind = block["type"]
        if kind == "text":
            out.append(_start(index, {"type": "text", "text": ""}))
            out += [_delta(index, {"type": "text_delta", "text": piece}) for piece in _pieces(block["text"])]
        elif kind == "thinking":
            out.append(_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
            out += [_delta(index, {"type": "thinking_delta", "thinking": piece}) for piece in _pieces(block["thinking"])]
            out.append(_delta(index, {"type": "signature_delta", "signature": block["signature"]}))
        elif kind == "tool_use":
            out.append(_start(index, {**block, "input": {}}))
            out += [_delta(index, {"type": "input_json_delta", "partial_json": piece})
                    for piece in _json_pieces(block["input"])]
        else:
            out.append(_start(index, block))  # redacted_thinking: whole at the start, no deltas
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    final_usage = {key: usage[key] for key in ("input_tokens", "cache_creation_input_tokens",
                                               "cache_read_input_tokens", "output_tokens") if key in usage}
    if "output_tokens_details" in usage:
        final_usage["output_tokens_details"] = usage["output_tokens_details"]
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def _start(index: int, block: Json) -> Event:
    return ("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def _delta(index: int, delta: Json) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

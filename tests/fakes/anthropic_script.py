"""What the fake Anthropic model says: scripted turns, their content blocks, ids and thinking signatures.

A test writes the model's side of a conversation ahead of time:

    fake.enqueue(Turn([thinking("the crash is in Update"), text("Let me look."), tool_use("read_file", {"path": "a.cpp"})]))
    fake.enqueue(lambda request: Turn([text(f"{len(request['messages'])} messages")]))

and the fake renders each turn as the real API would: generated `toolu_`/`msg_` ids, thinking text
shown or omitted as the request asks, signatures the fake can later check, and a `max_tokens` cut
when the turn is longer than the request allows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

STOP_REASONS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                          "model_context_window_exceeded"})
_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id shaped like the API's (`msg_01…`, `toolu_01…`, `req_011C…`): random, so never reused."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(22 if prefix != "req_011C" else 20))


def tokens(chars: int) -> int:
    """The fake's tokenizer: four characters a token, rounded up. Deterministic, roughly right for English and code."""
    return math.ceil(chars / 4)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Thinking:
    """Reasoning before the answer. The full text is billed; it is shown only under `display: summarized`."""

    thinking: str


@dataclass(frozen=True)
class RedactedThinking:
    """Reasoning the API returns only as opaque, signed `data`."""


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: Json = field(default_factory=dict)
    id: str | None = None  # generated (toolu_…) when None


Block = Text | Thinking | RedactedThinking | ToolUse


def text(value: str) -> Text:
    return Text(value)


def thinking(value: str) -> Thinking:
    return Thinking(value)


def redacted_thinking() -> RedactedThinking:
    return RedactedThinking()


def tool_use(name: str, input: Json | None = None, *, id: str | None = None) -> ToolUse:
    return ToolUse(name, dict(input or {}), id)


@dataclass
class Turn:
    """One answer of the model. `stop_reason` None means `tool_use` when a tool is called, else `end_turn`.

    `delay` holds the answer back that many seconds (for client timeouts); `stop_sequence` names the
    custom stop sequence met when `stop_reason` is "stop_sequence".
    """

    content: list[Block]
    stop_reason: str | None = None
    stop_sequence: str | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.stop_reason is not None and self.stop_reason not in STOP_REASONS:
            raise ValueError(f"stop_reason must be one of {sorted(STOP_REASONS)}, not {self.stop_reason!r}")
        if (self.stop_reason == "stop_sequence") != (self.stop_sequence is not None):
            raise ValueError("stop_sequence is given exactly when stop_reason is 'stop_sequence'")
        for block in self.content:
            if not isinstance(block, (Text, Thinking, RedactedThinking, ToolUse)):
                raise TypeError(f"a Turn holds text()/thinking()/redacted_thinking()/tool_use() blocks, not {block!r}")


Script = Turn | Callable[[Json], Any]


def as_turn(answer: Any) -> Turn:
    """What a scripted callable may return: a Turn, a string (one text block) or a list of blocks."""
    if isinstance(answer, Turn):
        return answer
    if isinstance(answer, str):
        return Turn([Text(answer)])
    if isinstance(answer, list):
        return Turn(answer)
    raise TypeError(f"a scripted callable must return a Turn, a str or a list of blocks, not {type(answer).__name__}")


class Signer:
    """Signs thinking the fake produced, so a block sent back changed (or invented) is refused as the API does."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _mac(self, kind: bytes, nonce: bytes, payload: str) -> bytes:
        return hmac.new(self._key, kind + b"\0" + nonce + payload.encode("utf-8"), hashlib.sha256).digest()

    def sign(self, kind: str, payload: str) -> str:
        nonce = secrets.token_bytes(16)
        return base64.b64encode(nonce + self._mac(kind.encode(), nonce, payload)).decode("ascii")

    def verify(self, kind: str, payload: str, signature: Any) -> bool:
        if not isinstance(signature, str):
            return False
        try:
            raw = base64.b64decode(signature.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return False
        if len(raw) != 48:
            return False
        return hmac.compare_digest(raw[16:], self._mac(kind.encode(), raw[:16], payload))


@dataclass
class Rendered:
    """A turn as the API answers it: content blocks, stop reason and the output tokens billed."""

    content: list[Json]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int
    thinking_tokens: int


def render(turn: Turn, *, max_tokens: int, show_thinking: bool, think: bool, signer: Signer) -> Rendered:
    """Blocks with ids and signatures, cut at `max_tokens` as the model would be (stop_reason "max_tokens")."""
    content: list[Json] = []
    budget, used, thinking_used, cut = max_tokens, 0, 0, False
    for block in turn.content:
        if isinstance(block, (Thinking, RedactedThinking)) and not think:
            continue  # thinking disabled by the request: the model answers straight away
        cost = _cost(block)
        if cost > budget - used:
            cut = True
            room = (budget - used) * 4
            if isinstance(block, Text) and room > 0:
                content.append({"type": "text", "text": block.text[:room]})
                used = budget
            elif isinstance(block, Thinking) and room > 0:
                shown = block.thinking[:room] if show_thinking else ""
                content.append({"type": "thinking", "thinking": shown, "signature": signer.sign("thinking", shown)})
                thinking_used += budget - used
                used = budget
            break  # a tool call or redacted block that does not fit is not emitted at all
        used += cost
        if isinstance(block, Text):
            content.append({"type": "text", "text": block.text})
        elif isinstance(block, Thinking):
            shown = block.thinking if show_thinking else ""
            content.append({"type": "thinking", "thinking": shown, "signature": signer.sign("thinking", shown)})
            thinking_used += cost
        elif isinstance(block, RedactedThinking):
            content.append({"type": "redacted_thinking", "data": signer.sign("redacted_thinking", "")})
            thinking_used += cost
        else:
            content.append({"type": "tool_use", "id": block.id or new_id("toolu_01"), "name": block.name,
                            "input": block.input})
    if cut or max_tokens == 0 or turn.stop_reason == "max_tokens":
        stop_reason, stop_sequence = "max_tokens", None
    elif turn.stop_reason is not None:
        stop_reason, stop_sequence = turn.stop_reason, turn.stop_sequence
    else:
        has_tool = any(item["type"] == "tool_use" for item in content)
        stop_reason, stop_sequence = ("tool_use" if has_tool else "end_turn"), None
    return Rendered(content, stop_reason, stop_sequence, max(used, 1) if max_tokens else 0, thinking_used)


def _cost(block: Block) -> int:
    if isinstance(block, Text):
        return tokens(len(block.text))
    if isinstance(block, Thinking):
        return tokens(len(block.thinking))
    if isinstance(block, RedactedThinking):
        return 16
    return tokens(len(block.name) + len(json.dumps(block.input, separators=(",", ":"))))

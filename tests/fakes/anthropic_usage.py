"""Input-token accounting and prompt caching for the fake Anthropic API.

The prompt is read in the API's order — tools, then system, then messages — as a list of blocks.
Tokens are ceil(chars / 4) over each block's canonical JSON (cache_control left out, since moving a
breakpoint does not change the prompt). Caching follows the documented rules:

* a `cache_control` breakpoint caches the prefix up to and including its block, if that prefix holds
  at least `min_tokens` tokens; the part not yet cached is `cache_creation_input_tokens`;
* a prefix written earlier, still within its TTL, is `cache_read_input_tokens`; the lookup also tries
  the 20 block boundaries before each breakpoint, so a breakpoint moved forward still reads the old prefix;
* a read refreshes the entry's TTL; `input_tokens` is only what is neither read nor written.

The same prompt therefore costs `input + creation + read` tokens in total, which is exactly what
count_tokens reports for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.anthropic_script import Json, tokens

LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strip(block: Any) -> Any:
    if isinstance(block, dict):
        return {key: value for key, value in block.items() if key != "cache_control"}
    return block


@dataclass
class PromptBlock:
    """One cacheable unit of the prompt, `where` as the API names it in errors (e.g. messages.2.content.0)."""

    where: str
    text: str  # canonical JSON, tagged with its section and role
    cache_control: Json | None


def prompt_blocks(body: Json) -> list[PromptBlock]:
    """The request's prompt as blocks in cache order; a top-level `cache_control` marks the last one."""
    blocks: list[PromptBlock] = []

    def add(where: str, tag: str, block: Any) -> None:
        control = block.get("cache_control") if isinstance(block, dict) else None
        blocks.append(PromptBlock(where, f"{tag}:{canonical(_strip(block))}", control))

    for number, tool in enumerate(body.get("tools") or []):
        add(f"tools.{number}", "tool", tool)
    system = body.get("system")
    if isinstance(system, str):
        if system:
            add("system", "system", {"type": "text", "text": system})
    elif isinstance(system, list):
        for number, block in enumerate(system):
            add(f"system.{number}", "system", block)
    for number, message in enumerate(body.get("messages") or []):
        role, content = message.get("role"), message.get("content")
        if isinstance(content, str):
            add(f"messages.{number}", str(role), {"type": "text", "text": content})
        else:
            for index, block in enumerate(content or []):
                add(f"messages.{number}.content.{index}", str(role), block)
    automatic = body.get("cache_control")
    if isinstance(automatic, dict) and blocks and blocks[-1].cache_control is None:
        blocks[-1].cache_control = automatic
    return blocks


def count_input_tokens(body: Json) -> int:
    """All input tokens of the prompt, cached or not: what count_tokens answers."""
    return tokens(sum(len(block.text) for block in prompt_blocks(body)))


@dataclass
class InputUsage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    ephemeral_5m_input_tokens: int
    ephemeral_1h_input_tokens: int

    def as_json(self) -> Json:
        return {"input_tokens": self.input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "cache_creation": {"ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                                   "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens}}


class PromptCache:
    """Cached prompt prefixes by hash, each with an expiry time on the fake's clock."""

    def __init__(self, *, min_tokens: int, clock: Callable[[], float]) -> None:
        self.min_tokens = min_tokens
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()

    def __len__(self) -> int:
        now = self._clock()
        with self._lock:
            return sum(1 for expiry in self._expiry.values() if expiry > now)

    def account(self, model: str, body: Json, *, commit: bool = True) -> InputUsage:
        """The request's input usage; with `commit`, also write and refresh cache entries as the API would."""
        blocks = prompt_blocks(body)
        hashes, sizes = [], []
        digest, chars = hashlib.sha256(model.encode()).hexdigest(), 0
        for block in blocks:
            digest = hashlib.sha256((digest + "\0" + block.text).encode()).hexdigest()
            chars += len(block.text)
            hashes.append(digest)
            sizes.append(tokens(chars))
        total = sizes[-1] if sizes else 0
        breakpoints = [index for index, block in enumerate(blocks) if block.cache_control is not None]
        now = self._clock()
        with self._lock:
            hit = -1
            for point in breakpoints:
                for index in range(point, max(point - LOOKBACK_BLOCKS, -1), -1):
                    if index > hit and sizes[index] >= self.min_tokens and self._expiry.get(hashes[index], 0) > now:
                        hit = index
                        break
            read = sizes[hit] if hit >= 0 else 0
            written = {"5m": 0, "1h": 0}
            done = read
            for point in breakpoints:
                control = blocks[point].cache_control or {}
                ttl = control.get("ttl", "5m") if control.get("ttl") in TTL_SECONDS else "5m"
                if sizes[point] < self.min_tokens:
                    continue
                if point > hit:
                    written[ttl] += sizes[point] - done
                    done = sizes[point]
                if commit:  # written now, or read and so refreshed
                    self._expiry[hashes[point]] = max(self._expiry.get(hashes[point], 0), now + TTL_SECONDS[ttl])
            if commit and hit >= 0:
                self._expiry[hashes[hit]] = max(self._expiry[hashes[hit]], now + TTL_SECONDS["5m"])
        creation = written["5m"] + written["1h"]
        return InputUsage(total - read - creation, creation, read, written["5m"], written["1h"])

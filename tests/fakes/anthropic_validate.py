"""Request validation of the fake Anthropic API: the 400s (and model 404s) the real API gives.

Messages follow the real API's wording where it is known (tool_use/tool_result pairing, cache_control
limit, thinking signatures, max_tokens limit) and its pydantic style (`field: Field required`,
`field: Extra inputs are not permitted`) elsewhere, so client code that reports them reads naturally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.anthropic_script import Json, Signer
from tests.fakes.anthropic_usage import prompt_blocks


class ApiError(Exception):
    """An answer in the API's error shape: `status`, `error.type`, `error.message`, extra headers."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {kind}: {message}")
        self.status, self.kind, self.message = status, kind, message
        self.headers = dict(headers or {})
        self.details: Json | None = None  # error.details, e.g. {"error_code": "enforced_spend_limit_reached"}

    def body(self, request_id: str) -> Json:
        inner: Json = {"type": self.kind, "message": self.message}
        if self.details:
            inner["details"] = self.details
        return {"type": "error", "error": inner, "request_id": request_id}


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass(frozen=True)
class ModelSpec:
    """What the fake knows about a model: its output limit and whether it accepts assistant prefill."""

    max_output_tokens: int = 64000
    prefill: bool = False


DEFAULT_MODELS: dict[str, ModelSpec] = {
    "claude-opus-5-5": ModelSpec(64000),
    "claude-sonnet-5-5": ModelSpec(64000),
    "claude-haiku-5-5": ModelSpec(64000),
    "claude-opus-4-6": ModelSpec(128000),
    "claude-sonnet-4-6": ModelSpec(64000),
    "claude-opus-4-5": ModelSpec(64000, prefill=True),
    "claude-opus-4-5-20251101": ModelSpec(64000, prefill=True),
    "claude-sonnet-4-5": ModelSpec(64000, prefill=True),
    "claude-sonnet-4-5-20250929": ModelSpec(64000, prefill=True),
    "claude-haiku-4-5": ModelSpec(64000, prefill=True),
    "claude-haiku-4-5-20251001": ModelSpec(64000, prefill=True),
}

CREATE_FIELDS = frozenset({"model", "messages", "max_tokens", "stream", "cache_control", "container", "diagnostics",
                           "inference_geo", "metadata", "output_config", "service_tier", "speed", "stop_sequences",
                           "system", "thinking", "tool_choice", "tools", "user_profile_id"})
COUNT_FIELDS = frozenset({"model", "messages", "cache_control", "output_config", "speed", "system", "thinking",
                          "tool_choice", "tools", "user_profile_id"})
SAMPLING = ("temperature", "top_p", "top_k")  # refused from API version 2026-10-21 on
SAMPLING_REMOVED_IN = "2026-10-21"
USER_BLOCKS = frozenset({"text", "image", "document", "search_result", "tool_result", "container_upload"})
ASSISTANT_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use",
                              "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
                              "bash_code_execution_tool_result", "text_editor_code_execution_tool_result",
                              "tool_search_tool_result"})
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BREAKPOINTS = 4


def validate(body: Any, *, models: dict[str, ModelSpec], version: str, signer: Signer, count_tokens: bool = False,
             strict_alternation: bool = False, thought_tool_ids: set[str] | frozenset[str] = frozenset()) -> ModelSpec:
    """Raise ApiError for whatever the real API would refuse; return the model's spec.

    `thought_tool_ids` are the tool calls the fake made in turns that began with thinking: while
    thinking is on, such a turn must be sent back starting with its thinking block.
    """
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary")
    allowed = COUNT_FIELDS if count_tokens else CREATE_FIELDS
    if version < SAMPLING_REMOVED_IN:
        allowed = allowed | set(SAMPLING)
    for key in body:
        if key not in allowed:
            raise invalid(f"{key}: Extra inputs are not permitted")
    for key in ("model", "messages") if count_tokens else ("model", "max_tokens", "messages"):
        if key not in body:
            raise invalid(f"{key}: Field required")
    if not isinstance(body["model"], str):
        raise invalid("model: Input should be a valid string")
    max_tokens = body.get("max_tokens", 0)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise invalid("max_tokens: Input should be a valid integer")
    if max_tokens < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid("stream: Input should be a valid boolean")
    _check_system(body.get("system"))
    names = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), names, "tools" in body)
    _check_thinking(body.get("thinking"), body.get("tool_choice"), max_tokens, count_tokens)
    stops = body.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(item, str) for item in stops)):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    messages = _check_messages(body["messages"], signer, strict_alternation)
    if (body.get("thinking") or {}).get("type") != "disabled":
        _check_thinking_kept(messages, thought_tool_ids)
    _check_cache_control(body)
    spec = models.get(body["model"])
    if spec is None:
        raise ApiError(404, "not_found_error", f"model: {body['model']}")
    if not count_tokens and max_tokens > spec.max_output_tokens:
        raise invalid(f"max_tokens: {max_tokens} > {spec.max_output_tokens}, which is the maximum allowed number of "
                      f"output tokens for {body['model']}")
    if not count_tokens and messages[-1][1] == "assistant" and not spec.prefill:
        raise invalid("Prefilling assistant messages is not supported for this model.")
    return spec


def _check_system(system: Any, where: str = "system") -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid(f"{where}: Input should be a valid string or a valid list")
    for number, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"{where}.{number}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str) or not block["text"]:
            raise invalid(f"{where}: text content blocks must be non-empty")


def _check_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for number, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{number}: Input should be a valid dictionary")
        kind = tool.get("type")
        name = tool.get("name")
        if kind in (None, "custom"):
            where = f"tools.{number}.custom"
            if not isinstance(name, str):
                raise invalid(f"{where}.name: Field required")
            if not TOOL_NAME.match(name):
                raise invalid(f"{where}.name: String should match pattern '{TOOL_NAME.pattern}'")
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise invalid(f"{where}.input_schema: Field required" if schema is None
                              else f"{where}.input_schema: Input should be a valid dictionary")
            if schema.get("type") != "object":
                raise invalid(f"{where}.input_schema.type: Input should be 'object'")
            extra = set(tool) - {"name", "description", "input_schema", "cache_control", "type", "strict",
                                 "input_examples", "eager_input_streaming", "defer_loading", "allowed_callers"}
            if extra:
                raise invalid(f"{where}.{sorted(extra)[0]}: Extra inputs are not permitted")
        if isinstance(name, str):
            if name in names:
                raise invalid("tools: Tool names must be unique.")
            names.add(name)
    return names


def _check_tool_choice(choice: Any, names: set[str], has_tools: bool) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice: Input tag found using 'type' does not match any of the expected tags: "
                      "'auto', 'any', 'tool', 'none'")
    if not has_tools and choice["type"] != "none":
        raise invalid("tool_choice may only be specified while providing tools.")
    if choice["type"] == "tool":
        if not isinstance(choice.get("name"), str):
            raise invalid("tool_choice.tool.name: Field required")
        if choice["name"] not in names:
            raise invalid(f"tool_choice.tool.name: Tool '{choice['name']}' not found in provided tools")


def _check_thinking(config: Any, choice: Any, max_tokens: int, count_tokens: bool) -> None:
    if config is None:
        return
    kinds = ("enabled", "disabled", "adaptive", "between_tools")
    if not isinstance(config, dict) or config.get("type") not in kinds:
        raise invalid("thinking: Input tag found using 'type' does not match any of the expected tags: "
                      + ", ".join(f"'{kind}'" for kind in kinds))
    if config.get("display") not in (None, "summarized", "omitted"):
        raise invalid(f"thinking.{config['type']}.display: Input should be 'summarized' or 'omitted'")
    if config["type"] == "enabled":
        budget = config.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise invalid("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not count_tokens and max_tokens <= budget:
            raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                          "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                          "#max-tokens-and-context-window-size")
    if config["type"] != "disabled" and isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def _check_messages(messages: Any, signer: Signer, strict_alternation: bool) -> list[tuple[int, str, list[Json]]]:
    """Check every message; return the turns after merging consecutive same-role messages, as the API does."""
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    turns: list[tuple[int, str, list[Json]]] = []
    tool_ids: set[str] = set()
    for number, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{number}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant", "system"):
            raise invalid(f"messages.{number}.role: Input should be 'user', 'assistant' or 'system'")
        if "content" not in message:
            raise invalid(f"messages.{number}.content: Field required")
        extra = set(message) - {"role", "content"}
        if extra:
            raise invalid(f"messages.{number}.{sorted(extra)[0]}: Extra inputs are not permitted")
        if role == "system":  # SDK 2.x allows system messages among the turns: text only, not a turn of their own
            _check_system(message["content"], where=f"messages.{number}.content")
            continue
        blocks = _content_blocks(number, role, message["content"], signer, tool_ids)
        if not blocks and (number != len(messages) - 1 or role == "user"):
            raise invalid(f"messages.{number}: all messages must have non-empty content except for the optional "
                          "final assistant message")
        if turns and turns[-1][1] == role:
            if strict_alternation:
                raise invalid(f'messages: roles must alternate between "user" and "assistant", but found multiple '
                              f'"{role}" roles in a row')
            turns[-1][2].extend(blocks)
        else:
            turns.append((number, role, list(blocks)))
    if not turns or turns[0][1] != "user":
        raise invalid('messages: first message must use the "user" role')
    _check_tool_pairing(turns)
    return turns


def _content_blocks(number: int, role: str, content: Any, signer: Signer, tool_ids: set[str]) -> list[Json]:
    if isinstance(content, str):
        if not content and role == "user":
            raise invalid("messages: text content blocks must be non-empty")
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid(f"messages.{number}.content: Input should be a valid list")
    allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    for index, block in enumerate(content):
        where = f"messages.{number}.content.{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(f"{where}: Input should be a valid dictionary with a 'type'")
        kind = block["type"]
        if kind not in allowed:
            raise invalid(f"{where}.type: '{kind}' blocks are not allowed in '{role}' messages")
        if kind == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
            raise invalid("messages: text content blocks must be non-empty")
        if kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise invalid(f"{where}.tool_use.{'id' if not isinstance(block.get('id'), str) else 'name'}: "
                              "Field required")
            if not isinstance(block.get("input"), dict):
                raise invalid(f"{where}.tool_use.input: Input should be a valid dictionary")
            if block["id"] in tool_ids:
                raise invalid(f"{where}: `tool_use` ids must be unique")
            tool_ids.add(block["id"])
        if kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
            raise invalid(f"{where}.tool_result.tool_use_id: Field required")
        if kind == "thinking":
            if "signature" not in block:
                raise invalid(f"{where}.thinking.signature: Field required")
            if not isinstance(block.get("thinking"), str) or not signer.verify("thinking", block["thinking"],
                                                                               block["signature"]):
                raise invalid(f"{where}: Invalid `signature` in `thinking` block")
        if kind == "redacted_thinking" and not signer.verify("redacted_thinking", "", block.get("data")):
            raise invalid(f"{where}: Invalid `data` in `redacted_thinking` block")
        if "cache_control" in block and kind in ("thinking", "redacted_thinking"):
            raise invalid(f"{where}.{kind}.cache_control: Extra inputs are not permitted")
    return content


def _check_tool_pairing(turns: list[tuple[int, str, list[Json]]]) -> None:
    for position, (number, role, blocks) in enumerate(turns):
        if role == "assistant":
            uses = [block["id"] for block in blocks if block["type"] == "tool_use"]
            if not uses:
                continue
            follower = turns[position + 1] if position + 1 < len(turns) else None
            results = [block.get("tool_use_id") for block in (follower[2] if follower else [])
                       if block["type"] == "tool_result"]
            missing = [use for use in uses if use not in results]
            if missing:
                raise invalid(f"messages.{number}: `tool_use` ids were found without `tool_result` blocks immediately "
                              f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                              "`tool_result` block in the next message.")
            assert follower is not None
            leading = 0
            for block in follower[2]:
                if block["type"] != "tool_result":
                    break
                leading += 1
            if leading < len(uses):
                raise invalid(f"messages.{follower[0]}: Did not find {len(uses)} `tool_result` block(s) at the "
                              "beginning of this message. Messages following `tool_use` blocks must begin with a "
                              "matching number of `tool_result` blocks.")
        else:
            previous = turns[position - 1][2] if position > 0 else []
            known = {block["id"] for block in previous if block["type"] == "tool_use"}
            for index, block in enumerate(blocks):
                if block["type"] == "tool_result" and block["tool_use_id"] not in known:
                    raise invalid(f"messages.{number}.content.{index}: unexpected `tool_use_id` found in "
                                  f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block must have "
                                  "a corresponding `tool_use` block in the previous message.")


def _check_thinking_kept(turns: list[tuple[int, str, list[Json]]], thought_tool_ids: set[str] | frozenset[str]) -> None:
    """In a tool loop under thinking, the assistant turn being answered must keep its leading thinking block."""
    if len(turns) < 2 or turns[-1][1] != "user" or not any(b["type"] == "tool_result" for b in turns[-1][2]):
        return
    number, _, blocks = turns[-2]
    if not any(block["type"] == "tool_use" and block["id"] in thought_tool_ids for block in blocks):
        return
    first = blocks[0]["type"]
    if first not in ("thinking", "redacted_thinking"):
        raise invalid(f"messages.{number}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                      f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking "
                      "block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
                      "include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. "
                      "Please consult our documentation at "
                      "https://docs.claude.com/en/docs/build-with-claude/extended-thinking")


def _check_cache_control(body: Json) -> None:
    blocks = prompt_blocks(body)
    marked = [block for block in blocks if block.cache_control is not None]
    if len(marked) > MAX_BREAKPOINTS:
        raise invalid(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(marked)}.")
    seen_short = False
    for block in marked:
        control = block.cache_control
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise invalid(f"{block.where}.cache_control.type: Input should be 'ephemeral'")
        ttl = control.get("ttl", "5m")
        if ttl not in ("5m", "1h"):
            raise invalid(f"{block.where}.cache_control.ttl: Input should be '5m' or '1h'")
        if ttl == "1h" and seen_short:
            raise invalid("A cache_control block with ttl='1h' must not come after one with ttl='5m'. Note that "
                          "blocks are processed in the following order: `tools`, `system`, `messages`.")
        seen_short = seen_short or ttl == "5m"

"""The conversation with the model: tools in, a structured `FixProposal` out.

One `FixSession` lives through a whole fix run: `propose` sends a user message and runs
tool calls until the model calls `finish`; after a failed build the same session gets
the diagnostics through `propose` again, so the model keeps everything it read. Every
call is planned by the `Budget` first (fail closed); every tool call is answered, even
a malformed or cut-off one, so the conversation stays valid.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from crashfix.fixer.agent.budget import Budget
from crashfix.fixer.agent.claude import ModelError, ModelReply, ModelRequest, ModelStreamBroken
from crashfix.fixer.agent.pricing import Usage
from crashfix.fixer.checkout.workspace import ToolError, Workspace
from crashfix.fixer.models import FixProposal

if TYPE_CHECKING:
    from crashfix.fixer.agent.toolservers import ToolServers

log = logging.getLogger(__name__)

MAX_NUDGES = 2
MAX_STREAM_RETRIES = 2
MAX_RESULT_CHARS = 30_000
PROMPT_OVERHEAD_TOKENS = 1_000  # the API's own framing of tools and messages, on top of their bytes


def prompt_file(name: str) -> str:
    return resources.files("crashfix").joinpath(f"prompts/{name}").read_text(encoding="utf-8")


def tool_definitions() -> list[dict[str, Any]]:
    return list(json.loads(prompt_file("tools.json")))


class ModelCaller(Protocol):
    def call(self, request: ModelRequest, *, timeout: float) -> ModelReply: ...


class ModelGaveNoAnswer(ModelError):
    """The model kept answering without the structured `finish` call."""


# Per tool: the argument names and types it takes, and which are required.
_ARGUMENTS: dict[str, dict[str, tuple[type, bool]]] = {
    "read_file": {"path": (str, True), "start_line": (int, False), "end_line": (int, False)},
    "search": {"pattern": (str, True), "path": (str, False)},
    "list_dir": {"path": (str, False)},
    "find_definition": {"name": (str, True)},
    "edit": {"path": (str, True), "old_text": (str, True), "new_text": (str, True)},
}


@dataclass
class FixSession:
    model: ModelCaller
    workspace: Workspace
    budget: Budget
    model_name: str
    on_event: Callable[[str], None] = lambda message: None
    messages: list[dict[str, Any]] = field(default_factory=list)
    tool_counts: Counter[str] = field(default_factory=Counter)
    system: str = field(default_factory=lambda: prompt_file("system.md"))
    tools: list[dict[str, Any]] = field(default_factory=tool_definitions)
    servers: ToolServers | None = None  # the team's MCP tool servers ([[fix.mcp]]), started by the run
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _bound: int = 0

    def __post_init__(self) -> None:
        if self.servers is not None:
            self.tools = [*self.tools, *self.servers.definitions]
            self.system += self.servers.prompt_note()

    def propose(self, text: str) -> FixProposal:
        """Send `text` and run the model's tool calls until it calls `finish` with a valid answer."""
        if self.servers is not None:
            self.servers.rebase()  # a build may have run since the last look at the checkout
        self._append_user([*self._pending, {"type": "text", "text": text}])
        self._pending = []
        nudges = 0
        while True:
            reply = self._call()
            self.messages.append({"role": "assistant", "content": reply.content})
            if reply.stop_reason == "refusal":
                raise ModelError("the model declined to work on this crash (stop_reason: refusal)")
            if not reply.tool_uses:
                nudges += 1
                if nudges > MAX_NUDGES:
                    raise ModelGaveNoAnswer("the model kept answering in prose without calling `finish`",
                                            "label `reanalyze` to retry, or fix by hand")
                self._append_user([{"type": "text", "text": _nudge(reply)}])
                continue
            results, proposal = self._run_tools(reply)
            if proposal is not None:
                if self.servers is not None:
                    self.servers.settled()  # nothing changed behind the model's back before the build
                self._pending = results  # answered at the start of the next message (repair feedback)
                return proposal
            self._append_user(results)

    # -- calls -----------------------------------------------------------------------------------

    def _append_user(self, content: list[dict[str, Any]]) -> None:
        self.messages.append({"role": "user", "content": content})
        self._bound += len(json.dumps(content).encode())

    def _call(self) -> ModelReply:
        if not self._bound or len(self.messages) <= 1:
            self._bound = PROMPT_OVERHEAD_TOKENS + len(
                json.dumps([self.system, self.tools, self.messages]).encode())  # tokens <= bytes
        for attempt in range(MAX_STREAM_RETRIES + 1):
            plan = self.budget.plan(self._bound)
            request = ModelRequest(model=self.model_name, system=self.system, tools=self.tools,
                                   messages=self.messages, max_tokens=plan.max_tokens,
                                   thinking_tokens=plan.thinking_tokens)
            try:
                reply = self.model.call(request, timeout=plan.timeout)
            except ModelStreamBroken as error:
                self.budget.record_unknown(self._bound, plan.max_tokens)
                if attempt == MAX_STREAM_RETRIES:
                    raise
                log.warning("%s; asking again", error.message)
                continue
            self.budget.record(reply.usage)
            self._bound = PROMPT_OVERHEAD_TOKENS + reply.usage.prompt_tokens + reply.usage.output_tokens
            log.info("model turn %d: %d in (+%d cached), %d out, stop: %s", self.budget.turns,
                     reply.usage.input_tokens + reply.usage.cache_write_tokens, reply.usage.cache_read_tokens,
                     reply.usage.output_tokens, reply.stop_reason)
            return reply
        raise AssertionError("unreachable")

    # -- tools -----------------------------------------------------------------------------------

    def _run_tools(self, reply: ModelReply) -> tuple[list[dict[str, Any]], FixProposal | None]:
        results: list[dict[str, Any]] = []
        proposal: FixProposal | None = None
        uses = sorted(reply.tool_uses, key=lambda use: use["name"] == "finish")  # finish last
        for use in uses:
            if reply.stop_reason == "max_tokens" and use is reply.tool_uses[-1]:
                results.append(_result(use, "your answer was cut off at max_tokens inside this call; "
                                            "send it again, shorter", error=True))
                continue
            self.tool_counts[use["name"]] += 1
            if use["name"] == "finish":
                text, proposal = self._finish(use.get("input"))
                results.append(_result(use, text, error=proposal is None))
                continue
            if self.servers is not None and self.servers.owns(use["name"]):
                self.on_event(self.servers.label(use["name"]))
                output, is_error = self.servers.call(use["name"], use.get("input"), self.budget.seconds_left())
                results.append(_result(use, output, error=is_error, limit=None))  # trimmed to the server's cap
                continue
            try:
                output, is_error = self._tool(use["name"], use.get("input")), False
            except ToolError as error:
                output, is_error = str(error), True
            except Exception as error:  # one failed tool call must not end the run
                output, is_error = self._tool_failure(use["name"], error), True
            if use["name"] == "edit" and not is_error and self.servers is not None:
                self.servers.after_edit(self.workspace.relative(str(use["input"]["path"])))
            results.append(_result(use, output, error=is_error))
        return results, proposal

    def _tool(self, name: str, arguments: object) -> str:
        spec = _ARGUMENTS.get(name)
        if spec is None:
            raise ToolError(f"there is no tool named {name!r}; use one of {', '.join([*_ARGUMENTS, 'finish'])}"
                            + (" or a tool server's SERVER__TOOL" if self.servers is not None else ""))
        checked = _check_arguments(name, arguments, spec)
        self.on_event(f"{name} {checked.get('path') or checked.get('name') or checked.get('pattern') or ''}".strip())
        workspace = self.workspace
        if name == "read_file":
            return workspace.read_file(checked["path"], checked.get("start_line", 1), checked.get("end_line"))
        if name == "search":
            return workspace.search(checked["pattern"], checked.get("path", "."))
        if name == "list_dir":
            return workspace.list_dir(checked.get("path", "."))
        if name == "find_definition":
            return workspace.find_definition(checked["name"])
        return workspace.edit(checked["path"], checked["old_text"], checked["new_text"])

    def _tool_failure(self, name: str, error: Exception) -> str:
        """What the model is told when a tool fails other than with a ToolError; the log keeps the details.

        Errors of the input or the file system (OSError, ValueError, including Unicode errors)
        are the model's to work around; anything else is a crashfix bug, logged with its traceback.
        """
        root = str(self.workspace.root)
        detail = str(error).replace(root + "/", "").replace(root, "the repository")
        if isinstance(error, UnicodeEncodeError):
            log.warning("tool %s: %s", name, error)
            return (f"{name} failed: the text cannot be written in the file's encoding ({detail}). The file is "
                    "probably Latin-1, not UTF-8: use only characters it can hold (ASCII is safest).")
        if isinstance(error, UnicodeError):
            log.warning("tool %s: %s", name, error)
            return f"{name} failed: a text encoding problem ({detail}); use plain ASCII in paths and text."
        if isinstance(error, OSError):
            log.warning("tool %s: %s", name, error)
            reason = error.strerror or detail or type(error).__name__
            return f"{name} failed: {reason}. Check the path, or try another file or tool."
        if isinstance(error, ValueError):
            log.warning("tool %s: %s", name, error)
            return f"{name} could not use that input: {detail}. Correct the arguments and try again."
        log.error("tool %s raised %s (a crashfix bug); the model is told and the run goes on", name,
                  type(error).__name__, exc_info=error)
        return (f"{name} failed with an internal error ({type(error).__name__}) that is not your fault; "
                "try another way or another tool.")

    def _finish(self, arguments: object) -> tuple[str, FixProposal | None]:
        try:
            proposal = FixProposal.model_validate(arguments)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors())
            return f"finish was not accepted: {problems}. Call finish again with valid fields.", None
        if proposal.status == "fixed" and not self.workspace.changed_paths():
            return ("finish says fixed, but no file has changed. Make the edit first, or finish with "
                    "status cannot_fix."), None
        return "Recorded. The change is now built and tested.", proposal

    @property
    def usage(self) -> Usage:
        return self.budget.usage


def _check_arguments(name: str, arguments: object, spec: dict[str, tuple[type, bool]]) -> dict[str, Any]:
    if not isinstance(arguments, dict):
        raise ToolError(f"{name} takes an object of arguments ({', '.join(spec)})")
    checked: dict[str, Any] = {}
    for key, (kind, required) in spec.items():
        if key not in arguments or arguments[key] is None:
            if required:
                raise ToolError(f"{name} needs the argument {key!r} ({kind.__name__})")
            continue
        value = arguments[key]
        if kind is int and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ToolError(f"{name}: {key!r} must be a {kind.__name__}, not {type(value).__name__}")
        checked[key] = value
    unknown = sorted(set(arguments) - set(spec))
    if unknown:
        raise ToolError(f"{name} has no argument {', '.join(map(repr, unknown))}; it takes {', '.join(spec)}")
    return checked


def _result(use: dict[str, Any], text: str, *, error: bool, limit: int | None = MAX_RESULT_CHARS) -> dict[str, Any]:
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"\n[... cut: {len(text) - limit} more characters]"
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": use["id"], "content": text}
    if error:
        block["is_error"] = True
    return block


def _nudge(reply: ModelReply) -> str:
    if reply.stop_reason == "max_tokens":
        return "Your answer was cut off at max_tokens. Be brief: continue with tool calls, then call `finish`."
    return ("Continue with tool calls. When you are done, call the `finish` tool with your structured answer; "
            "a plain-text answer is not read.")

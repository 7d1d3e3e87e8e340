"""The one module that talks to Claude (through the anthropic SDK).

Everything else sees plain dict content blocks in the API's own shape and one error
family. Here: streaming (long answers never hit the SDK's non-streaming time guard),
prompt caching of the stable prefix (tools, system prompt, the first user message) plus
a moving breakpoint on the newest message, thinking blocks kept verbatim so they can be
passed back, and retries for 429/529/5xx with a clear error once exhausted.

Retries are done here rather than by the SDK (`max_retries=0`): the SDK obeys any
`retry-after`, however long, and would sleep past the run's wall-clock budget. Here a
wait that does not fit in the time left ends the call at once, saying so.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from crashfix.errors import CrashfixError
from crashfix.fixer.agent.pricing import Usage

CACHE = {"type": "ephemeral"}
RETRYABLE_STATUSES = frozenset({408, 409, 429})
log = logging.getLogger(__name__)


class ModelError(CrashfixError):
    """The model service refused or failed; `transient` failures are worth a later retry."""

    transient = False


class ModelUnavailable(ModelError):
    transient = True


class ModelStreamBroken(ModelUnavailable):
    """The answer failed after its 200 (an `error` event, a dropped connection, the deadline): it may be billed.

    Never retried here: the caller counts it at its worst case and plans the next call afresh.
    """


@dataclass
class ModelRequest:
    model: str
    system: str
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    max_tokens: int
    thinking_tokens: int = 0


@dataclass
class ModelReply:
    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: Usage
    request_id: str | None = None
    model: str = ""
    tool_uses: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(block["text"] for block in self.content if block.get("type") == "text").strip()


class ClaudeClient:
    """A configured SDK client; `call` sends one request and returns the complete reply."""

    def __init__(self, api_key: str, base_url: str | None = None, *, retries: int = 4, strict: bool = False,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not api_key:
            raise ModelError("no Anthropic API key", "set ANTHROPIC_API_KEY (a repository secret in Actions)")
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url or None, max_retries=0,
                                           _strict_response_validation=strict)
        self.retries = retries
        self._sleep = sleep

    def call(self, request: ModelRequest, *, timeout: float) -> ModelReply:
        """One request to completion, retried on overload and rate limits within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for attempt in range(self.retries + 1):
            try:
                return self._once(request, deadline)
            except (anthropic.APIStatusError, anthropic.APIConnectionError, httpx2.HTTPError) as error:
                wait = _retry_wait(error, attempt)
                problem = _translate(error, request.model)
                if wait is not None and attempt == self.retries:
                    problem = type(problem)(f"{problem.message}, still after {attempt + 1} attempts", problem.hint)
                if wait is None or attempt == self.retries or isinstance(problem, ModelStreamBroken):
                    raise problem from None
                left = deadline - time.monotonic()
                if wait >= left:
                    raise ModelUnavailable(f"{problem.message}; Anthropic asks to wait {wait:.0f} s but only "
                                           f"{max(left, 0):.0f} s of the wall-clock budget are left",
                                           "retry later: add the label `reanalyze`") from None
                log.warning("%s; retrying in %.1f s", problem.message, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()

    def _once(self, request: ModelRequest, deadline: float) -> ModelReply:
        """One streamed request that ends by `deadline` (monotonic): the SDK's timeout bounds each read only."""
        kwargs: dict[str, Any] = {
            "model": request.model, "max_tokens": request.max_tokens, "system": _system(request.system),
            "tools": _tools(request.tools), "messages": _messages(request.messages),
            "timeout": max(1.0, deadline - time.monotonic()),
        }
        if request.thinking_tokens:
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_tokens}
        with self._client.messages.stream(**kwargs) as stream:  # entered: the 200 and its headers are in
            try:
                for _event in stream:
                    if time.monotonic() > deadline:
                        raise ModelStreamBroken("the answer was still streaming when the wall-clock budget ran out",
                                                "raise [fix.budget] max_wall_seconds, or retry with `reanalyze`")
                message = stream.get_final_message()
            except (anthropic.APIStatusError, anthropic.APIConnectionError, httpx2.HTTPError) as error:
                problem = _translate(error, request.model)
                if isinstance(problem, ModelStreamBroken):
                    raise problem from None
                raise ModelStreamBroken(f"the answer broke off after it had started: {problem.message}",
                                        problem.hint) from None
        content = [_block(block) for block in message.content]
        usage = message.usage
        return ModelReply(
            content=content, stop_reason=message.stop_reason, model=message.model,
            usage=Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                        cache_write_tokens=usage.cache_creation_input_tokens or 0,
                        cache_read_tokens=usage.cache_read_input_tokens or 0),
            request_id=getattr(message, "_request_id", None),
            tool_uses=[block for block in content if block.get("type") == "tool_use"],
        )


def _retry_wait(error: Exception, attempt: int) -> float | None:
    """Seconds to wait before retrying `error`, or None when it must not be retried."""
    backoff = min(0.5 * 2 ** attempt, 8.0) * random.uniform(0.75, 1.0)
    if isinstance(error, (anthropic.APIConnectionError, httpx2.TransportError)):
        return backoff
    if not isinstance(error, anthropic.APIStatusError) or error.status_code < 400:
        return None
    headers = error.response.headers
    if headers.get("x-should-retry") == "false":
        return None
    if error.status_code not in RETRYABLE_STATUSES and error.status_code < 500 and headers.get(
            "x-should-retry") != "true":
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) * scale)
        except (KeyError, ValueError):
            continue
    return backoff


def _system(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text, "cache_control": CACHE}]


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    marked = copy.deepcopy(tools)
    if marked:
        marked[-1]["cache_control"] = CACHE
    return marked


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Breakpoints on the first user message (crash and code: stable) and on the newest message."""
    marked = copy.deepcopy(messages)
    for index in {0, len(marked) - 1} if marked else set():
        content = marked[index]["content"]
        if isinstance(content, str):
            marked[index]["content"] = content = [{"type": "text", "text": content}]
        cacheable = [block for block in content if block.get("type") not in ("thinking", "redacted_thinking")]
        if cacheable:
            cacheable[-1]["cache_control"] = CACHE
    return marked


def _block(block: Any) -> dict[str, Any]:
    """A response block as a request block: exactly the fields the API takes back."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": dict(block.input)}
    return dict(block.model_dump(exclude_none=True))


def _translate(error: Exception, model: str) -> ModelError:
    message = getattr(error, "message", str(error))
    if isinstance(error, httpx2.TimeoutException):
        return ModelUnavailable("the model's answer stalled and timed out", "retry later: add the label `reanalyze`")
    if isinstance(error, httpx2.HTTPError):
        return ModelUnavailable(f"the connection to Anthropic broke ({type(error).__name__})",
                                "retry later: add the label `reanalyze`")
    if isinstance(error, anthropic.AuthenticationError):
        return ModelError("Anthropic rejected the API key (401)", "check the ANTHROPIC_API_KEY secret")
    if isinstance(error, anthropic.PermissionDeniedError):
        return ModelError(f"the API key may not use {model} (403: {message})", "check the key's workspace")
    if isinstance(error, anthropic.NotFoundError):
        return ModelError(f"Anthropic does not know the model {model!r} (404)",
                          "set [fix] model in .github/crashfix.toml to a current model id")
    if isinstance(error, anthropic.RateLimitError):
        return ModelUnavailable("Anthropic rate-limited the request (429)",
                                "retry later: add the label `reanalyze`")
    if isinstance(error, anthropic.InternalServerError):
        what = "overloaded (529)" if error.status_code == 529 else f"failing ({error.status_code})"
        return ModelUnavailable(f"Anthropic is {what}",
                                "retry later: add the label `reanalyze`")
    if isinstance(error, anthropic.APIStatusError) and error.status_code < 400:
        kind = _error_type(error.body) or "error"
        return ModelStreamBroken(f"the model's answer stream broke off ({kind})", "retried by crashfix")
    if isinstance(error, anthropic.APIStatusError) and error.status_code == 400:
        return ModelError(f"Anthropic refused the request (400: {message})",
                          "this is likely a crashfix bug or a prompt over the context window")
    if isinstance(error, anthropic.APIStatusError):
        return ModelUnavailable(f"Anthropic answered {error.status_code}: {message}",
                                "retry later: add the label `reanalyze`")
    if isinstance(error, anthropic.APITimeoutError):
        return ModelUnavailable("the model call timed out", "the wall-clock budget or the network is too tight")
    if isinstance(error, anthropic.APIConnectionError):
        return ModelUnavailable("could not reach Anthropic", "check the network or ANTHROPIC_BASE_URL")
    return ModelUnavailable(f"the model call failed: {message}")


def _error_type(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = body["error"].get("type")
        return str(kind) if kind else None
    return None

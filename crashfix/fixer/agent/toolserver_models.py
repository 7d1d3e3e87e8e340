"""What the MCP client and the rest of the fixer say to each other about tool servers, without the SDK.

Plain records and the error family, so that configuring, listing and reporting tool servers
never loads the SDK (`mcp_client` does, when a server really starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashfix.errors import CrashfixError


class ServerFailed(CrashfixError):
    """A tool server could not start, stopped answering, or broke the protocol."""


class CallTimedOut(ServerFailed):
    """One call took longer than it may; the server is told to cancel it and stays in use."""


@dataclass(frozen=True)
class Launch:
    """How to reach one server: `argv` for stdio, or `url` (streamable HTTP)."""

    name: str
    argv: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0
    root: Path | None = None  # offered to the server as the client's one root (roots/list)
    secrets: tuple[str, ...] = ()  # redacted from what the server prints


@dataclass(frozen=True)
class RemoteTool:
    """A tool as the server lists it, with the hints that say whether it changes anything."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool | None = None  # readOnlyHint
    destructive: bool | None = None  # destructiveHint


@dataclass(frozen=True)
class Reply:
    text: str
    is_error: bool

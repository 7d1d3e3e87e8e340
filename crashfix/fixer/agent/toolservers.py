"""The team's own tool servers in the model loop: what the model sees of them, and what a call may do.

Each `[[fix.mcp]]` entry is started in the scrubbed environment plus the variables its
entry names; only the tools on its allow-list are shown to the model, as `SERVER__TOOL`
with the server's JSON schema. A tool that edits files (its annotations say so, or the
entry's `write_tools` does) stays hidden unless the entry says `allow_writes = true`.
Every call is bounded by the entry's timeout and the run's wall clock, checked against
the checkout before and after (`write_guard`), and answered as quoted, trimmed,
untrusted data. A server that does not start, stops or times out costs one log line and
a tool error the model can read; the run goes on with the built-in tools.

The SDK is loaded only when a server is really started (`mcp_client`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from crashfix.config import ToolServerSettings
from crashfix.fixer.agent.toolserver_models import CallTimedOut, Launch, RemoteTool, ServerFailed
from crashfix.fixer.checkout.gitops import Git
from crashfix.fixer.checkout.workspace import Workspace
from crashfix.fixer.checkout.write_guard import CheckoutWatch
from crashfix.fixer.models import ToolServerCall, ToolServerUse
from crashfix.scrub import redact, scrubbed_environment
from crashfix.untrusted import clean_human_text, inline, quote

if TYPE_CHECKING:
    from crashfix.fixer.agent.mcp_client import ServerHub

log = logging.getLogger(__name__)

SEPARATOR = "__"
MAX_TOOL_NAME = 64  # the Messages API's limit on a tool's name
MAX_DESCRIPTION = 2000
MIN_CALL_SECONDS = 1.0
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Exposed:
    """A server tool as the model knows it."""

    name: str  # SERVER__TOOL
    server: str
    tool: str
    writes: bool
    definition: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """What starting one server found: its tools, or why it did not start (`crashfix doctor`)."""

    name: str
    seconds: float
    offered: tuple[str, ...] = ()
    exposed: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()  # allow-listed, but they edit files and the entry does not allow writes
    missing: tuple[str, ...] = ()  # allow-listed, but the server does not offer them
    failure: str | None = None


def server_environment(entry: ToolServerSettings, environ: Mapping[str, str], secrets: tuple[str, ...],
                       checkout: Path) -> dict[str, str]:
    """The scrubbed environment, plus what the entry passes explicitly; crashfix's own tokens never."""
    env = scrubbed_environment(environ, secret_values=secrets)
    for name in entry.pass_env:
        if name not in environ:
            log.warning("tool server %s: pass_env names %s, which is not set here", entry.name, name)
        elif not scrubbed_environment({name: environ[name]}, keep=(name,)):
            log.warning("tool server %s: %s is one of crashfix's own credentials and is never passed on",
                        entry.name, name)
        else:
            env[name] = environ[name]
    env.update({name: value.replace("{checkout}", str(checkout)) for name, value in entry.env.items()})
    return env


def launch_for(entry: ToolServerSettings, checkout: Path, environ: Mapping[str, str],
               secrets: tuple[str, ...]) -> Launch:
    passed = tuple(environ[name] for name in (*entry.pass_env, *entry.headers_env.values()) if environ.get(name))
    if entry.url is not None:
        headers = {header: environ[name] for header, name in entry.headers_env.items() if environ.get(name)}
        return Launch(entry.name, url=entry.url, headers=headers, start_timeout=entry.start_timeout_seconds,
                      root=checkout, secrets=(*secrets, *passed))
    assert entry.command is not None
    fill = str(checkout)
    env = server_environment(entry, environ, secrets, checkout)
    return Launch(entry.name, argv=(_program(entry.command.replace("{checkout}", fill), env),
                                    *(arg.replace("{checkout}", fill) for arg in entry.args)),
                  env=env,
                  cwd=Path(entry.cwd.replace("{checkout}", fill)), start_timeout=entry.start_timeout_seconds,
                  root=checkout, secrets=(*secrets, *passed))


def _program(command: str, env: Mapping[str, str]) -> str:
    """The program as the server's own PATH finds it (on Windows with PATHEXT: `uvx` is uvx.exe)."""
    if "/" in command or "\\" in command:
        return command
    return shutil.which(command, path=env.get("PATH") or env.get("Path") or os.defpath) or command


def tool_name(server: str, tool: str) -> str:
    return f"{server}{SEPARATOR}{_NAME_CHARS.sub('_', tool)}"


def writes_files(tool: RemoteTool, entry: ToolServerSettings) -> bool:
    """A tool edits files when the entry says so, or its annotations do (readOnlyHint false, or destructive).

    Tools without hints are taken as readers, and watched: a change they make stops the run.
    """
    return tool.name in entry.write_tools or tool.read_only is False or (
        tool.read_only is not True and tool.destructive is True)


def start_servers(entries: tuple[ToolServerSettings, ...], checkout: Path, environ: Mapping[str, str],
                  secrets: tuple[str, ...]) -> tuple[ServerHub, dict[str, Probe], dict[str, list[Exposed]]]:
    """Start every entry at once; per server what it offers and what of it the model may see."""
    from crashfix.fixer.agent.mcp_client import ServerHub

    hub = ServerHub()
    started = time.monotonic()
    try:
        found = hub.start([launch_for(entry, checkout, environ, secrets) for entry in entries])
    except BaseException:
        hub.close()
        raise
    seconds = time.monotonic() - started
    probes: dict[str, Probe] = {}
    exposed: dict[str, list[Exposed]] = {}
    for entry in entries:
        tools = found[entry.name]
        if not isinstance(tools, list):
            probes[entry.name] = Probe(entry.name, seconds, failure=redact(tools.one_line(), secrets))
            continue
        probes[entry.name], exposed[entry.name] = _select(entry, tools, seconds)
    return hub, probes, exposed


def _select(entry: ToolServerSettings, tools: list[RemoteTool], seconds: float) -> tuple[Probe, list[Exposed]]:
    by_name = {tool.name: tool for tool in tools}
    exposed, withheld = [], []
    for name in entry.tools:
        tool = by_name.get(name)
        if tool is None:
            continue
        writes = writes_files(tool, entry)
        if writes and not entry.allow_writes:
            withheld.append(name)
            continue
        exposed.append(_expose(entry.name, tool, writes))
    missing = tuple(name for name in entry.tools if name not in by_name)
    probe = Probe(entry.name, seconds, offered=tuple(by_name), exposed=tuple(e.tool for e in exposed),
                  withheld=tuple(withheld), missing=missing)
    return probe, exposed


def _expose(server: str, tool: RemoteTool, writes: bool) -> Exposed:
    schema = tool.input_schema if tool.input_schema.get("type") == "object" else {"type": "object", "properties": {}}
    name = tool_name(server, tool.name)
    description = f"[{server} tool server{', edits files' if writes else ''}] {tool.description}".strip()
    definition = {"name": name, "description": description[:MAX_DESCRIPTION], "input_schema": schema}
    return Exposed(name=name, server=server, tool=tool.name, writes=writes, definition=definition)


@dataclass
class ToolServers:
    """The running servers of one fix run, as the model loop uses them."""

    entries: dict[str, ToolServerSettings]
    hub: ServerHub
    watch: CheckoutWatch
    probes: dict[str, Probe]
    exposed: dict[str, Exposed] = field(default_factory=dict)
    calls: list[ToolServerCall] = field(default_factory=list)
    down: dict[str, str] = field(default_factory=dict)  # server -> why it is not available
    secrets: tuple[str, ...] = ()  # never in an answer: the run's secrets and what pass_env gave the servers

    @classmethod
    def start(cls, entries: tuple[ToolServerSettings, ...], watch: CheckoutWatch, environ: Mapping[str, str],
              secrets: tuple[str, ...]) -> ToolServers:
        hub, probes, exposed = start_servers(entries, watch.root, environ, secrets)
        passed = tuple(environ[name] for entry in entries for name in (*entry.pass_env, *entry.headers_env.values())
                       if environ.get(name))
        servers = cls({entry.name: entry for entry in entries}, hub, watch, probes, secrets=(*secrets, *passed))
        for entry in entries:
            probe = probes[entry.name]
            if probe.failure:
                servers.down[entry.name] = probe.failure
                log.warning("%s; the run goes on without it", probe.failure)
                continue
            for tool in exposed[entry.name]:
                if tool.name in servers.exposed or len(tool.name) > MAX_TOOL_NAME:
                    log.warning("tool server %s: %s is not offered (its name is taken or too long)", entry.name,
                                tool.name)
                    continue
                servers.exposed[tool.name] = tool
            _log_probe(entry, probe)
        try:
            watch.rebase()
        except BaseException:
            servers.close()
            raise
        return servers

    # -- what the model sees ---------------------------------------------------------------------

    @property
    def definitions(self) -> list[dict[str, Any]]:
        return [tool.definition for tool in sorted(self.exposed.values(), key=lambda tool: tool.name)]

    def prompt_note(self) -> str:
        from crashfix.fixer.agent.session import prompt_file

        lines = []
        for name, entry in self.entries.items():
            tools = [tool.tool for tool in self.exposed.values() if tool.server == name]
            if tools:
                lines.append(f"- {name}: {', '.join(tools)}" + (" (may edit files)" if entry.allow_writes else ""))
        writers = [name for name, entry in self.entries.items() if entry.allow_writes and name not in self.down]
        writes = (f"Edits made by tools of {', '.join(writers)} are checked like yours and become part of the fix."
                  if writers else "Change files only with `edit`.")
        unavailable = "".join(f"\nNot available in this run: {name} ({inline(why, 200)})."
                              for name, why in self.down.items())
        return Template(prompt_file("toolservers.md")).safe_substitute(
            servers="\n".join(lines) or "(none answered)", writes=writes, unavailable=unavailable)

    def owns(self, name: str) -> bool:
        return name.partition(SEPARATOR)[0] in self.entries and SEPARATOR in name

    def label(self, name: str) -> str:
        """How a call is shown to people (the progress comment): a name the model made up is not repeated."""
        return name if name in self.exposed else f"{name.partition(SEPARATOR)[0]}{SEPARATOR}(not offered)"

    # -- calls -----------------------------------------------------------------------------------

    def call(self, name: str, arguments: object, seconds_left: float) -> tuple[str, bool]:
        """Run one call the model made; the text it is answered with and whether that is an error.

        Raises WriteViolation (the run must stop) and nothing else a caller needs to handle.
        """
        server, _, tool = name.partition(SEPARATOR)
        entry = self.entries[server]
        started = time.monotonic()
        refusal = self._refusal(name, server, tool, arguments, seconds_left)
        if refusal is not None:
            self._record(server, tool if tool in entry.tools else "?", started, "refused", 0, False)
            return refusal, True
        exposed = self.exposed[name]
        assert isinstance(arguments, dict)
        if exposed.writes:
            self.watch.jail_arguments(server, exposed.tool, arguments)
        if any(other.allow_writes for other in self.entries.values()):
            self.watch.quiet()  # a change found after the call must be this call's: it may become part of the fix
        status, text, is_error = "failed", "", True
        cap = entry.max_result_chars
        try:
            status, text, is_error = self._forward(exposed, arguments, min(entry.timeout_seconds, seconds_left))
        finally:  # recorded even when the check below stops the run
            self._record(server, exposed.tool, started, status, len(text), len(text) > cap)
            self.watch.after_call(server, exposed.tool, entry.allow_writes)
        if status in ("timeout", "failed"):
            return text, True
        text = redact(text, self.secrets)  # a server may echo the token it was given: it goes no further
        trimmed = len(text) > cap
        body = clean_human_text(text[: cap * 2], cap) if text.strip() else "(empty result)"
        if trimmed:
            body += f"\n[cut at {cap:,} of {len(text):,} characters: max_result_chars of [[fix.mcp]] {server}]"
        return quote(f"tool server {server}, tool {exposed.tool}", body), is_error

    def _refusal(self, name: str, server: str, tool: str, arguments: object, seconds_left: float) -> str | None:
        if server in self.down:
            return (f"the tool server {server} is not available in this run ({inline(self.down[server], 300)}); "
                    "use the built-in tools")
        if name not in self.exposed:
            entry = self.entries[server]
            if tool in entry.tools and tool in self.probes[server].withheld:
                return (f"{name} edits files, and the [[fix.mcp]] entry {server} does not allow writes "
                        "(allow_writes); make changes with `edit`")
            offered = ", ".join(t.name for t in self.exposed.values() if t.server == server) or "none"
            return f"there is no tool named {inline(name, 80)}; {server} offers: {offered}"
        if not isinstance(arguments, dict):
            return f"{name} takes an object of arguments (see its input schema)"
        if seconds_left < MIN_CALL_SECONDS:
            return f"no time is left in the run's wall-clock budget for {name}"
        return None

    def _forward(self, tool: Exposed, arguments: dict[str, Any], timeout: float) -> tuple[str, str, bool]:
        """(status, text, is_error) of one call; a server that fails is marked down for the rest of the run."""
        entry = self.entries[tool.server]
        try:
            reply = self.hub.call(tool.server, tool.tool, arguments, timeout)
        except CallTimedOut as error:
            limit = ("the run's wall-clock budget" if timeout < entry.timeout_seconds
                     else f"timeout_seconds of [[fix.mcp]] {tool.server}")
            log.warning("%s (%s)", error.message, limit)
            return "timeout", f"{tool.name}: {error.message} ({limit}). Try something else.", True
        except ServerFailed as error:
            self.down[tool.server] = error.message
            log.warning("%s; the run goes on without it", error.message)
            return "failed", f"{tool.name} failed: {error.message}. Its tools are gone; use the built-in tools.", True
        if reply.is_error:
            log.warning("tool server %s: %s answered with an error: %s", tool.server, tool.tool,
                        inline(reply.text, 200))
        return ("error" if reply.is_error else "ok"), reply.text, reply.is_error

    def _record(self, server: str, tool: str, started: float, status: str, chars: int, trimmed: bool) -> None:
        self.calls.append(ToolServerCall.model_validate(
            {"server": server, "tool": tool, "seconds": round(time.monotonic() - started, 3), "status": status,
             "result_chars": chars, "trimmed": trimmed}))

    # -- the checkout around the model's own edits -----------------------------------------------

    def after_edit(self, path: str) -> None:
        """The model's `edit` changed `path`: nothing else may have changed since the last check."""
        self.watch.quiet(allowed={path})

    def settled(self) -> None:
        """Before the build: nothing changed since the last check."""
        self.watch.quiet(when="before the build")

    def rebase(self) -> None:
        """After a build: its outputs are not a tool server's doing."""
        self.watch.rebase()

    # -- the end ---------------------------------------------------------------------------------

    def use(self) -> ToolServerUse:
        lines = {}
        for name, probe in self.probes.items():
            if probe.failure:
                lines[name] = f"did not start: {probe.failure}"
            else:
                lines[name] = f"{len(probe.exposed)} tool(s) offered" + (
                    f"; stopped during the run: {self.down[name]}" if name in self.down else "")
        return ToolServerUse(servers=lines, calls=list(self.calls))

    def close(self) -> None:
        self.hub.close()


def start_tool_servers(entries: tuple[ToolServerSettings, ...], workspace: Workspace, git: Git,
                       environ: Mapping[str, str], secrets: tuple[str, ...]) -> ToolServers | None:
    """The run's tool servers, started and checked against the checkout; None when none is configured."""
    if not entries:
        return None
    ignored = tuple(dict.fromkeys(path for entry in entries for path in entry.ignore_paths))
    return ToolServers.start(entries, CheckoutWatch(workspace, git, ignored), environ, secrets)


def _log_probe(entry: ToolServerSettings, probe: Probe) -> None:
    log.info("tool server %s: %d of its %d tools offered to the model (started in %.1f s)", entry.name,
             len(probe.exposed), len(probe.offered), probe.seconds)
    if probe.missing:
        log.warning("tool server %s does not offer %s (named in its [[fix.mcp]] tools)", entry.name,
                    ", ".join(probe.missing))
    if probe.withheld:
        log.warning("tool server %s: %s edit files and stay hidden (its entry does not say allow_writes = true)",
                    entry.name, ", ".join(probe.withheld))

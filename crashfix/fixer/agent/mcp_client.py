"""The one module that speaks MCP, through the official `mcp` SDK (asynchronous, on anyio).

The model loop is synchronous, so every tool server lives on one background event loop
(anyio's blocking portal) and `ServerHub` is its synchronous face. Each server is one task
that opens the transport, initialises the session, lists the tools, then waits to be
stopped: its contexts are entered and left in the same task whatever ends them. A stdio
server is started by `procs.open_pipes` with exactly the environment it is given, in the
run's own process group, and is ended with its whole process tree. Whatever the SDK
raises becomes a `ServerFailed` whose one line a person (and the model) can act on.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx
import mcp.types as types
from anyio.abc import ByteReceiveStream, Process
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.context import RequestContext
from mcp.shared.exceptions import McpError
from mcp.shared.message import SessionMessage
from pydantic import FileUrl

from crashfix import procs
from crashfix.fixer.agent.toolserver_models import CallTimedOut, Launch, RemoteTool, Reply, ServerFailed
from crashfix.scrub import redact

if sys.version_info < (3, 11):  # pragma: no cover - Python 3.10 only
    from exceptiongroup import BaseExceptionGroup

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 2**20  # one JSON-RPC line from a server; past this the server is broken
STDERR_LINES = 20
STOP_SECONDS = 3.0  # after stdin closes, before the tree is killed
TRACK_SECONDS = 2.0  # how often a stdio server's process tree is looked at (to find its children later)
EXIT_GRACE_SECONDS = 0.5  # after a server exits, for its last output to arrive
_STREAM_ERRORS = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)


_Streams = tuple[MemoryObjectReceiveStream[Any], MemoryObjectSendStream[SessionMessage]]  # a transport's two ends


class _Server:
    """One server's task: connect, list the tools, answer calls until `stop` is set."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.session: ClientSession | None = None
        self.process: Process | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.tree: dict[int, Any] = {}  # every process of the server's tree seen so far (psutil handles)
        self.failure: ServerFailed | None = None
        self.stop: anyio.Event | None = None

    @property
    def name(self) -> str:
        return self.launch.name

    async def run(self, ready: Future[list[RemoteTool]]) -> None:
        self.stop = anyio.Event()
        try:
            async with self._transport() as (read, write), ClientSession(
                    read, write, list_roots_callback=self._roots, logging_callback=self._logged) as session:
                with anyio.fail_after(self.launch.start_timeout):
                    await session.initialize()
                    tools = await _list_tools(session)
                self.session = session
                ready.set_result(tools)
                await self.stop.wait()
        except Exception as error:  # the task ends here; the failure is what callers are told
            await self._settle()
            self.failure = self._translate(error, starting=not ready.done())
            log.debug("tool server %s ended", self.name, exc_info=error)
        finally:
            self.session = None
            if not ready.done():
                ready.set_exception(self.failure or ServerFailed(f"tool server {self.name} stopped while starting"))

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> Reply:
        session = self.session
        if session is None:
            raise self.failure or ServerFailed(f"tool server {self.name} is not running")
        request_id = getattr(session, "_request_id", None)  # the SDK's next id: to cancel this call on timeout
        try:
            with anyio.fail_after(timeout):
                result = await session.call_tool(tool, arguments)
        except TimeoutError:
            await self._cancel(session, request_id, timeout)
            raise CallTimedOut(f"{tool} of tool server {self.name} did not answer within {timeout:.0f} s; the call "
                               "was cancelled") from None
        except McpError as error:
            if error.error.code != types.CONNECTION_CLOSED:
                return Reply(f"the server refused the call: {error.error.message}", True)
            raise await self._stopped() from None
        except _STREAM_ERRORS:
            raise await self._stopped() from None
        except RuntimeError as error:  # the SDK's check of structured content against the tool's output schema
            return Reply(f"the server's answer did not match its own output schema: {error}", True)
        return Reply(result_text(result), bool(result.isError))

    async def _cancel(self, session: ClientSession, request_id: object, timeout: float) -> None:
        if not isinstance(request_id, int):
            return
        note = types.CancelledNotification(params=types.CancelledNotificationParams(
            requestId=request_id, reason=f"no answer within {timeout:.0f} s"))
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):  # shielded: sent even while being cancelled
            try:
                await session.send_notification(types.ClientNotification(note))
            except (*_STREAM_ERRORS, McpError):
                pass

    # -- transports ------------------------------------------------------------------------------

    def _transport(self) -> AbstractAsyncContextManager[_Streams]:
        return self._http() if self.launch.url else self._stdio()

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[_Streams]:
        assert self.launch.url is not None
        timeout = httpx.Timeout(30.0, read=300.0)
        async with httpx.AsyncClient(headers=dict(self.launch.headers), timeout=timeout) as client, \
                streamable_http_client(self.launch.url, http_client=client) as (read, write, _):
            yield read, write

    @asynccontextmanager
    async def _stdio(self) -> AsyncIterator[_Streams]:
        launch = self.launch
        try:
            process = await procs.open_pipes(launch.argv, env=launch.env, cwd=launch.cwd)
        except OSError as error:
            raise ServerFailed(f"tool server {self.name} cannot start {launch.argv[0]!r}: "
                               f"{error.strerror or error}") from None
        self.process = process
        inbox_writer, inbox = anyio.create_memory_object_stream[Any](0)
        outbox, outbox_reader = anyio.create_memory_object_stream[SessionMessage](0)
        async with anyio.create_task_group() as group:
            group.start_soon(self._pump_out, process, inbox_writer)
            group.start_soon(self._watch, process, inbox_writer)
            group.start_soon(self._pump_in, process, outbox_reader)
            if process.stderr is not None:
                group.start_soon(self._pump_err, process.stderr)
            try:
                yield inbox, outbox
            finally:
                with anyio.CancelScope(shield=True):
                    await self._end(process)
                group.cancel_scope.cancel()

    async def _pump_out(self, process: Process, sink: MemoryObjectSendStream[Any]) -> None:
        """The server's stdout, one JSON-RPC message a line; other lines (stray prints) are logged and skipped."""
        assert process.stdout is not None
        buffer = bytearray()
        async with sink:
            try:
                async for chunk in process.stdout:
                    buffer += chunk
                    while (end := buffer.find(b"\n")) >= 0:
                        line, buffer = bytes(buffer[:end]), buffer[end + 1:]
                        await self._deliver(line, sink)
                    if len(buffer) > MAX_MESSAGE_BYTES:
                        self.stderr.append(f"(crashfix: a message longer than {MAX_MESSAGE_BYTES // 2**20} MB)")
                        return
            except _STREAM_ERRORS:
                pass

    async def _watch(self, process: Process, inbox: MemoryObjectSendStream[Any]) -> None:
        """Note the server's children as they appear (an exited server's children are orphans, found no
        more), and when the server exits, end the session even if a child still holds its stdout."""
        while True:
            tree = await anyio.to_thread.run_sync(procs.family, process.pid)
            self.tree.update((handle.pid, handle) for handle in tree)
            with anyio.move_on_after(TRACK_SECONDS):
                await process.wait()
                await anyio.sleep(EXIT_GRACE_SECONDS)
                await inbox.aclose()
                return

    async def _deliver(self, line: bytes, sink: MemoryObjectSendStream[Any]) -> None:
        if not line.strip():
            return
        try:
            message = types.JSONRPCMessage.model_validate_json(line)
        except ValueError:
            log.debug("tool server %s printed a non-protocol line: %.200r", self.name, line)
            return
        await sink.send(SessionMessage(message))

    async def _pump_in(self, process: Process, source: MemoryObjectReceiveStream[SessionMessage]) -> None:
        assert process.stdin is not None
        async with source:
            try:
                async for message in source:
                    data = message.message.model_dump_json(by_alias=True, exclude_none=True)
                    await process.stdin.send(data.encode("utf-8") + b"\n")
            except _STREAM_ERRORS:
                pass

    async def _pump_err(self, stream: ByteReceiveStream) -> None:
        """Drained always (a full pipe would stall the server); the last lines explain a failure."""
        tail = b""
        try:
            async for chunk in stream:
                *lines, tail = (tail + chunk).split(b"\n")
                tail = tail[-4096:]
                for raw in lines:
                    text = redact(raw.decode("utf-8", "replace").rstrip(), self.launch.secrets)
                    if text.strip():
                        self.stderr.append(text[:300])
                        log.debug("tool server %s: %s", self.name, text[:300])
        except _STREAM_ERRORS:
            pass

    async def _end(self, process: Process) -> None:
        """Close stdin (the MCP way to ask a stdio server to exit), then kill what is left of its tree."""
        self.tree.update((handle.pid, handle) for handle in procs.family(process.pid))
        if process.stdin is not None:
            try:
                await process.stdin.aclose()
            except _STREAM_ERRORS:
                pass
        with anyio.move_on_after(STOP_SECONDS):
            await process.wait()
        await anyio.to_thread.run_sync(procs.kill_all, list(self.tree.values()))
        try:
            await process.aclose()
        except _STREAM_ERRORS:
            pass

    # -- what the server may ask of the client ---------------------------------------------------

    async def _roots(self, context: RequestContext[ClientSession, Any]) -> types.ListRootsResult | types.ErrorData:
        root = self.launch.root
        roots = [types.Root(uri=FileUrl(root.as_uri()), name="checkout")] if root else []
        return types.ListRootsResult(roots=roots)

    async def _logged(self, params: types.LoggingMessageNotificationParams) -> None:
        text = redact(str(params.data), self.launch.secrets)
        log.debug("tool server %s logged (%s): %.300s", self.name, params.level, text)

    # -- failures --------------------------------------------------------------------------------

    async def _settle(self) -> None:
        """Give a server whose connection just closed a moment to exit, so its exit code can be told."""
        if self.process is not None and self.process.returncode is None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2 * EXIT_GRACE_SECONDS):
                await self.process.wait()

    async def _stopped(self) -> ServerFailed:
        await self._settle()
        self.session, self.failure = None, ServerFailed(f"tool server {self.name} stopped ({self._exit()})")
        return self.failure

    def _exit(self) -> str:
        """Why the server is gone, as far as can be told: its exit code and its last words on stderr."""
        code = self.process.returncode if self.process is not None else None
        said = next((line for line in reversed(self.stderr) if line.strip()), "")
        parts = [f"exit code {code}" if code is not None else "its connection closed"]
        if said:
            parts.append(f"it said: {said[:200]}")
        return "; ".join(parts)

    def _translate(self, error: BaseException, *, starting: bool) -> ServerFailed:
        error = _first(error)
        name, launch = self.name, self.launch
        if isinstance(error, ServerFailed):
            return error
        if isinstance(error, TimeoutError) and starting:
            return ServerFailed(f"tool server {name} did not start and list its tools within "
                                f"{launch.start_timeout:.0f} s", f"raise start_timeout_seconds of [[fix.mcp]] {name}"
                                f", or run `crashfix doctor`")
        if isinstance(error, McpError) and error.error.code == types.CONNECTION_CLOSED:
            when = "before it answered" if starting else "during the run"
            return ServerFailed(f"tool server {name} stopped {when} ({self._exit()})")
        if isinstance(error, McpError):
            return ServerFailed(f"tool server {name} refused: {error.error.message}")
        if isinstance(error, httpx.HTTPError):
            return ServerFailed(f"tool server {name} at {launch.url}: {error or type(error).__name__}")
        if isinstance(error, _STREAM_ERRORS):
            return ServerFailed(f"tool server {name} stopped ({self._exit()})")
        return ServerFailed(f"tool server {name} failed: {type(error).__name__}: {error}")


def _first(error: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups of anyio task groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = next((e for e in error.exceptions if not isinstance(e, anyio.get_cancelled_exc_class())),
                     error.exceptions[0])
    return error


async def _list_tools(session: ClientSession) -> list[RemoteTool]:
    tools: list[RemoteTool] = []
    cursor: str | None = None
    for _ in range(100):  # pages; a server that never stops paginating is cut off
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        for tool in page.tools:
            hints = tool.annotations
            tools.append(RemoteTool(name=tool.name, description=tool.description or tool.title or "",
                                    input_schema=dict(tool.inputSchema),
                                    read_only=hints.readOnlyHint if hints else None,
                                    destructive=hints.destructiveHint if hints else None))
        cursor = page.nextCursor
        if not cursor:
            break
    return tools


def result_text(result: types.CallToolResult) -> str:
    """A tool result as text: text blocks as they are, other media named, structured content as JSON."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, (types.ImageContent, types.AudioContent)):
            parts.append(f"[{block.type} ({block.mimeType}, {len(block.data) * 3 // 4:,} bytes) not shown]")
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource {block.uri} ({block.name})]")
        elif isinstance(block, types.EmbeddedResource):
            inner = block.resource
            parts.append(inner.text if isinstance(inner, types.TextResourceContents)
                         else f"[binary resource {inner.uri} not shown]")
    if not parts and result.structuredContent is not None:
        parts.append(json.dumps(result.structuredContent, indent=1, ensure_ascii=False))
    return "\n".join(parts)


class ServerHub:
    """The servers of one run on a background event loop; every method blocks until its work is done."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(start_blocking_portal(name="crashfix-tool-servers"))
        self._servers: dict[str, _Server] = {}
        self._tasks: list[Future[None]] = []
        self._started: list[_Server] = []

    def start(self, launches: Sequence[Launch]) -> dict[str, list[RemoteTool] | ServerFailed]:
        """Start every server at once; per name its tools, or why it did not start (it is stopped then)."""
        pending: list[tuple[_Server, Future[list[RemoteTool]]]] = []
        for launch in launches:
            server, ready = _Server(launch), Future[list[RemoteTool]]()
            self._servers[launch.name] = server
            self._tasks.append(self._portal.start_task_soon(server.run, ready, name=f"tool server {launch.name}"))
            pending.append((server, ready))
        outcome: dict[str, list[RemoteTool] | ServerFailed] = {}
        for server, ready in pending:
            try:
                outcome[server.name] = ready.result(timeout=server.launch.start_timeout + STOP_SECONDS + 10)
            except ServerFailed as error:
                outcome[server.name] = error
            except FutureTimeout:  # the task's own timeout did not fire: never expected, but never hang
                outcome[server.name] = ServerFailed(f"tool server {server.name} did not start in time")
            if server.process is not None:
                self._started.append(server)
        return outcome

    def call(self, server: str, tool: str, arguments: dict[str, Any], timeout: float) -> Reply:
        """One tools/call; ServerFailed (CallTimedOut after `timeout` seconds) when there is no answer."""
        return self._portal.call(self._servers[server].call, tool, arguments, timeout)

    def pids(self) -> list[int]:
        """Every process of the servers' trees seen so far."""
        return sorted(pid for server in self._started for pid in server.tree)

    def close(self) -> None:
        """Stop every server and the loop; kill whatever survived. Safe to call twice."""
        if not self._servers and not self._tasks:
            self._stack.close()
            return
        try:
            for server in self._servers.values():
                if server.stop is not None:
                    self._portal.call(server.stop.set)
            for task in self._tasks:
                try:
                    task.result(timeout=STOP_SECONDS + 10)
                except Exception:  # noqa: BLE001 - a task that failed has already said why
                    pass
            self._portal.call(self._portal.stop, True)
        except RuntimeError:  # the loop is already gone (interrupted): fall through to the kill
            pass
        finally:
            self._servers.clear()
            self._tasks.clear()
            self._stack.close()
            for server in self._started:  # normally long gone; survivors (the loop was interrupted) die here
                procs.kill_all([child for handle in server.tree.values() for child in procs.family(handle)])

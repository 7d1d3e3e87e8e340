"""A real git smart-HTTP server on 127.0.0.1 that demands a token, like GitHub does.

`git http-backend` (git's own CGI program) serves bare repositories under `root`; this
wrapper checks HTTP Basic auth (`x-access-token:<token>`, as GitHub accepts for Actions
tokens) before handing the request over, and records every Authorization header it saw,
so tests can prove the fixer's push authenticates without the token ever touching the
remote URL, `.git/config` or a command line.

Given the fake GitHub (`github=`), it accepts that fake's tokens too, and refuses a push the
token may not make (contents: write) with 403, as GitHub does.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


def _backend() -> str:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


class GitHttpServer:
    def __init__(self, root: Path, token: str, github: Any = None) -> None:
        self.root = root
        self.token = token
        self.github = github  # a FakeGitHub whose other tokens are accepted too, if given
        self.authorizations: list[str] = []
        self.pushes = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GitHttpServer:
        fake = self
        backend = _backend()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    length = int(self.headers.get("Content-Length") or 0)
                    return self.rfile.read(length) if length else b""
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

            def _serve(self) -> None:
                header = self.headers.get("Authorization", "")
                fake.authorizations.append(header)
                token = fake.token_of(header)
                if token is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                pushing = path.endswith("/git-receive-pack") or "service=git-receive-pack" in query
                refusal = fake.github.git_refusal(token) if pushing and fake.github is not None else None
                if refusal is not None:
                    message = refusal.encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                    return
                body = self._body()
                if path.endswith("/git-receive-pack"):
                    fake.pushes += 1
                env = {**os.environ, "GIT_PROJECT_ROOT": str(fake.root), "GIT_HTTP_EXPORT_ALL": "1",
                       "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "REMOTE_USER": "x-access-token", "REMOTE_ADDR": "127.0.0.1",
                       "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                       "GIT_HTTP_MAX_REQUEST_BUFFER": "100M"}
                done = subprocess.run([backend], input=body, capture_output=True, env=env, check=False)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def token_of(self, header: str) -> str | None:
        """The token in a Basic `x-access-token:<token>` header, if this server accepts it."""
        scheme, _, encoded = header.strip().partition(" ")
        try:
            user, _, token = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        if scheme.lower() != "basic" or user != "x-access-token":
            return None
        if token == self.token or (self.github is not None and self.github.knows_token(token)):
            return token
        return None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

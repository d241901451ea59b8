"""A real HTTP server on loopback that replays a provider's documented API, for contract tests.

Not an in-process mock: wrappers talk to it through httpx and a socket exactly as they would talk
to the provider, so paths, headers, bodies, status codes and timeouts are all real. Each provider
fake is a `Handler`: it answers a `Recorded` request with a `Reply`; every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering: simulates a timeout when longer than the client's
    drop: bool = False  # close the connection without answering


Handler = Callable[[Recorded], Reply]


class FakeServer:
    """`with FakeServer(handler) as server:` then point the wrapper at `server.url`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class _Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                split = urlsplit(self.path)
                rec = Recorded(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with outer._lock:
                    outer.requests.append(rec)
                reply = outer.handler(rec)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.body
                payload = (
                    body
                    if isinstance(body, bytes)
                    else json.dumps(body).encode()
                    if body is not None
                    else b""
                )
                self.send_response(reply.status)
                ctype = "application/octet-stream" if isinstance(body, bytes) else "application/json"
                self.send_header("Content-Type", reply.headers.get("Content-Type", ctype))
                for key, value in reply.headers.items():
                    if key.lower() != "content-type":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        class _Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a delayed reply is the point of some tests, not noise

        self._server = _Server(("127.0.0.1", 0), _Request)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, method: str, path_prefix: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serve(handler: Handler) -> Iterator[FakeServer]:
    with FakeServer(handler) as server:
        yield server


def run_scenario(model: Any, scenario: Callable[[Any], Any]) -> Any:
    """Run one wrapper scenario on a fresh event loop, closing the wrapper's client afterwards."""
    import asyncio

    async def main() -> Any:
        try:
            return await scenario(model)
        finally:
            await model.aclose()

    return asyncio.run(main())

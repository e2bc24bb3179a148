"""A local HTTP server for the tests that fetch (templates, contexts) or must fetch nothing (a
printed page): it answers GET from a map of paths, waits where told (a server that hangs), and
records every request's path."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Answer = bytes | tuple[float, bytes]  # the body, or (seconds to wait first, the body)


@dataclass
class Web:
    """The running server: its base URL, and the paths asked for, in order."""

    url: str
    hits: list[str] = field(default_factory=list)


@contextlib.contextmanager
def local_web(
    routes: Mapping[str, Answer] | Callable[[str], Answer | None], *, content_type: str = "text/html"
) -> Iterator[Web]:
    """Serve ``routes`` (path -> answer, or a function of the path; a path it does not know: 404)
    on a free loopback port while the block runs. ``routes`` may name ``{web}`` in a body: the
    server's own URL (a page naming URLs on the server that must not be fetched).
    """
    web = Web("")

    def answer(path: str) -> Answer | None:
        return routes(path) if callable(routes) else routes.get(path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            web.hits.append(self.path)
            found = answer(self.path)
            delay, body = (found if isinstance(found, tuple) else (0.0, found)) if found is not None else (0.0, b"")
            time.sleep(delay)
            body = body.replace(b"{web}", web.url.encode())
            self.send_response(200 if found is not None else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up on a slow or huge answer
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    web.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield web
    finally:
        server.shutdown()
        server.server_close()

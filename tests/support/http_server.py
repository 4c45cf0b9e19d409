"""Serve a WSGI app on a free loopback port in a background thread (real HTTP)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serving(app: Callable[..., Any], port: int = 0) -> Iterator[str]:
    """Yield the base URL of ``app`` served on 127.0.0.1 (a free port unless given)."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def serving_later() -> Iterator[tuple[str, Callable[[Callable[..., Any]], None]]]:
    """Bind a free port now and serve the app given later to ``mount(app)``: for an app
    whose settings need its own URL. Binding first means no other server started in the
    meantime (a sandbox, say) can be handed the same port."""
    mounted: list[Callable[..., Any]] = []

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not mounted:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"not mounted yet"]
        return mounted[0](environ, start_response)

    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", mounted.append
    finally:
        server.shutdown()
        thread.join(timeout=5)

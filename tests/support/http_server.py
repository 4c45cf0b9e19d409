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

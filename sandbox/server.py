"""The Flask app and a threaded HTTP server around it."""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from sandbox import rest, rest_permissions, rest_search, rest_users, rest_webhooks
from sandbox.config import SandboxConfig
from sandbox.context import EXTENSION, sandbox_of
from sandbox.control import control
from sandbox.control_faults import control_faults
from sandbox.control_forge import control_forge, forge_jwks
from sandbox.control_oauth import control_oauth
from sandbox.control_privacy import control_privacy
from sandbox.core import Sandbox
from sandbox.errors import register_error_handlers
from sandbox.issue_page import issue_page
from sandbox.keyserver import SigningKey, keys
from sandbox.oauth_http import oauth_http
from sandbox.rest_privacy import privacy

ROUTE_MODULES = (rest_permissions, rest_search, rest_users, rest_webhooks)  # routes on rest.rest

__all__ = ["SandboxServer", "create_sandbox_app", "sandbox_of"]


def create_sandbox_app(config: SandboxConfig, first_key: SigningKey | None = None) -> Flask:
    """A Flask app serving the sandbox; webhook delivery starts with it.

    `sandbox_of(app)` gives the Sandbox (state, installer, dispatcher); call its `close()`
    when done. Without `config.public_url`, set it with `set_public_url` before use.
    `first_key` lets tests reuse one RSA key instead of generating one per sandbox.
    """
    sandbox = Sandbox(config, first_key)
    app = Flask("sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = sandbox
    register_error_handlers(app)
    rest.register(app)
    for blueprint in (
        control,
        control_oauth,
        control_faults,
        control_forge,
        forge_jwks,
        control_privacy,
        keys,
        oauth_http,
        privacy,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(issue_page)  # the issue view that frames apps' panels
    sandbox.start()
    return app


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SandboxServer:
    """A threaded werkzeug server for one sandbox; port 0 picks a free port."""

    def __init__(self, config: SandboxConfig, first_key: SigningKey | None = None) -> None:
        self.app = create_sandbox_app(config, first_key)
        self.sandbox = sandbox_of(self.app)
        try:
            self._server: BaseWSGIServer = make_server(
                config.host, config.port, self.app, threaded=True
            )
        except BaseException:
            self.sandbox.close()
            raise
        self.url = _url(config.host, self._server.server_port)
        if not config.public_url:
            self.sandbox.set_public_url(self.url)
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve in this thread until `shutdown()` (or KeyboardInterrupt)."""
        self._server.serve_forever()

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving and stop webhook delivery."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self.sandbox.close()

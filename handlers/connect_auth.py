"""Binds Connect JWT verification to Flask routes: one decorator per kind of caller."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from auth.connect import (
    RequestTarget,
    token_from,
    verify_shared_secret_token,
    verify_signed_install,
)
from auth.errors import ConnectAuthError, SignatureMismatch
from models.lifecycle import ConnectInstallation, find_installation
from runtime import Runtime

log = logging.getLogger("tandem.auth")
View = Callable[..., ResponseReturnValue]


def runtime() -> Runtime:
    """This app's Runtime."""
    return current_app.extensions["tandem"]


def request_target() -> RequestTarget:
    """Method, path (relative to the app, as the qsh wants it) and the raw query string."""
    return RequestTarget(request.method, request.path, request.query_string.decode("latin-1"))


def unauthorized(reason: str, scheme: str = "JWT") -> ResponseReturnValue:
    """401 with the reason in plain words, naming the token ``scheme`` the route wants in
    ``WWW-Authenticate``; the token itself is never logged."""
    log.warning("connect auth failed on %s %s: %s", request.method, request.path, reason)
    response = jsonify(error="Unauthorized", message=reason)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = scheme
    return response


def verify_install(client_key: str) -> dict[str, Any]:
    """Verify the RS256 token of an installed/uninstalled callback for ``client_key``."""
    rt = runtime()
    return verify_signed_install(
        token_from(request.headers.get("Authorization")),
        request_target(),
        client_key,
        rt.settings.audiences,
        rt.install_keys,
        rt.settings.jwt_leeway_seconds,
    )


def connect_jwt(context_qsh: bool = False) -> Callable[[View], View]:
    """Require an HS256 token from an installation; ``context_qsh`` only for iframe routes.

    The verified installation is in ``g.connect`` (a ConnectInstallation).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            try:
                g.connect = _verify_shared_secret(context_qsh)
            except ConnectAuthError as error:
                return unauthorized(str(error))
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _verify_shared_secret(context_qsh: bool) -> ConnectInstallation:
    rt = runtime()
    token = token_from(
        request.headers.get("Authorization"), request.args.get("jwt") if context_qsh else None
    )

    def attempt(fresh: bool) -> ConnectInstallation:
        found: list[ConnectInstallation] = []

        def find_secret(client_key: str) -> str | None:
            if fresh:
                rt.installations.forget(client_key)
            installation = rt.installations.get_or_load(
                client_key, lambda key: find_installation(rt.db, rt.keys, key)
            )
            if installation is None or installation.status == "uninstalled":
                return None
            found.append(installation)
            return installation.shared_secret

        g.connect_claims = verify_shared_secret_token(
            token,
            request_target(),
            find_secret,
            allow_context_qsh=context_qsh,
            leeway=rt.settings.jwt_leeway_seconds,
            audiences=(*rt.settings.audiences, rt.settings.app_key),
        )
        return found[0]

    try:
        return attempt(fresh=False)
    except SignatureMismatch:
        return attempt(fresh=True)  # the cached secret may predate a re-install


def verify_connect(context_qsh: bool) -> tuple[ConnectInstallation, dict[str, Any]]:
    """Verify the request's HS256 token (ConnectAuthError if it fails); the installation
    and the token's claims (``sub`` names the Jira user on iframe requests)."""
    installation = _verify_shared_secret(context_qsh)
    return installation, g.connect_claims


def forget_installation(client_key: str) -> None:
    """Drop a cached installation after a lifecycle change."""
    runtime().installations.forget(client_key)

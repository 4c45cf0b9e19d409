"""Binds Forge Invocation Token verification to Flask routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue

from auth.errors import ConnectAuthError
from auth.forge import Invocation, SystemToken, system_token_from, verify_invocation
from handlers.connect_auth import View, runtime, unauthorized
from sync.forge_remote import keep_token, site_for

SYSTEM_TOKEN_HEADER = "x-forge-oauth-system"  # noqa: S105 - a header name


def refused(reason: str) -> ResponseReturnValue:
    """401 with the reason in plain words (logged without the token)."""
    return unauthorized(reason, "Bearer")


def not_configured() -> ResponseReturnValue | None:
    """503 while Tandem is no Forge app's remote (``FORGE_APP_ID`` unset), else None."""
    if runtime().settings.forge_configured:
        return None
    response = jsonify(
        error="Service Unavailable", message="Forge is not configured: set FORGE_APP_ID"
    )
    response.status_code = 503
    return response


def verified() -> tuple[Invocation, SystemToken | None]:
    """This request's verified invocation and its app system token (if any); raises
    ConnectAuthError otherwise."""
    rt = runtime()
    invocation = verify_invocation(
        request.headers.get("Authorization"),
        rt.forge_keys,
        rt.settings.forge_app_id,
        rt.settings.jwt_leeway_seconds,
    )
    return invocation, system_token_from(request.headers.get(SYSTEM_TOKEN_HEADER))


def forge_invocation(look: bool = False) -> Callable[[View], View]:
    """Require a FIT from an installed site of this app. The site (a ForgeSite) is in
    ``g.forge`` and the invocation in ``g.invocation``; a newer app system token the
    call carries is kept (``look``: compared with the one stored, not the one cached)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            unavailable = not_configured()
            if unavailable is not None:
                return unavailable
            try:
                invocation, token = verified()
                site = site_for(runtime(), invocation)
            except ConnectAuthError as error:
                return refused(str(error))
            if site.status != "installed":
                return refused("the app was uninstalled from this site")
            keep_token(runtime(), site, invocation, token, look)
            g.forge, g.invocation = site, invocation
            return view(*args, **kwargs)

        return wrapper

    return decorate

"""The dashboard session cookie: ``Secure`` (except on plain-http development),
``HttpOnly``, ``SameSite=Lax``, host-only (``__Host-`` prefix when secure), path ``/``."""

from __future__ import annotations

import uuid

from flask import Response, current_app, jsonify, request

from auth.accounts import AccountService
from auth.sessions import SessionRecord

NAME = "tandem_session"


def account_service() -> AccountService:
    """This app's AccountService."""
    return current_app.extensions["accounts"]


def secure() -> bool:
    return account_service().runtime.settings.base_url.startswith("https://")


def cookie_name() -> str:
    return f"__Host-{NAME}" if secure() else NAME


def current_session() -> SessionRecord | None:
    """The live session the request's cookie names, if any."""
    return account_service().sessions.find(request.cookies.get(cookie_name()))


def rotate_session(tenant_id: uuid.UUID, account_id: uuid.UUID) -> tuple[str, SessionRecord]:
    """End the session the request came with (if any) and open a new one: every sign-in
    gets a new id, so a planted or stolen pre-sign-in cookie is worth nothing."""
    service = account_service()
    old = current_session()
    if old is not None:
        service.sessions.end(old)
    return service.sessions.create(tenant_id, account_id)


def set_session_cookie(response: Response, session_id: str) -> None:
    service = account_service()
    response.set_cookie(
        cookie_name(),
        session_id,
        max_age=service.runtime.settings.session_absolute_hours * 3600,
        secure=secure(),
        httponly=True,
        samesite="Lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(cookie_name(), path="/", secure=secure(), httponly=True, samesite="Lax")


def refuse(status: int, message: str) -> Response:
    """A JSON refusal with a plain message; never cached."""
    names = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }
    response = jsonify(error=names.get(status, "Error"), message=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 401:  # RFC 9110: a 401 names its scheme; here, the session cookie
        response.headers["WWW-Authenticate"] = f'Cookie realm="tandem", cookie="{cookie_name()}"'
    return response

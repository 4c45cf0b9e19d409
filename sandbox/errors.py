"""Jira's error shape: `{"errorMessages": [...], "errors": {field: message}}`."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


class JiraError(Exception):
    """An error answered the way Jira answers it."""

    def __init__(self, status: int, *messages: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(messages[0] if messages else str(errors))
        self.status = status
        self.messages = list(messages)
        self.errors = dict(errors or {})

    def body(self) -> dict[str, object]:
        return {"errorMessages": self.messages, "errors": self.errors}


class GatewayError(Exception):
    """An error from api.atlassian.com's gateway (OAuth apps): `{"code", "message"}`.

    `reason` goes in a `WWW-Authenticate` header on 401s, to help debugging; the body is
    what Atlassian sends (`Unauthorized`, `Unauthorized; scope does not match`, ...)."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def field_errors(errors: dict[str, str]) -> JiraError:
    """A 400 for invalid fields."""
    return JiraError(400, errors=errors)


def register_error_handlers(app: Flask) -> None:
    """Answer JiraError and plain HTTP errors with Jira's JSON error body."""

    @app.errorhandler(JiraError)
    def _jira_error(exc: JiraError) -> tuple[Response, int]:
        return jsonify(exc.body()), exc.status

    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError) -> tuple[Response, int]:
        response = jsonify({"code": exc.status, "message": exc.message})
        if exc.status == 401:
            reason = (exc.reason or exc.message).replace('"', "'")
            response.headers["WWW-Authenticate"] = (
                f'Bearer realm="api.atlassian.com", error="invalid_token", '
                f'error_description="{reason}"'
            )
        return response, exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        return jsonify({"errorMessages": [exc.description or exc.name], "errors": {}}), code

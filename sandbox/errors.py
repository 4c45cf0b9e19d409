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


def field_errors(errors: dict[str, str]) -> JiraError:
    """A 400 for invalid fields."""
    return JiraError(400, errors=errors)


def register_error_handlers(app: Flask) -> None:
    """Answer JiraError and plain HTTP errors with Jira's JSON error body."""

    @app.errorhandler(JiraError)
    def _jira_error(exc: JiraError) -> tuple[Response, int]:
        return jsonify(exc.body()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        return jsonify({"errorMessages": [exc.description or exc.name], "errors": {}}), code

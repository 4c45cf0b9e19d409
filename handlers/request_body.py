"""Parse and validate a JSON request body, answering 400 with the reason."""

from __future__ import annotations

from typing import Any

from flask import abort, request

from schemas import InvalidPayload, validate


def validated_json(schema: str, label: str, field: str, expected: str) -> dict[str, Any]:
    """The body, valid against ``schema`` and with ``body[field] == expected``; else 400."""
    body = request.get_json(silent=True)
    try:
        validate(schema, body)
    except InvalidPayload as error:
        abort(400, description=f"invalid {label}: {error}")
    if body[field] != expected:
        abort(400, description=f"{field} must be '{expected}' on this route")
    return body

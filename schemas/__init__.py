"""JSON schemas for what Atlassian sends us, and plain-words validation errors."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

HERE = Path(__file__).resolve().parent


class InvalidPayload(ValueError):
    """The body does not match its schema; the message points at the field."""


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((HERE / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(name: str, document: Any) -> None:
    """Raise InvalidPayload naming the first offending field (by path) and why."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(part) for part in error.absolute_path) or "(body)"
        raise InvalidPayload(f"{where}: {error.message[:200]}")

"""JSON schemas for what Atlassian sends us, and plain-words validation errors.

A document is checked by fastjsonschema's compiled validator (a webhook is validated on
every request, and compiled code is an order of magnitude faster); only when that
rejects it does jsonschema, the reference validator, find the first offending field
for the message. tests/test_schemas.py shows the two agree on our schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

HERE = Path(__file__).resolve().parent


class InvalidPayload(ValueError):
    """The body does not match its schema; the message points at the field."""


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed schema ``schemas/<name>.json``."""
    return json.loads((HERE / f"{name}.json").read_text())


@cache
def reference_validator(name: str) -> Draft202012Validator:
    """jsonschema's validator of ``name`` (checked to be a valid schema)."""
    Draft202012Validator.check_schema(schema(name))
    return Draft202012Validator(schema(name))


@cache
def fast_validator(name: str) -> Callable[[Any], Any]:
    """fastjsonschema's compiled validator of ``name``."""
    reference_validator(name)  # refuse an invalid schema before compiling it
    return fastjsonschema.compile(schema(name))


def validate(name: str, document: Any) -> None:
    """Raise InvalidPayload naming the first offending field (by path) and why."""
    try:
        fast_validator(name)(document)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        return
    errors = sorted(
        reference_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path)
    )
    if errors:
        error = errors[0]
        where = "/".join(str(part) for part in error.absolute_path) or "(body)"
        raise InvalidPayload(f"{where}: {error.message[:200]}")

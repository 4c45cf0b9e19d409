"""docs/openapi.yaml: a valid OpenAPI 3.1 document that describes every JSON route of the
app and nothing else (tests/openapi_routes.py declares the routes that are not JSON, each
with its reason), and that the app keeps to under schemathesis (no 5xx for any generated
input, every response in a documented status with its documented body and headers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from config import Settings
from schemas import reference_validator
from tests.accounts_fixtures import accounts_app
from tests.openapi_routes import (
    SCHEMAS,
    SPEC,
    app_operations,
    declared_endpoints,
    load_spec,
    spec_operations,
)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    built = accounts_app(settings)
    yield built
    built.extensions["tandem"].close()


def test_the_spec_is_valid_openapi_3_1() -> None:
    spec = load_spec()
    assert spec["openapi"].startswith("3.1.")
    # base_uri lets the validator follow the references into schemas/*.json.
    validate(spec, base_uri=SPEC.as_uri(), cls=OpenAPIV31SpecValidator)


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def test_request_bodies_reuse_the_schemas_the_app_validates_with() -> None:
    """The validator does not follow references inside schemas: each one into another
    file must name a schemas/*.json file, itself a valid JSON Schema 2020-12."""
    outside = {ref for ref in _references(load_spec()) if not ref.startswith("#")}
    assert outside, "the spec reuses none of schemas/*.json"
    for ref in sorted(outside):
        target = (SPEC.parent / ref).resolve()
        assert target.parent == SCHEMAS and target.suffix == ".json", ref
        assert target.is_file(), f"{ref} does not exist"
        reference_validator(target.stem)  # raises for an invalid schema


def test_every_json_route_is_described_with_its_methods(app: Flask) -> None:
    served = app_operations(app)
    described = spec_operations(load_spec())
    missing = sorted(f"{m} {p} ({served[(p, m)]})" for p, m in set(served) - described)
    assert not missing, (
        "routes missing from docs/openapi.yaml (describe them, or declare them not JSON "
        f"in tests/openapi_routes.py with the reason): {missing}"
    )


def test_every_described_operation_is_served(app: Flask) -> None:
    served = app_operations(app)
    described = spec_operations(load_spec())
    extra = sorted(f"{m} {p}" for p, m in described - set(served))
    assert not extra, f"docs/openapi.yaml describes what the app does not serve as JSON: {extra}"


def test_every_route_declared_not_json_exists(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted(declared_endpoints() - endpoints)
    assert not stale, f"tests/openapi_routes.py declares endpoints the app lacks: {stale}"

"""docs/openapi.yaml: a valid OpenAPI 3.1 document that describes every JSON route of the
app and nothing else (tests/openapi_routes.py declares the routes that are not JSON, each
with its reason), and that the app keeps to under schemathesis (no 5xx for any generated
input, every response in a documented status with its documented body and headers)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, strategies
from hypothesis import settings as examples
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config import Settings
from handlers.webhooks import EVENTS
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
from tests.openapi_world import ApiWorld, api_world


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


def test_every_operation_said_to_reach_no_success_is_described() -> None:
    labels = {operation.label for operation in OPERATIONS}
    assert set(NO_SUCCESS) <= labels, sorted(set(NO_SUCCESS) - labels)


# --- schemathesis -----------------------------------------------------------------------

SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Examples per operation (valid and invalid together), the same on every run so the suite
# stays under a minute and never flakes; OPENAPI_EXAMPLES=500 explores afresh (new seeds).
EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "20"))
EXPLORING = "OPENAPI_EXAMPLES" in os.environ
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Operations whose success generated data cannot reach (every other one must answer 2xx
# at least once, so a credential the world signs wrongly cannot pass for a 401 documented).
NO_SUCCESS = {
    "POST /api/auth/login": "generated addresses have no account (tests/test_accounts.py)",
    "POST /api/auth/password": "the current password is never guessed",
    "POST /api/auth/reset/complete": "the single-use token is only in the emailed link",
    "POST /api/auth/invitations/accept": "the single-use token is only in the emailed link",
    "POST /api/auth/totp/enable": "a valid code needs the enrolled secret",
    "POST /api/auth/totp/disable": "a valid code needs the enrolled secret (and TOTP on)",
}
WEBHOOK_EVENTS = ("jira:issue_updated", "comment_created")  # both sources subscribe to them


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[ApiWorld]:
    with api_world(settings) as built:
        yield built


def _schemes(operation: Any) -> set[str]:
    spec = load_spec()
    security = spec["paths"][operation.path][operation.method.lower()].get("security")
    return {name for requirement in security or [] for name in requirement}


def _cases(world: ApiWorld, operation: Any) -> strategies.SearchStrategy:
    """Valid and invalid generated requests; valid ones also with path parameters that
    name things of the workspace (an integration, a finished clean-up run, ...)."""
    choices = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    for name in re.findall(r"{(\w+)}", operation.path):
        for value in world.known.get(name, []):
            query = {"issueId": world.known["issueId"][0]} if name == "link_id" else None
            fixed = operation.as_strategy(
                GenerationMode.POSITIVE, path_parameters={name: value}, query=query
            )
            choices.append(fixed)
    if operation.path == "/connect/issue-panel/state":
        issue = {"issueId": world.known["issueId"][0]}
        choices.append(operation.as_strategy(GenerationMode.POSITIVE, query=issue))
    return strategies.one_of(choices)


def _steer(world: ApiWorld, case: Any) -> None:
    """Aim valid generated bodies at this deployment, where the app compares them with
    what it knows (its app key, the installation's clientKey, the route's event), so
    they get past those checks into the code behind them."""
    if case.meta.generation.mode != GenerationMode.POSITIVE or not isinstance(case.body, dict):
        return
    path, body = case.operation.path, case.body
    if path.startswith("/connect/lifecycle/"):
        event = path.rsplit("/", 1)[1]
        body.update(key=world.app_key, eventType=event)
        if event in ("enabled", "disabled"):
            body["clientKey"] = world.client_key
    elif path == "/connect/webhooks/{slug}":
        body["webhookEvent"] = EVENTS[case.path_parameters["slug"]]
    elif path == "/oauth/webhooks/{connection_id}":
        body["webhookEvent"] = WEBHOOK_EVENTS[len(str(body)) % len(WEBHOOK_EVENTS)]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_the_app_keeps_to_the_spec(world: ApiWorld, operation: Any) -> None:
    """No 5xx for any generated input; every answer is in a documented status, with the
    documented content type, body schema and headers."""
    schemes = _schemes(operation)
    statuses: list[int] = []

    @given(case=_cases(world, operation))
    @examples(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not EXPLORING,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _steer(world, case)
        world.sign(case, schemes)
        try:
            response = case.call(app=world.app)
        finally:
            world.restore(case)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    succeeded = any(200 <= status < 300 for status in statuses)
    assert succeeded != (operation.label in NO_SUCCESS), (
        f"{operation.label} answered {sorted(set(statuses))}: "
        + ("no 2xx; is the world signing it right?" if not succeeded else "update NO_SUCCESS")
    )


def _operation(label: str) -> Any:
    return next(operation for operation in OPERATIONS if operation.label == label)


@pytest.mark.parametrize(
    ("label", "status", "challenge"),
    [
        ("GET /api/auth/session", 401, 'Cookie realm="tandem", cookie="tandem_session"'),
        ("POST /connect/exports", 401, "JWT"),
        ("POST /forge/scheduled", 401, "Bearer"),
        ("GET /admin/export/status", 303, None),
    ],
)
def test_requests_without_credentials_get_the_documented_refusal(
    world: ApiWorld, label: str, status: int, challenge: str | None
) -> None:
    """What the generator never sends (no credentials at all) is documented too: a 401
    names its scheme, a dashboard page's poller sends the browser to sign in."""
    case = _operation(label).Case()
    response = case.call(app=world.app)
    assert response.status_code == status, response.text
    if challenge is not None:
        assert response.headers["www-authenticate"] == [challenge]
    case.validate_response(response, checks=CHECKS)


def test_the_rate_limit_answers_the_documented_429(settings: Settings) -> None:
    limited = accounts_app(settings, auth_account_limit="2/minute")  # per typed address
    try:
        case = _operation("POST /api/auth/login").Case(
            body={"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": "not this"}
        )
        statuses = [case.call(app=limited).status_code for _ in range(2)]
        response = case.call(app=limited)
        assert statuses == [401, 401] and response.status_code == 429, response.text
        assert int(response.headers["retry-after"][0]) > 0
        case.validate_response(response, checks=CHECKS)
    finally:
        limited.extensions["tandem"].close()

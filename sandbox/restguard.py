"""What happens to every REST call before and after its handler, for both URL forms:
authenticate the app, count the call (and any Retry-After violation), inject faults, and
check the endpoint's scope; afterwards charge points and remember Retry-After."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, g, jsonify, request

from sandbox import scopes
from sandbox.callers import CONNECT, Caller, connect_caller, oauth_caller
from sandbox.context import sandbox_of
from sandbox.counters import points
from sandbox.errors import GatewayError, JiraError
from sandbox.faults import FaultConfig, rate_limit_headers

if TYPE_CHECKING:
    from sandbox.core import Sandbox

GATEWAY_BLUEPRINT = "sandbox_rest_oauth"


def _sb() -> Sandbox:
    return sandbox_of(current_app)


def endpoint_name() -> str:
    """`METHOD /rest/api/3/...` with Atlassian's path parameter names."""
    rule = scopes.rule_for(request.endpoint)
    if rule is not None:
        return f"{rule.method} {rule.path}"
    template = request.url_rule.rule if request.url_rule else request.path
    return f"{request.method} /rest/api/3{template.split('/rest/api/3', 1)[-1]}"


def _authenticate() -> Caller:
    if request.blueprint == GATEWAY_BLUEPRINT:
        return oauth_caller(_sb(), g.site)
    return connect_caller(_sb(), g.site)


def _injected(status: int, message: str, headers: dict[str, str]) -> Response:
    g.injected = True
    response = jsonify({"errorMessages": [message], "errors": {}})
    response.status_code = status
    response.headers.update(headers)
    return response


def _fault_response(caller: Caller, violation: dict[str, Any] | None) -> Response | None:
    sandbox = _sb()
    fault, config = sandbox.faults.decide(caller.app)
    if fault.delay:
        time.sleep(fault.delay)
    if config is None:
        return None
    wait = sandbox.counters.remaining_wait(caller.app)
    if violation is not None and config.enforce_retry_after and wait > 0:
        return _rate_limited(config, max(1, int(wait + 0.999)))
    if fault.kind == "429":
        return _rate_limited(config, config.retry_after)
    if fault.kind == "5xx":
        status = int(config.status_5xx)
        headers = {"Retry-After": str(config.retry_after)} if status == 503 else {}
        return _injected(status, "The service is temporarily unavailable.", headers)
    if fault.kind == "timeout":
        time.sleep(config.timeout_s)
        return _injected(504, "Gateway timeout.", {})
    return None


def _rate_limited(config: FaultConfig, retry_after: int) -> Response:
    return _injected(429, "Rate limit exceeded.", rate_limit_headers(config, retry_after))


def _check_scope(caller: Caller) -> None:
    rule = scopes.rule_for(request.endpoint)
    if rule is None:
        raise JiraError(403, "The sandbox has no scope rule for this endpoint.")
    if caller.kind == CONNECT:
        if not scopes.connect_allows(caller.scopes, rule.connect):
            raise JiraError(
                403,
                f"Add-on '{caller.app}' disallowed to do a {request.method} to "
                f"'{rule.path}': the '{rule.connect}' scope is required.",
            )
    elif not scopes.oauth_allows(caller.scopes, rule.oauth):
        raise GatewayError(
            401, "Unauthorized; scope does not match", f"Requires {' '.join(rule.oauth)}"
        )


def before_request() -> Response | None:
    """Authenticate, count, inject faults, check scopes (in that order)."""
    return admit(_authenticate())


def admit(caller: Caller) -> Response | None:
    """For an authenticated caller: count the call, inject faults, check the scope (routes
    outside the REST blueprint, such as the personal-data reporting API, call this)."""
    g.caller, g.actor, g.endpoint_name = caller, caller.actor, endpoint_name()
    violation = _sb().counters.begin(caller.app, g.endpoint_name)
    answer = _fault_response(caller, violation)
    if answer is not None:
        return answer
    _check_scope(caller)
    return None


def _rewrite_links(response: Response) -> None:
    """Self links through the gateway, as api.atlassian.com answers OAuth apps."""
    state = _sb().state
    site_api = f"{state.site_url(g.site)}/rest/api/"
    cloud_id = state.sites[g.site].cloud_id
    gateway_api = f"{state.public_url}/ex/jira/{cloud_id}/rest/api/"
    response.set_data(response.get_data(as_text=True).replace(site_api, gateway_api))


def after_request(response: Response) -> Response:
    """Charge points, remember Retry-After, and route links for OAuth callers."""
    caller: Caller | None = g.get("caller")
    if caller is None:
        return response
    injected = bool(g.get("injected"))
    body = response.get_json(silent=True) if response.is_json else None
    retry_after = response.headers.get("Retry-After")
    _sb().counters.finish(
        caller.app,
        g.endpoint_name,
        response.status_code,
        points(request.method, response.status_code, body, injected),
        float(retry_after) if retry_after else None,
    )
    if caller.kind != CONNECT and response.is_json and g.get("site"):
        _rewrite_links(response)
    return response

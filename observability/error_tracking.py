"""Report errors to a self-hosted Sentry-compatible endpoint (``SENTRY_DSN``), scrubbed."""

from __future__ import annotations

import logging
from typing import Literal

import sentry_sdk
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.rq import RqIntegration

from config import Settings
from observability.scrub import scrub_breadcrumb, scrub_event

Component = Literal["web", "worker", "clock"]
log = logging.getLogger(__name__)


def init_error_tracking(settings: Settings, component: Component) -> bool:
    """Start reporting this process's errors when ``SENTRY_DSN`` is set; True if it did.

    No default PII, no request bodies, no tracing (and no trace headers on our calls to
    Jira); every event and breadcrumb passes through the scrubber before it is kept."""
    if not settings.error_tracking_configured:
        return False
    integrations: list[Integration] = (
        [FlaskIntegration()] if component == "web" else [RqIntegration()]
    )
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment or settings.env,
        # send_default_pii stays unset, i.e. False: 2.75 deprecates passing it at all.
        max_request_body_size="never",
        traces_sample_rate=None,
        profiles_sample_rate=None,
        trace_propagation_targets=[],
        auto_enabling_integrations=False,
        integrations=integrations,
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
    )
    sentry_sdk.get_global_scope().set_tag("component", component)
    log.info("error tracking on (%s, environment %s)", component, settings.sentry_environment)
    return True


def stop_error_tracking(timeout: float = 2.0) -> None:
    """Send what is queued and detach the client (tests, and an orderly shutdown)."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=timeout)
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_global_scope().remove_tag("component")

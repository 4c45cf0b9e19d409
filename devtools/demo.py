"""`make run`'s demo: install Tandem into two sandbox sites, create an issue, show what
happened, then stay idle (honcho stops every process when one exits)."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import select

from config import load_settings
from models.webhook_events import WebhookEvent
from runtime import Runtime, build_runtime

SITES = ("alpha", "beta")


def say(message: str) -> None:
    print(f"tandem demo: {message}", flush=True)


def wait_for(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"tandem demo: gave up waiting for {what}")


def _ok(url: str) -> bool:
    return requests.get(url, timeout=2).status_code == 200


def main() -> int:
    """Install, create an issue, report; then idle."""
    settings = load_settings()
    web, sandbox = settings.base_url, os.environ.get("SANDBOX_URL", "http://127.0.0.1:9000")
    wait_for("Tandem /readyz", lambda: _ok(f"{web}/readyz"))
    wait_for("the sandbox", lambda: _ok(f"{sandbox}/sandbox/health"))
    installs = {site: _install(sandbox, web, site) for site in SITES}
    for site, result in installs.items():
        say(f"installed into sandbox site {site} (clientKey {result['clientKey']})")
    key = _create_issue(sandbox, "alpha")
    say(f"created issue {key} in alpha as a person would; Jira's webhook is on its way")
    identifier = _delivered(sandbox, key)
    say(f"the sandbox delivered it (X-Atlassian-Webhook-Identifier {identifier})")
    runtime = build_runtime(settings)
    tenant = runtime.db.directory_lookup("connect_client_key", installs["alpha"]["clientKey"])
    wait_for("the webhook to be processed", lambda: _processed(runtime, tenant, identifier), 30)
    say(f"the worker processed {key}'s jira:issue_created webhook (row in webhook_events)")
    say(f"look: {web}/readyz | {sandbox}/sandbox/deliveries | {sandbox}/sandbox/installations")
    say(
        "create more issues: curl -X POST -H 'Content-Type: application/json' "
        f'-d \'{{"project": "ALP", "summary": "hi"}}\' {sandbox}/sandbox/sites/alpha/issues'
    )
    runtime.close()
    signal.pause()
    return 0


def _install(sandbox: str, web: str, site: str) -> dict[str, Any]:
    response = requests.post(
        f"{sandbox}/sandbox/install",
        json={"site": site, "descriptor_url": f"{web}/atlassian-connect.json"},
        timeout=30,
    )
    result = response.json()
    if response.status_code != 200 or not result.get("installed"):
        raise SystemExit(f"tandem demo: installing into {site} failed: {result}")
    return result


def _create_issue(sandbox: str, site: str) -> str:
    response = requests.post(
        f"{sandbox}/sandbox/sites/{site}/issues",
        json={"project": "ALP", "summary": "Hello from the Tandem demo"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["key"]


def _delivered(sandbox: str, key: str) -> str:
    found: list[str] = []

    def delivered() -> bool:
        deliveries = requests.get(
            f"{sandbox}/sandbox/deliveries",
            params={"issue_key": key, "event": "jira:issue_created", "state": "delivered"},
            timeout=5,
        ).json()
        found.extend(d["identifier"] for d in deliveries)
        return bool(found)

    wait_for("the sandbox to deliver the webhook", delivered, 30)
    return found[0]


def _processed(runtime: Runtime, tenant: uuid.UUID, identifier: str) -> bool:
    with runtime.db.tenant_session(tenant) as session:
        status = session.execute(
            select(WebhookEvent.status).where(WebhookEvent.identifier == identifier)
        ).scalar_one_or_none()
        return status == "processed"


if __name__ == "__main__":
    sys.exit(main())

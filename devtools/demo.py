"""`make run`'s demo: install Tandem into sandbox site alpha (and beta), connect beta
through OAuth, set up a two-way integration between them, create issues and show them
mirrored, then stay idle (honcho stops every process when one exits)."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jwt
import requests
from sqlalchemy import select

from auth.accounts import AccountService, has_owner
from auth.invitations import create_invitation
from config import load_settings
from models.connections import Connection
from models.installations import Installation
from models.integration_config import create_integration
from models.integrations import Integration
from models.lifecycle import find_installation
from models.links import IssueLink
from runtime import Runtime, build_runtime
from sandbox.seed import site_admin_account_id
from sync.integrations import set_enabled

SITES = ("alpha",)  # beta is reached through OAuth, not installed
DEMO_OWNER = "owner@example.com"  # the dashboard owner the demo invites (mail goes to .run/mail)


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


DEMO_INTEGRATION = {
    "name": "Demo: alpha ALP with beta BET",
    "direction": "two_way",
    "fields": [
        "summary",
        "description",
        "priority",
        "status",
        "assignee",
        "comments",
        "attachments",
    ],
    "on_comment_deleted": "delete_mirror",
    "on_issue_deleted": "label_mirror",
}


def main() -> int:
    """Install, set up a two-way integration, create issues, show them mirrored; idle."""
    settings = load_settings()
    web, sandbox = settings.base_url, os.environ.get("SANDBOX_URL", "http://127.0.0.1:9000")
    wait_for("Tandem /readyz", lambda: _ok(f"{web}/readyz"))
    wait_for("the sandbox", lambda: _ok(f"{sandbox}/sandbox/health"))
    installs = {site: _install(sandbox, web, site) for site in SITES}
    say(f"installed into sandbox site alpha (clientKey {installs['alpha']['clientKey']})")
    runtime = build_runtime(settings)
    client_key = installs["alpha"]["clientKey"]
    tenant = runtime.db.directory_lookup("connect_client_key", client_key)
    _connect_through_oauth(runtime, web, sandbox, client_key, "beta")
    say("connected sandbox site beta to alpha's workspace through OAuth 2.0 (3LO) consent")
    _fresh_integration(runtime, tenant)
    say(
        "created a two-way integration alpha ALP <-> beta BET (summary, description, "
        "priority, status, comments, attachments) and enabled it"
    )
    keys = [_create_issue(sandbox, "alpha", f"Demo issue {n}") for n in (1, 2, 3)]
    say(f"created {', '.join(keys)} in ALP as a person would")
    for key in keys:
        wait_for(f"{key} to be mirrored", lambda key=key: _mirror(runtime, tenant, key), 60)
        say(f"{key} is mirrored as {_mirror(runtime, tenant, key)}")
    mirror = _mirror(runtime, tenant, keys[0])
    say(
        f"look: {sandbox}/sandbox/sites/beta/issues/{mirror} | {sandbox}/sandbox/deliveries"
        f" | {sandbox}/sandbox/oauth/grants | {web}/readyz"
    )
    say(
        "try: edit the mirror on beta and watch the original on alpha follow: curl -X PUT "
        f"-H 'Content-Type: application/json' -d '{{\"summary\": \"edited on beta\"}}' "
        f"{sandbox}/sandbox/sites/beta/issues/{mirror}  then  curl "
        f"{sandbox}/sandbox/sites/alpha/issues/{keys[0]}"
    )
    say(f"see the issue panel as Jira shows it: {sandbox}/jira/alpha/browse/{keys[0]}")
    say(_dashboard_hint(runtime, tenant, web))
    runtime.close()
    signal.pause()
    return 0


def _dashboard_hint(runtime: Runtime, tenant: uuid.UUID, web: str) -> str:
    """How to reach the dashboard: an owner invitation's link while the workspace has no
    owner (the invitation is what a Jira admin sends from the admin page), else sign in."""
    with runtime.db.tenant_session(tenant) as session:
        owned = has_owner(session)
    if owned:
        return f"dashboard: sign in at {web}/auth/login (the owner chose the password)"
    token, _, _ = create_invitation(AccountService(runtime), tenant, DEMO_OWNER, "owner", "demo")
    return (
        f"dashboard: accept the owner invitation for {DEMO_OWNER} (choose a password) at "
        f"{web}/auth/accept?token={quote(token, safe='')}  then open {web}/admin/integrations"
    )


def _connect_through_oauth(
    runtime: Runtime, web: str, sandbox: str, client_key: str, site: str
) -> None:
    """What an admin does from Tandem's admin page: start, approve on the consent screen,
    come back to the callback (the admin page itself arrives with the pages issue)."""
    installation = find_installation(runtime.db, runtime.keys, client_key)
    if installation is None:
        raise SystemExit("tandem demo: the alpha installation is missing")
    now = int(time.time())
    context = jwt.encode(
        {
            "iss": client_key,
            "sub": site_admin_account_id(os.environ.get("SANDBOX_SEED", "sandbox"), "alpha"),
            "iat": now,
            "exp": now + 180,
            "qsh": "context-qsh",
        },
        installation.shared_secret,
        algorithm="HS256",
    )
    start = requests.get(
        f"{web}/connect/oauth/start", params={"jwt": context}, allow_redirects=False, timeout=10
    )
    if start.status_code != 302:
        raise SystemExit(f"tandem demo: OAuth start failed: {start.status_code} {start.text}")
    form = dict(parse_qsl(urlsplit(start.headers["Location"]).query))
    consent = requests.post(
        f"{sandbox}/authorize",
        data={**form, "decision": "approve", "site": site},
        allow_redirects=False,
        timeout=10,
    )
    callback = requests.get(consent.headers["Location"], allow_redirects=False, timeout=30)
    if callback.status_code != 200:
        raise SystemExit(f"tandem demo: OAuth callback failed: {callback.status_code}")


def _fresh_integration(runtime: Runtime, tenant: uuid.UUID) -> uuid.UUID:
    """The demo's integration, made anew (the sandbox starts empty on every run, so
    links from an earlier run would point at issues that no longer exist)."""
    with runtime.db.tenant_session(tenant) as session:
        for old in session.execute(
            select(Integration).where(Integration.name.startswith("Demo:"))
        ).scalars():
            session.delete(old)
        installation = session.execute(select(Installation)).scalar_one()
        connection = session.execute(select(Connection)).scalars().first()
        if connection is None:
            raise SystemExit("tandem demo: the OAuth connection to beta is missing")
        integration = create_integration(
            session,
            {
                **DEMO_INTEGRATION,
                "source": {"kind": "installation", "id": str(installation.id), "project": "ALP"},
                "target": {"kind": "connection", "id": str(connection.id), "project": "BET"},
            },
        )
        integration_id = integration.id
    set_enabled(runtime, tenant, integration_id, True, actor="demo")
    return integration_id


def _mirror(runtime: Runtime, tenant: uuid.UUID, key: str) -> str | None:
    with runtime.db.tenant_session(tenant) as session:
        return session.execute(
            select(IssueLink.target_issue_key).where(
                IssueLink.source_issue_key == key, IssueLink.state == "active"
            )
        ).scalar_one_or_none()


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


def _create_issue(sandbox: str, site: str, summary: str) -> str:
    response = requests.post(
        f"{sandbox}/sandbox/sites/{site}/issues",
        json={"project": "ALP", "summary": summary, "priority": "High"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["key"]


if __name__ == "__main__":
    sys.exit(main())

"""Who sends a personal-data report, and who reads an account back.

Accounts seen through an installation are reported by the Connect app, on that site's
base URL with a Connect JWT; accounts seen through an OAuth-connected site by the OAuth
app, at the API gateway's root (``https://api.atlassian.com/app/report-accounts/``)
with a bearer token of a connection whose grant holds ``report:personal-data``. Atlassian
accepts reports of any account through any site of the app, so when an end cannot
report (uninstalled, revoked, a grant from before the scope) another active end of the
same app reports for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from jira.calls import REPORT_PERSONAL_DATA
from jira.client import JiraClient
from jira.errors import JiraError
from jira.gate import SiteGate
from jira.meter import CallMeter
from jira.oauth_tokens import AccessTokens
from jira.signing import BearerCredentials
from models.connections import Connection
from models.installations import Installation
from runtime import Runtime
from sync.sites import ACTIVE, client_for

GATEWAY_SUFFIX = "/ex/jira"
End = tuple[str, uuid.UUID]  # ("installation" | "connection", id)


def gateway_root(oauth_api_base: str) -> str:
    """The API gateway's root from OAUTH_API_BASE (``https://api.atlassian.com/ex/jira``
    → ``https://api.atlassian.com``), where OAuth apps call the reporting API."""
    base = oauth_api_base.rstrip("/")
    if not base.endswith(GATEWAY_SUFFIX):
        raise ValueError(f"OAUTH_API_BASE must end with {GATEWAY_SUFFIX}")
    return base[: -len(GATEWAY_SUFFIX)]


def _can_report(session: Session, end: End) -> bool:
    kind, end_id = end
    if kind == "installation":
        found = session.get(Installation, end_id)
        return found is not None and found.status in ACTIVE and found.shared_secret is not None
    connection = session.get(Connection, end_id)
    return (
        connection is not None
        and connection.status == "active"
        and set(REPORT_PERSONAL_DATA) <= set(connection.scopes.split())
    )


def _active_ends(session: Session, kind: str) -> list[End]:
    model = Installation if kind == "installation" else Connection
    ids = session.execute(select(model.id).order_by(model.created_at, model.id)).scalars()
    return [(kind, end_id) for end_id in ids if _can_report(session, (kind, end_id))]


@dataclass
class Reporters:
    """The reporting client for each end of one tenant (found once per run)."""

    runtime: Runtime
    tenant_id: uuid.UUID
    meter: CallMeter
    _chosen: dict[End, End | None] = field(default_factory=dict)
    _clients: dict[End, JiraClient] = field(default_factory=dict)

    def reporter_of(self, session: Session, end: End) -> End | None:
        """The end that reports for ``end``: itself, else another of the same app."""
        if end not in self._chosen:
            if _can_report(session, end):
                self._chosen[end] = end
            else:
                self._chosen[end] = next(iter(_active_ends(session, end[0])), None)
        return self._chosen[end]

    def client(self, session: Session, reporter: End) -> JiraClient:
        """The client that sends reports as ``reporter``."""
        if reporter not in self._clients:
            self._clients[reporter] = self._build(session, reporter)
        return self._clients[reporter]

    def _build(self, session: Session, reporter: End) -> JiraClient:
        kind, end_id = reporter
        if kind == "installation":
            return client_for(self.runtime, session, kind, end_id, self.meter)[0]
        tokens = AccessTokens(self.runtime, self.tenant_id, end_id)
        root = gateway_root(self.runtime.settings.oauth_api_base)
        credentials = BearerCredentials(base_url=root, access_token=tokens, renew=tokens.renew)
        return JiraClient(
            credentials,
            http=self.runtime.jira_http,
            meter=self.meter,
            gate=SiteGate(self.runtime.redis, root),
        )


def reader_for(
    runtime: Runtime, session: Session, ends: list[End], meter: CallMeter
) -> JiraClient | None:
    """A client that can read users on one of ``ends`` (the site REST API), or None."""
    for kind, end_id in ends:
        try:
            return client_for(runtime, session, kind, end_id, meter)[0]
        except JiraError:
            continue
    return None

"""Dynamic webhooks, registered over REST (`/rest/api/3/webhook`) by OAuth 2.0 and
Connect apps: JQL-filtered, expiring after 30 days unless refreshed, and owned by the app
(and, for OAuth apps, by the person whose grant registered them: they fire while a live
grant of that app by that person covers the site)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from sandbox import jql
from sandbox.callers import OAUTH, Caller
from sandbox.events import Event
from sandbox.state import SandboxState
from sandbox.times import iso_now
from sandbox.tokens import relative_url
from sandbox.webhooks import Target

EVENTS = frozenset(
    {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
    }
)


@dataclass
class DynamicWebhook:
    """One registered webhook."""

    id: int
    site: str
    kind: str
    app: str
    account_id: str
    url: str
    events: tuple[str, ...]
    query: jql.Query
    field_ids: tuple[str, ...] | None
    expires_at: float
    created_at: str

    def owned_by(self, caller: Caller) -> bool:
        owner = (self.kind, self.app, self.site, self.account_id)
        return owner == (caller.kind, caller.app, caller.site, _account(caller))

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "jqlFilter": self.query.text,
            "events": list(self.events),
            "expirationDate": int(self.expires_at * 1000),
        }
        if self.field_ids is not None:
            body["fieldIdsFilter"] = list(self.field_ids)
        return body

    def control(self) -> dict[str, Any]:
        """For the control plane: who owns it and where it goes."""
        return {
            **self.public(),
            "site": self.site,
            "kind": self.kind,
            "app": self.app,
            "account_id": self.account_id or None,
            "url": self.url,
            "created_at": self.created_at,
        }


def _account(caller: Caller) -> str:
    return caller.actor if caller.kind == OAUTH else ""


def _filtered_out(hook: DynamicWebhook, event: Event) -> bool:
    """`fieldIdsFilter`: an issue update that changed none of the fields is not sent."""
    if hook.field_ids is None or event.name != "jira:issue_updated":
        return False
    return not event.changed_fields() & set(hook.field_ids)


class DynamicWebhooks:
    """The registrations of every app, under the state lock."""

    def __init__(self, state: SandboxState, lifetime: float) -> None:
        self.state = state
        self.lifetime = lifetime
        self.hooks: dict[int, DynamicWebhook] = {}
        self._ids = itertools.count(10000)

    def _live(self) -> list[DynamicWebhook]:
        now = time.time()
        for hook_id in [i for i, h in self.hooks.items() if h.expires_at <= now]:
            del self.hooks[hook_id]
        return list(self.hooks.values())

    def _check_url(self, caller: Caller, url: Any) -> str:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("The webhook URL must be an absolute http(s) URL.")
        if caller.kind != OAUTH:
            inst = self.state.installation(caller.site, caller.app)
            base = inst.base_url if inst else ""
            try:
                relative_url(base, url)
            except ValueError:
                raise ValueError("The webhook URL must be under the app's baseUrl.") from None
        return url

    def _one(self, caller: Caller, url: str, spec: Any) -> DynamicWebhook:
        if not isinstance(spec, dict):
            raise ValueError("Each webhook must be an object.")
        events = spec.get("events")
        if not isinstance(events, list) or not events:
            raise ValueError("At least one event is required.")
        unsupported = [e for e in events if e not in EVENTS]
        if unsupported:
            raise ValueError(f"Events not supported for dynamic webhooks: {unsupported}")
        text = spec.get("jqlFilter")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("jqlFilter is required.")
        try:
            query = jql.parse(text, self.state.site(caller.site))
        except jql.JqlError as exc:
            raise ValueError(str(exc)) from None
        if query.order:
            raise ValueError("The JQL filter of a webhook cannot have ORDER BY.")
        field_ids = spec.get("fieldIdsFilter")
        return DynamicWebhook(
            id=next(self._ids),
            site=caller.site,
            kind=caller.kind,
            app=caller.app,
            account_id=_account(caller),
            url=url,
            events=tuple(dict.fromkeys(events)),
            query=query,
            field_ids=tuple(map(str, field_ids)) if isinstance(field_ids, list) else None,
            expires_at=time.time() + self.lifetime,
            created_at=iso_now(),
        )

    def register(self, caller: Caller, body: Any) -> dict[str, Any]:
        """`POST /webhook`: `{"webhookRegistrationResult": [{"createdWebhookId"} | {"errors"}]}`."""
        if not isinstance(body, dict) or not isinstance(body.get("webhooks"), list):
            raise ValueError("The body needs 'url' and a 'webhooks' list.")
        with self.state.lock:
            url = self._check_url(caller, body.get("url"))
            results: list[dict[str, Any]] = []
            for spec in body["webhooks"]:
                try:
                    hook = self._one(caller, url, spec)
                except ValueError as exc:
                    results.append({"errors": [str(exc)]})
                    continue
                self.hooks[hook.id] = hook
                results.append({"createdWebhookId": hook.id})
        return {"webhookRegistrationResult": results}

    def page(self, caller: Caller, start: int, size: int) -> dict[str, Any]:
        """`GET /webhook`: the caller's webhooks, paged."""
        with self.state.lock:
            mine = [h.public() for h in self._live() if h.owned_by(caller)]
        return {
            "isLast": start + size >= len(mine),
            "maxResults": size,
            "startAt": start,
            "total": len(mine),
            "values": mine[start : start + size],
        }

    def delete(self, caller: Caller, ids: list[int]) -> None:
        """`DELETE /webhook`: removes the caller's webhooks among `ids`; others are ignored."""
        with self.state.lock:
            for hook_id in ids:
                hook = self.hooks.get(hook_id)
                if hook is not None and hook.owned_by(caller):
                    del self.hooks[hook_id]

    def refresh(self, caller: Caller, ids: list[int]) -> dict[str, int]:
        """`PUT /webhook/refresh`: another `lifetime` for the caller's webhooks among `ids`."""
        expires_at = time.time() + self.lifetime
        with self.state.lock:
            for hook in self._live():
                if hook.id in ids and hook.owned_by(caller):
                    hook.expires_at = expires_at
        return {"expirationDate": int(expires_at * 1000)}

    def targets(self, event: Event) -> list[Target]:
        """One target per (app, person, URL) with the ids of the webhooks the event matched."""
        if event.facts is None:
            return []
        grouped: dict[tuple[str, str, str, str], list[int]] = {}
        with self.state.lock:
            for hook in self._live():
                if hook.site != event.site or event.name not in hook.events:
                    continue
                if _filtered_out(hook, event):
                    continue
                if hook.query.matches(event.facts):
                    key = (hook.kind, hook.app, hook.account_id, hook.url)
                    grouped.setdefault(key, []).append(hook.id)
            targets = []
            for (kind, app, account, url), ids in grouped.items():
                inst = self.state.installations.get((event.site, app))
                client_key = inst.client_key if inst and kind != OAUTH else ""
                targets.append(Target(kind, app, url, client_key, account, tuple(ids)))
        return targets

    def listing(self) -> list[dict[str, Any]]:
        """Every live registration, for the control plane."""
        with self.state.lock:
            return [h.control() for h in self._live()]

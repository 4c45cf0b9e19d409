"""Webhook delivery with Jira's retry behaviour.

Each (event, subscribed app, URL) becomes a Delivery with a fixed identifier and body:
Connect descriptor webhooks (signed `JWT` with the sharedSecret) and dynamic webhooks
registered over REST (with `matchedWebhookIds`; OAuth apps' are signed `Bearer` with the
client secret). A scheduler thread hands due deliveries to a small thread pool; an attempt
that gets 408/409/425/429/5xx, a connection error or a timeout is retried after the next
configured delay (or `Retry-After`, if longer) until the delays run out. 2xx is delivered,
any other answer rejected. State changes happen under the state lock; HTTP calls never do.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from sandbox.events import Event
from sandbox.state import Delivery, SandboxState
from sandbox.times import iso_now
from sandbox.tokens import join, oauth_webhook_token, shared_secret_token

log = logging.getLogger("sandbox.webhooks")

RETRY_STATUSES = frozenset({408, 409, 425, 429})
USER_AGENT = "Atlassian Webhook HTTP Client"
STATES = ("pending", "delivered", "rejected", "failed")
CONNECT, OAUTH, FORGE = "connect", "oauth", "forge"
GONE = "app not installed or enabled, or its grant was revoked"


@dataclass(frozen=True)
class Target:
    """Where one event goes: a Connect app (by clientKey) or an OAuth app (by client id and
    the account whose grant registered the webhook), with the matched dynamic webhook ids."""

    kind: str
    app_key: str
    url: str
    client_key: str = ""  # a Forge app's: its installation id
    account_id: str = ""
    webhook_ids: tuple[int, ...] = ()
    body: dict[str, Any] | None = None  # another body than the event's (Forge's shape)


# (client id, account id, site) -> (client secret, cloudId) while a live grant allows it
OAuthSecrets = Callable[[str, str, str], tuple[str, str] | None]


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code, or an error (connection, timeout)."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        if self.status is None:
            return True
        return self.status in RETRY_STATUSES or self.status >= 500

    def record(self, retry: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"at": iso_now(), "retry": retry}
        if self.status is None:
            entry["error"] = self.error
        else:
            entry["status"] = self.status
        return entry


@dataclass(frozen=True)
class Shot:
    """Everything one HTTP attempt needs, copied out from under the lock."""

    identifier: str
    url: str
    app_base_url: str
    body: bytes
    flow: str
    client_key: str
    secret: str
    kind: str = CONNECT
    app_key: str = ""
    account_id: str = ""
    cloud_id: str = ""

    def headers(self, retry: int) -> dict[str, str]:
        """Jira's webhook headers with a fresh token; the retry header on retries."""
        headers = {
            "Content-Type": "application/json",
            "Authorization": self.authorization(),
            "User-Agent": USER_AGENT,
            "X-Atlassian-Webhook-Identifier": self.identifier,
            "X-Atlassian-Webhook-Flow": self.flow,
        }
        if retry:
            headers["X-Atlassian-Webhook-Retry"] = str(retry)
        return headers

    def authorization(self) -> str:
        """A fresh token for this attempt."""
        if self.kind == OAUTH:
            token = oauth_webhook_token(self.secret, self.app_key, self.cloud_id, self.account_id)
            return f"Bearer {token}"
        token = shared_secret_token(
            self.secret, self.client_key, "POST", self.app_base_url, self.url
        )
        return f"JWT {token}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form only)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class Sendable(Protocol):
    """One attempt's request: a Jira webhook (Shot) or a Forge event (sandbox/forge.py)."""

    url: str
    body: bytes

    def headers(self, retry: int) -> dict[str, str]: ...


def send(shot: Sendable, retry: int, timeout: float) -> Outcome:
    """POST one attempt: fresh token, same identifier, retry header on retries."""
    try:
        response = requests.post(
            shot.url,
            data=shot.body,
            headers=shot.headers(retry),
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        return Outcome(None, "timeout")
    except requests.RequestException as exc:
        return Outcome(None, f"connection error: {type(exc).__name__}")
    return Outcome(
        response.status_code, None, parse_retry_after(response.headers.get("Retry-After"))
    )


class Dispatcher:
    """Queues, sends and retries webhooks; also the control plane's view of them."""

    def __init__(
        self,
        state: SandboxState,
        retry_delays: Iterable[float],
        timeout: float = 5.0,
        workers: int = 8,
    ) -> None:
        self.extra_targets: Callable[[Event], list[Target]] = lambda event: []
        self.oauth_secrets: OAuthSecrets = lambda client_id, account_id, site: None
        self.forge_shot: Callable[[Delivery], Sendable | None] = lambda delivery: None
        self.state = state
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-webhook")
        self._scheduler = threading.Thread(target=self._run, name="sandbox-scheduler", daemon=True)
        self._stopping = False

    def start(self) -> None:
        self._scheduler.start()

    def close(self) -> None:
        """Stop scheduling; attempts in flight finish or time out on their own."""
        with self.state.lock:
            self._stopping = True
            self.state.lock.notify_all()
        if self._scheduler.is_alive():
            self._scheduler.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def publish(self, events: Iterable[Event]) -> list[str]:
        """Queue a delivery per subscribed app and URL; returns the identifiers."""
        identifiers = []
        for event in events:
            targets = self.extra_targets(event)
            with self.state.lock:
                for inst in list(self.state.installations_on(event.site)):
                    if not inst.enabled:
                        continue
                    for name, path in inst.webhooks:
                        if name == event.name:
                            url = join(inst.base_url, path)
                            targets.insert(0, Target(CONNECT, inst.app_key, url, inst.client_key))
                identifiers += [self._queue(target, event) for target in targets]
                self.state.lock.notify_all()
        return identifiers

    def _queue(self, target: Target, event: Event) -> str:
        body = dict(event.body if target.body is None else target.body)
        if target.webhook_ids:
            body["matchedWebhookIds"] = list(target.webhook_ids)
        delivery = Delivery(
            identifier=str(uuid.uuid4()),
            site=event.site,
            app_key=target.app_key,
            client_key=target.client_key,
            event=event.name,
            url=target.url,
            issue_key=event.issue_key,
            body=json.dumps(body, separators=(",", ":")).encode(),
            flow=event.flow,
            created_at=iso_now(),
            next_at=time.monotonic(),
            kind=target.kind,
            account_id=target.account_id,
        )
        self.state.deliveries[delivery.identifier] = delivery
        self.state.pending.add(delivery.identifier)
        return delivery.identifier

    def _run(self) -> None:
        lock = self.state.lock
        while True:
            with lock:
                if self._stopping:
                    return
                now = time.monotonic()
                waiting = [
                    self.state.deliveries[i]
                    for i in self.state.pending
                    if not self.state.deliveries[i].in_flight
                ]
                due = [d for d in waiting if d.next_at <= now]
                if not due:
                    soonest = min((d.next_at for d in waiting), default=None)
                    lock.wait(None if soonest is None else max(0.0, soonest - now))
                    continue
                for delivery in due:
                    delivery.in_flight = True
            try:
                for delivery in due:
                    self._pool.submit(self._attempt, delivery.identifier)
            except RuntimeError:  # the pool was shut down while we were unlocked
                return

    def _shot(self, delivery: Delivery) -> Sendable | None:
        """What to send, or None when the app may no longer get it (call unlocked)."""
        if delivery.kind == FORGE:
            return self.forge_shot(delivery)
        if delivery.kind == OAUTH:
            found = self.oauth_secrets(delivery.app_key, delivery.account_id, delivery.site)
            if found is None:
                return None
            secret, cloud_id = found
            return Shot(
                identifier=delivery.identifier,
                url=delivery.url,
                app_base_url="",
                body=delivery.body,
                flow=delivery.flow,
                client_key="",
                secret=secret,
                kind=OAUTH,
                app_key=delivery.app_key,
                account_id=delivery.account_id,
                cloud_id=cloud_id,
            )
        with self.state.lock:
            inst = self.state.installations.get((delivery.site, delivery.app_key))
            if inst is None or inst.client_key != delivery.client_key or not inst.enabled:
                return None
            return Shot(
                delivery.identifier,
                delivery.url,
                inst.base_url,
                delivery.body,
                delivery.flow,
                inst.client_key,
                inst.shared_secret,
            )

    def _attempt(self, identifier: str) -> None:
        with self.state.lock:
            delivery = self.state.deliveries[identifier]
            retry = delivery.retries
        shot = self._shot(delivery)
        if shot is None:
            with self.state.lock:
                delivery.attempts.append({"at": iso_now(), "error": GONE})
                self._finish(delivery, "failed")
            return
        outcome = send(shot, retry, self.timeout)
        log.info(
            "webhook %s %s -> %s: %s",
            delivery.event,
            identifier,
            delivery.url,
            outcome.status or outcome.error,
        )
        with self.state.lock:
            delivery.attempts.append(outcome.record(retry))
            if outcome.delivered:
                self._finish(delivery, "delivered")
            elif outcome.retryable and delivery.retries < len(self.retry_delays):
                delay = max(self.retry_delays[delivery.retries], outcome.retry_after or 0.0)
                delivery.retries += 1
                delivery.next_at = time.monotonic() + delay
                delivery.in_flight = False
                self.state.lock.notify_all()
            else:
                self._finish(delivery, "failed" if outcome.retryable else "rejected")

    def _finish(self, delivery: Delivery, final: str) -> None:
        delivery.state = final
        delivery.in_flight = False
        self.state.pending.discard(delivery.identifier)
        self.state.lock.notify_all()

    def redeliver(self, identifier: str) -> dict[str, Any] | None:
        """Send a delivery once more, now: same identifier and body, a new token.

        Outside the retry schedule; a failed or rejected delivery that now gets 2xx becomes
        delivered. Returns None for an unknown identifier.
        """
        with self.state.lock:
            delivery = self.state.deliveries.get(identifier)
            if delivery is None:
                return None
            retry = len(delivery.attempts)
        shot = self._shot(delivery)
        if shot is None:
            return {"identifier": identifier, "status": None, "error": GONE}
        outcome = send(shot, retry, self.timeout)
        with self.state.lock:
            entry = outcome.record(retry)
            entry["redelivery"] = True
            delivery.attempts.append(entry)
            if outcome.delivered and delivery.state in {"failed", "rejected"}:
                delivery.state = "delivered"
            self.state.lock.notify_all()
        return {"identifier": identifier, "status": outcome.status, "error": outcome.error}

    def wait_idle(self, timeout: float) -> dict[str, Any]:
        """Block until nothing is pending (or the timeout); returns counts per state."""
        with self.state.lock:
            idle = self.state.lock.wait_for(lambda: not self.state.pending, timeout=timeout)
            return {"idle": idle, "counts": self.counts()}

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        with self.state.lock:
            for delivery in self.state.deliveries.values():
                counts[delivery.state] += 1
        return counts

    def listing(self, site: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Deliveries, oldest first, optionally filtered by site and state."""
        with self.state.lock:
            return [
                d.public()
                for d in self.state.deliveries.values()
                if (site is None or d.site == site) and (state is None or d.state == state)
            ]

    def detail(self, identifier: str) -> dict[str, Any] | None:
        """One delivery with its body."""
        with self.state.lock:
            delivery = self.state.deliveries.get(identifier)
            if delivery is None:
                return None
            return {**delivery.public(), "body": json.loads(delivery.body)}

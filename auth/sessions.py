"""Dashboard sessions: server-side records in Redis, found by a random id in a cookie.

- The cookie holds 32 random bytes (url-safe); Redis holds the record under
  ``tandem:session:<SHA-256 of the id>``, so a copy of Redis gives no usable cookie.
- A record names the workspace, the account and the session's CSRF token, and when it
  was created and last used. It ends after ``SESSION_IDLE_MINUTES`` without use and
  ``SESSION_ABSOLUTE_HOURS`` after sign-in, whichever comes first (checked against the
  injectable clock; the Redis TTL only clears what nobody comes back for).
- ``tandem:account-sessions:<account id>`` lists an account's sessions, so a password
  change or reset ends all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis

PREFIX = "tandem:session:"
ACCOUNT_PREFIX = "tandem:account-sessions:"
TOUCH_EVERY_SECONDS = 60  # write "last used" at most once a minute


@dataclass(frozen=True)
class SessionRecord:
    """One signed-in session."""

    key: str
    tenant_id: uuid.UUID
    account_id: uuid.UUID
    csrf_token: str
    created: float
    seen: float

    def __repr__(self) -> str:  # never print the CSRF token
        return f"SessionRecord(tenant_id={self.tenant_id}, account_id={self.account_id})"

    def csrf_matches(self, sent: str | None) -> bool:
        """Constant-time comparison with the token the request sent."""
        return bool(sent) and hmac.compare_digest(self.csrf_token.encode(), str(sent).encode())


def _key(session_id: str) -> str:
    return PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Create, find, touch and end sessions."""

    def __init__(
        self,
        client: redis.Redis,
        clock: Callable[[], datetime],
        idle_seconds: int,
        absolute_seconds: int,
    ) -> None:
        self.redis = client
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    def _now(self) -> float:
        return self.clock().timestamp()

    def create(self, tenant_id: uuid.UUID, account_id: uuid.UUID) -> tuple[str, SessionRecord]:
        """A new session (a new id: sign-in always rotates); returns (cookie value, record)."""
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        record = SessionRecord(
            _key(session_id), tenant_id, account_id, secrets.token_urlsafe(32), now, now
        )
        members = ACCOUNT_PREFIX + str(account_id)
        pipe = self.redis.pipeline()
        pipe.set(record.key, self._encode(record), ex=self.absolute_seconds)
        pipe.sadd(members, record.key)
        pipe.expire(members, self.absolute_seconds)
        pipe.execute()
        return session_id, record

    def find(self, session_id: str | None) -> SessionRecord | None:
        """The live session for a cookie value, or None (ended ones are removed)."""
        if not session_id or len(session_id) > 128:
            return None
        key = _key(session_id)
        raw = self.redis.get(key)
        if raw is None:
            return None
        record = self._decode(key, raw)
        now = self._now()
        if now - record.seen > self.idle_seconds or now - record.created >= self.absolute_seconds:
            self.end(record)
            return None
        if now - record.seen >= TOUCH_EVERY_SECONDS:
            record = SessionRecord(
                key, record.tenant_id, record.account_id, record.csrf_token, record.created, now
            )
            self.redis.set(key, self._encode(record), keepttl=True)
        return record

    def end(self, record: SessionRecord) -> None:
        """Destroy one session (sign-out)."""
        pipe = self.redis.pipeline()
        pipe.delete(record.key)
        pipe.srem(ACCOUNT_PREFIX + str(record.account_id), record.key)
        pipe.execute()

    def end_all(self, account_id: uuid.UUID) -> int:
        """Destroy every session of an account (password change or reset); how many."""
        members = ACCOUNT_PREFIX + str(account_id)
        keys = [k.decode() if isinstance(k, bytes) else k for k in self.redis.smembers(members)]
        pipe = self.redis.pipeline()
        for key in keys:
            pipe.delete(key)
        pipe.delete(members)
        results = pipe.execute()
        return sum(int(r) for r in results[: len(keys)])

    @staticmethod
    def _encode(record: SessionRecord) -> str:
        return json.dumps(
            {
                "tenant": str(record.tenant_id),
                "account": str(record.account_id),
                "csrf": record.csrf_token,
                "created": record.created,
                "seen": record.seen,
            }
        )

    @staticmethod
    def _decode(key: str, raw: bytes) -> SessionRecord:
        data = json.loads(raw)
        return SessionRecord(
            key,
            uuid.UUID(data["tenant"]),
            uuid.UUID(data["account"]),
            data["csrf"],
            float(data["created"]),
            float(data["seen"]),
        )

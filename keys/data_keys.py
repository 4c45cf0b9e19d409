"""Data keys: create, unwrap (with a short in-memory cache), destroy; seal/open with them."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from keys import aead
from keys.envelope import DataKey, SealContext, open_sealed, seal
from keys.kek import KekProvider
from models.data_keys import DataKeyRecord


class DataKeyGone(aead.InvalidCiphertext):
    """The data key was destroyed or is not visible to this tenant: its values are unreadable."""


def wrapping_aad(key_id: uuid.UUID, tenant_id: uuid.UUID) -> bytes:
    """Binds a wrapped DEK to its row and tenant, so swapped wrapped keys fail to unwrap."""
    return b"tandem-dek-v1" + key_id.bytes + tenant_id.bytes


class _Cache:
    """Unwrapped DEKs for a short time, so a hot path does not unwrap per request."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[uuid.UUID, tuple[float, DataKey]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: uuid.UUID) -> DataKey | None:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key_id]
                return None
            return entry[1]

    def put(self, key: DataKey) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key.key_id] = (time.monotonic() + self._ttl, key)

    def evict(self, key_id: uuid.UUID) -> None:
        with self._lock:
            self._entries.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class KeyService:
    """Everything that touches data keys, in the caller's tenant session."""

    def __init__(self, kek: KekProvider, cache_seconds: float = 300) -> None:
        self.kek = kek
        self.cache = _Cache(cache_seconds)

    def create(
        self, session: Session, tenant_id: uuid.UUID, owner_kind: str, owner_id: uuid.UUID | None
    ) -> DataKey:
        """Generate a DEK for an owner, store it wrapped, and return it unwrapped."""
        key = DataKey(key_id=uuid.uuid4(), tenant_id=tenant_id, material=aead.new_key())
        kek_id, wrapped = self.kek.wrap(key.material, wrapping_aad(key.key_id, tenant_id))
        session.add(
            DataKeyRecord(
                id=key.key_id,
                tenant_id=tenant_id,
                owner_kind=owner_kind,
                owner_id=owner_id,
                kek_id=kek_id,
                wrapped=wrapped,
            )
        )
        session.flush()
        self.cache.put(key)
        return key

    def get(self, session: Session, key_id: uuid.UUID) -> DataKey:
        """The unwrapped DEK, from the cache or unwrapped from its row."""
        cached = self.cache.get(key_id)
        # The cache spans tenants; only hand a key to a session of its own tenant.
        if cached is not None and cached.tenant_id == session.info.get("tenant_id"):
            return cached
        record = session.get(DataKeyRecord, key_id)
        if record is None or record.wrapped is None or record.kek_id is None:
            raise DataKeyGone(f"data key {key_id} is destroyed or not visible")
        material = self.kek.unwrap(
            record.kek_id, record.wrapped, wrapping_aad(record.id, record.tenant_id)
        )
        key = DataKey(key_id=record.id, tenant_id=record.tenant_id, material=material)
        self.cache.put(key)
        return key

    def seal(
        self, session: Session, key_id: uuid.UUID, context: SealContext, plaintext: str | bytes
    ) -> bytes:
        """Seal a value under a DEK for the place ``context`` names."""
        raw = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return seal(raw, self.get(session, key_id), context)

    def open(self, session: Session, sealed: bytes, context: SealContext) -> bytes:
        """Open a sealed value stored at ``context``."""
        return open_sealed(sealed, context, lambda key_id: self.get(session, key_id))

    def destroy(self, session: Session, key_id: uuid.UUID) -> None:
        """Crypto-shred: drop the wrapped key so its values can never be opened again."""
        record = session.get(DataKeyRecord, key_id)
        if record is None:
            raise DataKeyGone(f"data key {key_id} is not visible")
        record.wrapped = None
        record.kek_id = None
        record.destroyed_at = datetime.now(UTC)
        session.flush()
        self.cache.evict(key_id)

    def rewrap(self, session: Session, key_id: uuid.UUID) -> bool:
        """Re-wrap one DEK under the current KEK; False if it already was (or is destroyed)."""
        record = session.get(DataKeyRecord, key_id, with_for_update=True)
        if record is None or record.wrapped is None or record.kek_id is None:
            return False
        if record.kek_id == self.kek.current_id():
            return False
        aad = wrapping_aad(record.id, record.tenant_id)
        material = self.kek.unwrap(record.kek_id, record.wrapped, aad)
        record.kek_id, record.wrapped = self.kek.wrap(material, aad)
        record.rotated_at = datetime.now(UTC)
        session.flush()
        return True

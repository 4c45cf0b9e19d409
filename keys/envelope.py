"""The sealed-value format and its associated data.

A sealed value is ``version (1 byte) || DEK id (16 bytes) || nonce (12) || ciphertext+tag``.
The associated data binds it to its tenant, table, row and field, so a ciphertext
copied to another row, field or tenant fails to open.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from keys import aead

FORMAT_VERSION = 1
_HEADER_BYTES = 1 + 16 + aead.NONCE_BYTES


@dataclass(frozen=True)
class SealContext:
    """Where a sealed value lives: it opens only in the same place."""

    tenant_id: uuid.UUID
    table: str
    row_id: str
    field: str

    def associated_data(self, version: int = FORMAT_VERSION) -> bytes:
        """Unambiguous encoding: each text part is length-prefixed."""
        parts = [bytes([version]), self.tenant_id.bytes]
        for text in (self.table, str(self.row_id), self.field):
            raw = text.encode()
            parts.append(len(raw).to_bytes(2, "big") + raw)
        return b"".join(parts)


@dataclass(frozen=True)
class DataKey:
    """An unwrapped data key: its id, its tenant and the 32 key bytes."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID
    material: bytes

    def __repr__(self) -> str:  # never print key material
        return f"DataKey(key_id={self.key_id}, tenant_id={self.tenant_id})"


def seal(plaintext: bytes, key: DataKey, context: SealContext) -> bytes:
    """Encrypt ``plaintext`` under ``key`` for exactly the place ``context`` names."""
    if key.tenant_id != context.tenant_id:
        raise ValueError("data key belongs to another tenant")
    nonce = aead.new_nonce()
    body = aead.encrypt(key.material, nonce, plaintext, context.associated_data())
    return bytes([FORMAT_VERSION]) + key.key_id.bytes + nonce + body


def key_id_of(sealed: bytes) -> uuid.UUID:
    """The id of the DEK a sealed value was made with."""
    if len(sealed) < _HEADER_BYTES + aead.TAG_BYTES or sealed[0] != FORMAT_VERSION:
        raise aead.InvalidCiphertext("not a sealed value of a known version")
    return uuid.UUID(bytes=bytes(sealed[1:17]))


def open_sealed(
    sealed: bytes, context: SealContext, find_key: Callable[[uuid.UUID], DataKey]
) -> bytes:
    """Decrypt a sealed value; ``find_key`` returns the unwrapped DEK for an id.

    Raises InvalidCiphertext if the value was altered, moved, or its key is gone.
    """
    sealed = bytes(sealed)
    key = find_key(key_id_of(sealed))
    if key.tenant_id != context.tenant_id:
        raise aead.InvalidCiphertext("sealed value belongs to another tenant")
    nonce = sealed[17:_HEADER_BYTES]
    return aead.decrypt(key.material, nonce, sealed[_HEADER_BYTES:], context.associated_data())

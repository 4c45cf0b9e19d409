"""The one AES-GCM primitive every sealed value goes through.

pycryptodome implements GCM for every IV length SP 800-38D allows (and refuses an
empty one), so the primitive behaves as labelled on all Wycheproof vectors; Tandem
itself only ever generates 96-bit nonces.
"""

from __future__ import annotations

import secrets

from Crypto.Cipher import AES

NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32


class InvalidCiphertext(Exception):
    """Authentication failed, or the input cannot be a valid ciphertext. Says nothing more."""


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return secrets.token_bytes(KEY_BYTES)


def new_nonce() -> bytes:
    """A fresh random 96-bit nonce."""
    return secrets.token_bytes(NONCE_BYTES)


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM encrypt; returns ciphertext followed by the 16-byte tag."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    """AES-GCM decrypt ``ciphertext || tag``; raise InvalidCiphertext on any failure."""
    if len(data) < TAG_BYTES:
        raise InvalidCiphertext("ciphertext shorter than its tag")
    try:
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
        cipher.update(aad)
        return cipher.decrypt_and_verify(data[:-TAG_BYTES], data[-TAG_BYTES:])
    except (ValueError, TypeError) as exc:
        raise InvalidCiphertext("authentication failed") from exc

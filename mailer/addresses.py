"""Email address syntax: one strict-enough check shared by messages and settings."""

from __future__ import annotations

import re

MAX_ADDRESS = 254  # RFC 5321's limit on a forward path, less the angle brackets
MAX_LOCAL = 64
# Dot-atom local part (no quoted strings, no comments) @ a domain of LDH labels with a
# dotted, alphabetic top-level label. No whitespace, no CR/LF, no display names.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


class InvalidAddress(ValueError):
    """Not an email address Tandem will send to (the message says what is expected)."""


def check_address(value: object, field: str = "email") -> str:
    """The address, trimmed and with its domain lower-cased; InvalidAddress otherwise.
    The message never repeats the value (it may be someone's address)."""
    if not isinstance(value, str):
        raise InvalidAddress(f"{field} must be a string")
    address = value.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        raise InvalidAddress(
            f"{field} must be a plain email address like name@example.com"
            f" (at most {MAX_ADDRESS} characters)"
        )
    local, domain = address.rsplit("@", 1)
    if len(local) > MAX_LOCAL:
        raise InvalidAddress(f"{field} has a part before the @ longer than {MAX_LOCAL}")
    return f"{local}@{domain.lower()}"

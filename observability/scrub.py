"""Remove credentials and personal data from error-tracking events before they leave.

``scrub_event`` is the SDK's ``before_send`` and ``scrub_breadcrumb`` its
``before_breadcrumb``. Both walk everything they are given (request headers, cookies,
query string, body, extra, contexts, tags, breadcrumbs, exception values, stack frame
variables) and:

- replace the value of any key whose name says it holds a credential or a session
  (``Authorization``, ``Cookie``, ``X-Forge-Oauth-*``, ``*token*``, ``*secret*``, ...);
- in every string, replace JWTs, ``Bearer``/``JWT``/``Basic`` credentials,
  ``name=value`` pairs with such a name, passwords in URLs, and email addresses.

They never raise: a part that cannot be scrubbed is replaced as a whole, so an event is
never dropped and never sent half-scrubbed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Any

SCRUBBED = "[scrubbed]"
UNSCRUBBABLE = "[scrubbed: could not be inspected]"
MAX_DEPTH = 40
MAX_JSON_CHARS = 100_000

# Key names (lower-cased, without "-", "_", "." and spaces) that hold a credential.
SENSITIVE_NAME_PARTS = (
    "secret",  # also shared_secret, client_secret, secret_key
    "token",  # access_token, refresh_token, id_token, csrf_token
    "password",
    "passwd",
    "jwt",
    "authorization",
    "cookie",  # Cookie, Set-Cookie, cookies
    "session",
    "refresh",
    "access",
    "dsn",
    "xforgeoauth",  # X-Forge-Oauth-System, X-Forge-Oauth-User
    "privatekey",
    "apikey",
    "signingkey",
    "datakey",
    "wrappedkey",
    "keymaterial",
    "keyring",
    "credential",
)
# Whole words of a key name that mean key material: "kek", "dek", "TANDEM_KEK_KEYS".
SENSITIVE_NAME_WORDS = frozenset({"kek", "keks", "dek", "deks"})

# The same names inside free text ("access_token=...", "'password': '...'").
_TEXT_NAMES = (
    r"secret|token|passw(?:or)?d|jwt|authorization|cookie|session|refresh|access|dsn"
    r"|x[-_]?forge[-_]?oauth|(?:private|api|signing|data|wrapped)[-_]?key|key[-_]?material"
    r"|keyring|credential|kek|dek"
)
_WORDS = frozenset({"kek", "keks", "dek", "deks"})

_NAME_PATTERN = "|".join(
    re.escape(part).replace("_", "") for part in (*SENSITIVE_NAME_PARTS, "x-forge-oauth")
)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Three base64url segments; the first must decode to a JSON object to count as a JWT.
_JWT = re.compile(r"(?<![\w.-])([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]{2,})\.([A-Za-z0-9_-]*)")
_AUTH_SCHEME = re.compile(
    r"\b(?:(?:(?i:bearer)|JWT|Basic)\s+\[scrubbed\]"  # a JWT already replaced
    r"|(?i:bearer)\s+[A-Za-z0-9\-._~+/]+=*"
    r"|JWT\s+[A-Za-z0-9\-._~+/=]{12,}"
    r"|Basic\s+[A-Za-z0-9+/]{8,}=*)"
)
# name=value, name: value, "name": "value", 'name': 'value' where name is sensitive.
_NAMED_VALUE = re.compile(
    r"(?P<name>[\w.-]*?(?i:" + _TEXT_NAMES + r")[\w.-]*)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)"
    r"(?!\[scrubbed)(?P<value>[^\s'\"&,;}\])]+)"
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_send``: the event with every credential and email address replaced."""
    try:
        scrubbed = _walk(event, 0)
    except Exception:  # pragma: no cover - _walk already contains its own failures
        return {"level": "error", "message": UNSCRUBBABLE}
    if not isinstance(scrubbed, dict):
        return {"level": "error", "message": UNSCRUBBABLE}
    return scrubbed


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_breadcrumb``: the breadcrumb, scrubbed like an event."""
    return scrub_event(crumb, hint)


def is_sensitive_name(name: object) -> bool:
    """Whether a key with this name holds a credential, a session or key material."""
    try:
        text = str(name)
    except Exception:
        return True
    squashed = re.sub(r"[\s_.\-]", "", text).lower()
    if any(part in squashed for part in SENSITIVE_NAME_PARTS):
        return True
    return any(word.lower() in SENSITIVE_NAME_WORDS for word in _WORDS.findall(text))


def scrub_text(text: str) -> str:
    """The string with JWTs, credentials, URL passwords and email addresses replaced."""
    try:
        parsed = _as_json(text)
        if parsed is not None:
            return json.dumps(_walk(parsed, 1), ensure_ascii=False)
        text = _JWT.sub(_jwt_replacement, text)
        text = _AUTH_SCHEME.sub(SCRUBBED, text)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{SCRUBBED}@", text)
        text = _NAMED_VALUE.sub(lambda m: f"{m.group('name')}{m.group('sep')}{SCRUBBED}", text)
        return _EMAIL.sub(SCRUBBED, text)
    except Exception:
        return UNSCRUBBABLE


def looks_like_jwt(header: str, payload: str) -> bool:
    """Whether two base64url segments are a JWT's header (a JSON object) and payload."""
    if header.startswith("eyJ"):  # base64 of '{"': a JWT header, even if damaged
        return True
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        return isinstance(json.loads(decoded), dict) and bool(payload)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False


def _jwt_replacement(match: re.Match[str]) -> str:
    return SCRUBBED if looks_like_jwt(match.group(1), match.group(2)) else match.group(0)


def _as_json(text: str) -> Any:
    """A JSON object or array held in a string (a raw request body), else None."""
    stripped = text.strip()
    if len(stripped) > MAX_JSON_CHARS or stripped[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _walk(value: Any, depth: int) -> Any:
    """Scrub one node of the event; a node that fails is replaced, never dropped."""
    try:
        if depth > MAX_DEPTH:
            return UNSCRUBBABLE
        if isinstance(value, str):
            return scrub_text(value)
        if isinstance(value, bytes | bytearray):
            return scrub_text(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, dict):
            return _walk_mapping(value, depth)
        if isinstance(value, list | tuple | set | frozenset):
            return [_walk(item, depth + 1) for item in list(value)]
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, datetime | date):
            return value  # breadcrumb timestamps, before the SDK serialises them
        return scrub_text(repr(value))
    except Exception:
        return UNSCRUBBABLE


def _walk_mapping(mapping: dict[Any, Any], depth: int) -> dict[Any, Any]:
    """Scrub keys (a key may itself be an email or a token) and values; keys that scrub
    to the same text are numbered, so no entry is lost."""
    scrubbed: dict[Any, Any] = {}
    for key, item in list(mapping.items()):
        new_key = scrub_text(key) if isinstance(key, str) else key
        if new_key in scrubbed:
            new_key = f"{new_key}#{len(scrubbed)}"
        scrubbed[new_key] = _scrub_item(key, item, depth)
    return scrubbed


def _scrub_item(key: Any, item: Any, depth: int) -> Any:
    try:
        if is_sensitive_name(key) and not (item is None or item == "" or item == []):
            return SCRUBBED
        return _walk(item, depth + 1)
    except Exception:
        return UNSCRUBBABLE

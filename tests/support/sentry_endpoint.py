"""A stand-in for a self-hosted Sentry: records the envelopes POSTed to it over real HTTP."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

from tests.support.http_server import serving

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
PROJECT = "42"


@dataclass
class Envelope:
    """One envelope as received: the raw body, its header and its (header, payload) items."""

    raw: str
    header: dict[str, Any]
    items: list[tuple[dict[str, Any], bytes]]
    auth: str

    def events(self) -> list[dict[str, Any]]:
        """The error events it carries (item type ``event``)."""
        return [json.loads(payload) for head, payload in self.items if head.get("type") == "event"]


@dataclass
class FakeSentry:
    """What the fake endpoint has received so far, and the DSN that points at it."""

    dsn: str = ""
    envelopes: list[Envelope] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for envelope in self.envelopes for event in envelope.events()]

    def raw(self) -> str:
        """Every body received, decompressed, as one string (to search for leaks)."""
        with self.lock:
            return "\n".join(envelope.raw for envelope in self.envelopes)


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split a Sentry envelope: a JSON header line, then items of a header line and a
    payload (``length`` bytes when the item header says so, else up to the newline)."""
    header_line, _, rest = body.partition(b"\n")
    items: list[tuple[dict[str, Any], bytes]] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        if "length" in item_header:
            length = int(item_header["length"])
            payload, rest = rest[:length], rest[length:]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_header, payload))
    return json.loads(header_line), items


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding:
        raise ValueError(f"unexpected Content-Encoding {encoding!r}")
    return body


def endpoint_app(received: FakeSentry) -> Flask:
    """The WSGI app: ``POST /api/<project>/envelope/`` is recorded and answered 200."""
    app = Flask("fake-sentry")

    @app.post("/api/<project>/envelope/")
    def envelope(project: str) -> Response:
        if project != PROJECT:
            return Response("unknown project", status=404)
        body = _decode(request.get_data(), request.headers.get("Content-Encoding", ""))
        header, items = parse_envelope(body)
        auth = request.headers.get("X-Sentry-Auth", "")
        with received.lock:
            received.envelopes.append(
                Envelope(body.decode("utf-8", "replace"), header, items, auth)
            )
        return Response("{}", content_type="application/json")

    return app


@contextmanager
def fake_sentry() -> Iterator[FakeSentry]:
    """Serve the fake endpoint on a free loopback port; ``dsn`` points the SDK at it."""
    received = FakeSentry()
    with serving(endpoint_app(received)) as base_url:
        parts = urlsplit(base_url)
        received.dsn = f"{parts.scheme}://{PUBLIC_KEY}@{parts.netloc}/{PROJECT}"
        yield received

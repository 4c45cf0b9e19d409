"""Small server-rendered pages for people's browsers (every value escaped)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from flask import Response

STYLESHEET = "/static/tandem.css"  # no inline style: the CSP allows styles from self only


def page(title: str, paragraphs: Iterable[str], status: int = 200) -> Response:
    """An HTML page with a heading and plain-text paragraphs; never cached, never sends a
    Referer onwards (the OAuth callback's URL holds a code)."""
    body = "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<link rel='stylesheet' href='{STYLESHEET}'></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

"""The HTML of the consent screen and of authorisation error pages."""

from __future__ import annotations

from html import escape

from sandbox.scopes import OAUTH_SCOPES
from sandbox.state import User

STYLE = "body{font-family:sans-serif;max-width:40em;margin:2em auto}li{margin:.3em 0}"


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def error_page(error: str, description: str) -> str:
    """What auth.atlassian.com shows when it cannot send the person back to the app."""
    return _page(
        "Something went wrong",
        f"<p id='error'>{escape(error)}</p><p id='error_description'>{escape(description)}</p>",
    )


def consent_page(
    app_name: str,
    params: dict[str, str],
    scopes: tuple[str, ...],
    sites: list[tuple[str, str]],
    accounts: list[User],
    default_account: str,
) -> str:
    """The consent form: which app, which scopes, which site(s) and who approves.

    It POSTs back to `/authorize` with the original parameters plus `site`, `account_id`
    and `decision=approve|deny`."""
    hidden = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in params.items()
    )
    scope_items = "".join(
        f"<li><code>{escape(s)}</code>: {escape(OAUTH_SCOPES.get(s, ''))}</li>" for s in scopes
    )
    site_items = "".join(
        f"<li><label><input type='checkbox' name='site' value='{escape(name)}'"
        f"{' checked' if i == 0 else ''}> {escape(name)} ({escape(url)})</label></li>"
        for i, (name, url) in enumerate(sites)
    )
    options = "".join(
        f"<option value='{escape(u.account_id)}'"
        f"{' selected' if u.account_id == default_account else ''}>"
        f"{escape(u.display_name)}</option>"
        for u in accounts
    )
    body = (
        f"<p><strong>{escape(app_name)}</strong> is requesting access to your Atlassian "
        f"account.</p><form method='post' action='/authorize'>{hidden}"
        f"<h2>It wants to</h2><ul>{scope_items}</ul>"
        f"<h2>Use app on</h2><ul>{site_items}</ul>"
        f"<p><label>Signed in as <select name='account_id'>{options}</select></label></p>"
        "<button type='submit' name='decision' value='approve'>Accept</button> "
        "<button type='submit' name='decision' value='deny'>Cancel</button></form>"
    )
    return _page(f"{app_name} is requesting access", body)

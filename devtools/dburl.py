"""Parse and build ``postgresql://`` URLs (passwords URL-quoted, never printed)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from psycopg2.extensions import parse_dsn

from devtools.common import SetupError

_NETLOC_KEYS = {"user", "password", "host", "port", "dbname"}


def dsn_params(url: str, name: str = "database URL") -> dict[str, str]:
    """Return the libpq parameters of ``url``; ``name`` labels it in the error."""
    try:
        return parse_dsn(url)
    except Exception as exc:  # psycopg2 raises ProgrammingError for malformed input
        raise SetupError(f"{name} is not a valid PostgreSQL URL") from exc


def build_url(server: dict[str, str], user: str, password: str, dbname: str) -> str:
    """Build a URL for ``user``/``dbname`` on the server described by ``server`` params.

    Extra parameters of the server (``sslmode`` …) are kept; a unix-socket host
    (an absolute path) goes into the query string, as libpq expects.
    """
    host = server.get("host", "")
    port = server.get("port", "")
    query = {k: v for k, v in server.items() if k not in _NETLOC_KEYS}
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    if host.startswith("/") or "," in host:
        query.update({"host": host, **({"port": port} if port else {})})
    elif host:
        netloc += f"[{host}]" if ":" in host else host
        netloc += f":{port}" if port else ""
    url = f"postgresql://{netloc}/{quote(dbname, safe='')}"
    return f"{url}?{urlencode(query)}" if query else url


def describe(url: str) -> str:
    """Return ``user@host:port/db`` for messages (no password)."""
    params = dsn_params(url)
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    user = params.get("user", "")
    where = f"{host}:{port}/{params.get('dbname', '')}"
    return f"{user}@{where}" if user else where

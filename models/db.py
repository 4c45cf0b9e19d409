"""Engines and sessions. Every tenant query runs in ``tenant_session``.

The tenant is set with ``set_config('app.tenant_id', …, true)`` at the start of each
transaction, so it is transaction-local and cannot leak to the next user of a pooled
connection. Row-Level Security policies compare against it; with no tenant set they
match nothing.

To save a network round trip per transaction, ``after_begin`` only marks the tenant as
pending on the connection; the ``set_config`` then travels in the same message as the
transaction's first statement (``SELECT set_config(…); <statement>``), so it still runs
first, inside the transaction. The mark is dropped on commit, rollback and check-in.

``tenant_statement`` goes further for the hottest path (the webhook inbox): the
``set_config`` and one statement travel as one simple-query message on an autocommit
connection, which PostgreSQL runs as one implicit transaction, so BEGIN, the statement
and COMMIT cost one round trip instead of three.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

TENANT_SETTING = "app.tenant_id"
_PENDING = "tandem.pending_tenant"
_SET_TENANT = "SELECT set_config('app.tenant_id', %(_tandem_tenant)s, true)"


class MissingTenant(RuntimeError):
    """A tenant session was asked for without a tenant."""


class TenantSession(Session):
    """A session whose every transaction is bound to ``info['tenant_id']``."""


@event.listens_for(TenantSession, "after_begin")
def _bind_transaction_to_tenant(session: Session, _transaction: Any, connection: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise MissingTenant("tenant session has no tenant")
    connection.info[_PENDING] = str(tenant_id)


def _send_pending_tenant(
    connection: Any,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """Put a pending ``set_config`` in front of the transaction's first statement."""
    tenant = connection.info.pop(_PENDING, None)
    if tenant is None:
        return statement, parameters
    if getattr(context, "_is_server_side", False):
        # A named (server-side) cursor may execute once, so set_config needs a plain one.
        with connection.connection.dbapi_connection.cursor() as plain:
            plain.execute(_SET_TENANT, {"_tandem_tenant": tenant})
        return statement, parameters
    if executemany or not isinstance(parameters, dict):
        cursor.execute(_SET_TENANT, {"_tandem_tenant": tenant})  # its own round trip
        return statement, parameters
    return f"{_SET_TENANT}; {statement}", {**parameters, "_tandem_tenant": tenant}


def _drop_pending_tenant(connection: Any, *_args: Any) -> None:
    connection.info.pop(_PENDING, None)


def _drop_pending_on_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info.pop(_PENDING, None)


def watch_tenant_binding(engine: Engine) -> None:
    """Install the listeners that deliver and clear the pending tenant on ``engine``."""
    if event.contains(engine, "before_cursor_execute", _send_pending_tenant):
        return
    event.listen(engine, "before_cursor_execute", _send_pending_tenant, retval=True)
    event.listen(engine, "commit", _drop_pending_tenant)
    event.listen(engine, "rollback", _drop_pending_tenant)
    event.listen(engine.pool, "checkin", _drop_pending_on_checkin)


def as_tenant_id(value: uuid.UUID | str | None) -> uuid.UUID:
    """Validate a tenant id; refuse None and anything that is not a UUID."""
    if value is None or value == "":
        raise MissingTenant("a tenant id is required")
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise MissingTenant(f"not a tenant id: {value!r}") from None


def driver_url(url: str) -> str:
    """Pin plain ``postgresql://`` URLs to psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def make_engine(url: str, pool_size: int = 5, **kwargs: Any) -> Engine:
    """A pooled engine. No ping per checkout (a round trip per transaction): a connection
    that died is noticed on use, answered as "database unavailable" (503 / job retry),
    and the whole pool is refreshed; connections are also recycled every 30 minutes."""
    options: dict[str, Any] = {"max_overflow": pool_size, "pool_recycle": 1800, **kwargs}
    return create_engine(driver_url(url), pool_size=pool_size, **options)


@contextmanager
def transaction_scope(session: Session) -> Iterator[Session]:
    """Commit on success, roll back on any error, always close."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """The app role's engine plus the two ways in: tenant sessions and directory look-ups."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        watch_tenant_binding(engine)
        self._tenant_sessions = sessionmaker(engine, class_=TenantSession, expire_on_commit=False)

    def listen(self, name: str, hook: Callable[..., Any]) -> bool:
        """Attach a session event hook (``before_commit``, ``after_commit``, ...) to every
        tenant session of this database, once; False if ``hook`` already was attached."""
        if event.contains(self._tenant_sessions, name, hook):
            return False
        event.listen(self._tenant_sessions, name, hook)
        return True

    @classmethod
    def from_url(cls, url: str, pool_size: int = 5) -> Database:
        return cls(make_engine(url, pool_size))

    @contextmanager
    def tenant_session(self, tenant_id: uuid.UUID | str | None) -> Iterator[Session]:
        """A session scoped to one tenant; commits on success, rolls back on error."""
        session = self._tenant_sessions(info={"tenant_id": as_tenant_id(tenant_id)})
        with transaction_scope(session):
            yield session

    @contextmanager
    def tenant_connection(self, tenant_id: uuid.UUID | str | None) -> Iterator[Connection]:
        """A Core connection in one transaction bound to a tenant (for hot paths that
        need no ORM); commits on success."""
        tenant = as_tenant_id(tenant_id)
        with self.engine.begin() as connection:
            connection.info[_PENDING] = str(tenant)
            yield connection

    def tenant_statement(
        self, tenant_id: uuid.UUID | str | None, sql: str, parameters: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run one psycopg2-style statement (``%(name)s`` placeholders) as a transaction of
        its own bound to the tenant, in one round trip; the rows it returns.

        Errors arrive as SQLAlchemy's wrapped exceptions (OperationalError, DataError, ...),
        as they do on every other path, and a connection that broke is not reused.
        """
        tenant = str(as_tenant_id(tenant_id))
        message = f"{_SET_TENANT}; {sql}"
        arguments = {**parameters, "_tandem_tenant": tenant}
        pooled = self.engine.raw_connection()
        dbapi = pooled.driver_connection
        try:
            dbapi.autocommit = True
            with dbapi.cursor() as cursor:
                cursor.execute(message, arguments)
                return cursor.fetchall() if cursor.description else []
        except psycopg2.Error as error:
            wrapped = DBAPIError.instance(
                message, arguments, error, psycopg2.Error, hide_parameters=True
            )
            if isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError):
                pooled.invalidate(error)
            raise wrapped from error
        finally:
            if not dbapi.closed:
                dbapi.autocommit = False
            pooled.close()  # back to the pool (or discarded, when invalidated)

    def directory_lookup(self, kind: str, key: str) -> uuid.UUID | None:
        """Find the tenant for a clientKey / Forge installation id / cloud id.

        The narrow session sets only the looked-up (kind, key); the directory's policy
        then shows that one row and no other table shows anything.
        """
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT set_config('app.lookup_kind', :kind, true),"
                    " set_config('app.lookup_key', :key, true)"
                ),
                {"kind": kind, "key": key},
            )
            found = connection.execute(
                text("SELECT tenant_id FROM tenant_directory WHERE kind = :kind AND key = :key"),
                {"kind": kind, "key": key},
            ).scalar_one_or_none()
        return found

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

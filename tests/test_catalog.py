"""Acceptance 3: the catalog itself proves the isolation rules hold for every table."""

from __future__ import annotations

from sqlalchemy import Engine, text

from models.roles import app_role, maintenance_role

# SECURITY DEFINER functions run with their owner's rights; each one must be justified here.
SECURITY_DEFINER_ALLOWED: frozenset[str] = frozenset()


def _rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def test_every_tenant_table_has_forced_rls_and_a_policy(owner_engine: Engine) -> None:
    rows = _rows(
        owner_engine,
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                       AND a.attname = 'tenant_id' AND NOT a.attisdropped)
               OR c.relname = 'tenants')
        """,
    )
    assert len(rows) >= 6
    bad = [name for name, rls, forced, policies in rows if not (rls and forced and policies)]
    assert bad == [], f"tables without ENABLE+FORCE RLS and a policy: {bad}"


def test_app_role_is_powerless_and_owns_nothing(owner_engine: Engine) -> None:
    for role in (app_role(), maintenance_role()):
        (attrs,) = _rows(
            owner_engine,
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = :r",
            r=role,
        )
        assert attrs == (False, False, False, False), role
        owned = _rows(
            owner_engine,
            """
            WITH r AS (SELECT oid FROM pg_roles WHERE rolname = :r)
            SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM r)
            UNION ALL SELECT proname FROM pg_proc WHERE proowner = (SELECT oid FROM r)
            UNION ALL SELECT nspname FROM pg_namespace WHERE nspowner = (SELECT oid FROM r)
            UNION ALL SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM r)
            """,
            r=role,
        )
        assert owned == [], f"{role} owns {owned}"


def test_no_security_definer_functions_outside_the_allow_list(owner_engine: Engine) -> None:
    rows = _rows(
        owner_engine,
        """
        SELECT n.nspname || '.' || p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        """,
    )
    assert {name for (name,) in rows} <= SECURITY_DEFINER_ALLOWED


def test_no_role_the_app_uses_can_truncate_and_audit_is_append_only(owner_engine: Engine) -> None:
    tables = [
        name
        for (name,) in _rows(
            owner_engine, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    ]
    assert "audit_events" in tables
    for role in (app_role(), maintenance_role()):
        for table in tables:
            (can_truncate,) = _rows(
                owner_engine, "SELECT has_table_privilege(:r, :t, 'TRUNCATE')", r=role, t=table
            )[0]
            assert not can_truncate, f"{role} may TRUNCATE {table}"
    for privilege, expected in (("INSERT", True), ("UPDATE", False), ("DELETE", False)):
        (granted,) = _rows(
            owner_engine,
            "SELECT has_table_privilege(:r, 'audit_events', :p)",
            r=app_role(),
            p=privilege,
        )[0]
        assert granted is expected, f"app role {privilege} on audit_events"
    (maintenance_delete,) = _rows(
        owner_engine,
        "SELECT has_table_privilege(:r, 'audit_events', 'DELETE')",
        r=maintenance_role(),
    )[0]
    assert maintenance_delete


def test_maintenance_role_never_sees_wrapped_key_material(owner_engine: Engine) -> None:
    (readable,) = _rows(
        owner_engine,
        "SELECT has_column_privilege(:r, 'data_keys', 'wrapped', 'SELECT')",
        r=maintenance_role(),
    )[0]
    assert readable is False

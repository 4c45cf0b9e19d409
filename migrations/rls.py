"""SQL helpers for Row-Level Security and grants, used by every migration."""

from __future__ import annotations

from alembic import op

from models.roles import app_role, maintenance_role

CURRENT_TENANT = "(SELECT app_current_tenant())"


def quote(identifier: str) -> str:
    """Quote a role or table name for SQL."""
    return '"' + identifier.replace('"', '""') + '"'


def enable_tenant_rls(table: str, column: str = "tenant_id") -> None:
    """ENABLE + FORCE RLS and one policy confining every command to the current tenant."""
    match = f"{column} = {CURRENT_TENANT}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({match}) WITH CHECK ({match})")


def grant_app(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Grant the app role its privileges on a table (never TRUNCATE)."""
    op.execute(f"GRANT {privileges} ON {table} TO {quote(app_role())}")


def grant_maintenance(table: str, privileges: str) -> None:
    """Grant the maintenance role its privileges on a table (never TRUNCATE)."""
    op.execute(f"GRANT {privileges} ON {table} TO {quote(maintenance_role())}")


def maintenance_sees_all(table: str) -> None:
    """Let the maintenance role read every row (for inventories that span tenants)."""
    op.execute(
        f"CREATE POLICY maintenance_inventory ON {table} FOR SELECT "
        f"TO {quote(maintenance_role())} USING (true)"
    )

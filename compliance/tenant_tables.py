"""Every tenant table, read from the catalog and ordered child before parent.

Read from ``pg_catalog`` (which every role may read), so a table added by a later
migration is found without anyone listing it here.
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from sqlalchemy import Connection, text

TENANT_COLUMNS = """
SELECT c.relname, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND (a.attname = 'tenant_id' OR (c.relname = 'tenants' AND a.attname = 'id'))
"""

FOREIGN_KEYS = """
SELECT child.relname, parent.relname
FROM pg_constraint k
JOIN pg_class child ON child.oid = k.conrelid
JOIN pg_class parent ON parent.oid = k.confrelid
JOIN pg_namespace n ON n.oid = child.relnamespace
WHERE k.contype = 'f' AND n.nspname = 'public'
"""


def tenant_tables(connection: Connection) -> list[tuple[str, str]]:
    """(table, tenant column) for every tenant table, children before their parents."""
    columns = {table: column for table, column in connection.execute(text(TENANT_COLUMNS))}
    children: dict[str, set[str]] = {table: set() for table in columns}
    for child, parent in connection.execute(text(FOREIGN_KEYS)):
        if child != parent and child in columns and parent in columns:
            children[parent].add(child)
    # A node's "predecessors" are its children, so children come out first.
    order = TopologicalSorter(children).static_order()
    return [(table, columns[table]) for table in order]

"""Alembic migrations; RLS policies and grants live next to the tables they guard."""

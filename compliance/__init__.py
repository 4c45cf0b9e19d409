"""Compliance: workspace export (and, from other work, deletion and retention)."""

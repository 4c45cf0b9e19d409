"""Benchmarks: ``python bench/rls_overhead.py`` and ``python bench/crypto.py`` (see Makefile)."""

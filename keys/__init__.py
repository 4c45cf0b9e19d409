"""Envelope encryption: KEK providers, data keys (DEKs), seal/open, rotation."""

"""Who is calling: Connect JWTs (signed installs and shared-secret tokens)."""

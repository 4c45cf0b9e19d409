"""Error tracking: a Sentry-compatible SDK set up with secrets scrubbed (docs/operations.md)."""

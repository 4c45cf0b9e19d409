"""A local stand-in for Jira Cloud: sites with a REST API v3 subset, a Connect installer
that signs lifecycle calls, a key server, and webhook delivery with Jira's retries.

Development and tests only; see docs in `sandbox/README.md` and DESIGN.md section 8.
"""

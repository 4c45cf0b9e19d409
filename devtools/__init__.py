"""Developer set-up tooling for Tandem: local services, roles, databases, env files.

Entry point: ``python -m devtools.setup --profile run|test`` (see ``devtools.setup``).
The test suite can reuse the database provisioning::

    from devtools.provision import Roles, bootstrap_database, drop_database
"""

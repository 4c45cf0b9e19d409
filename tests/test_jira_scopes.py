"""The call registry is the only source of scopes: the descriptor asks for exactly
what the registered calls need."""

from __future__ import annotations

import pytest

from handlers.connect import descriptor_for
from jira.calls import CALLS, OAUTH_OFFLINE, connect_scopes, oauth_scopes
from jira.client import JiraClient
from jira.signing import ConnectCredentials

CONNECT_SCOPES = {"READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN", "ACT_AS_USER"}


def test_descriptor_scopes_are_exactly_the_registry_scopes() -> None:
    needed = {call.connect_scope for call in CALLS.values()}
    descriptor = descriptor_for("https://tandem.example", "io.tandem.jira-sync")
    assert set(descriptor["scopes"]) == needed
    assert len(descriptor["scopes"]) == len(needed)
    assert needed <= CONNECT_SCOPES


def test_oauth_scopes_are_the_registry_scopes_plus_offline_access() -> None:
    assert set(oauth_scopes()) == {c.oauth_scope for c in CALLS.values()} | {OAUTH_OFFLINE}


def test_deletes_need_the_delete_scope_and_reads_only_read() -> None:
    for call in CALLS.values():
        if call.method == "GET":
            assert call.connect_scope == "READ" and call.oauth_scope.startswith("read:"), call
        if call.method == "DELETE" and "property" not in call.name:
            assert call.connect_scope == "DELETE", call
    assert connect_scopes() == ["READ", "WRITE", "DELETE"]


def test_the_client_refuses_a_call_outside_the_registry() -> None:
    client = JiraClient(ConnectCredentials("http://127.0.0.1:1", "k", "s" * 32))
    with pytest.raises(ValueError, match="not a registered Jira call"):
        client.call("delete_project", path_params={"key": "ALP"})
    assert client.meter.calls == 0

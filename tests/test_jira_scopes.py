"""The call registry is the only source of scopes: the descriptor and the OAuth consent
ask for exactly what the registered calls need."""

from __future__ import annotations

import re

import pytest

from handlers.connect import descriptor_for
from jira.calls import CALLS, OAUTH_OFFLINE, connect_calls, connect_scopes, oauth_scopes
from jira.client import JiraClient
from jira.signing import ConnectCredentials
from sandbox.scopes import RULES

CONNECT_SCOPES = {"READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN", "ACT_AS_USER"}


def test_descriptor_scopes_are_exactly_the_registry_scopes() -> None:
    needed = {call.connect_scope for call in connect_calls()}
    descriptor = descriptor_for("https://tandem.example", "io.tandem.jira-sync")
    assert set(descriptor["scopes"]) == needed
    assert len(descriptor["scopes"]) == len(needed)
    assert needed <= CONNECT_SCOPES


def test_oauth_scopes_are_the_registry_scopes_plus_offline_access() -> None:
    needed = {scope for call in CALLS.values() for scope in call.oauth_scopes}
    assert set(oauth_scopes()) == needed | {OAUTH_OFFLINE}
    assert len(oauth_scopes()) == len(set(oauth_scopes()))
    assert oauth_scopes() == [
        "manage:jira-webhook",
        "offline_access",
        "read:jira-user",
        "read:jira-work",
        "report:personal-data",
        "write:jira-work",
    ]


def test_dynamic_webhook_calls_are_oauth_only_and_need_the_webhook_scope() -> None:
    names = ("register_webhooks", "list_webhooks", "delete_webhooks", "refresh_webhooks")
    for name in names:
        call = CALLS[name]
        assert call.connect_scope is None, call  # Connect apps use descriptor webhooks
        assert call.oauth_scopes == ("read:jira-work", "manage:jira-webhook"), call
        assert call.points == 1, call
    assert not {c.name for c in connect_calls()} & set(names)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_each_call_asks_exactly_the_oauth_scopes_the_sandbox_enforces() -> None:
    rules = {(rule.method, _shape(rule.path)): rule for rule in RULES.values()}
    for call in CALLS.values():
        rule = rules[(call.method, _shape(call.path))]
        assert set(call.oauth_scopes) == set(rule.oauth), call.name
        if call.connect_scope is not None:
            assert call.connect_scope == rule.connect, call.name


def test_deletes_need_the_delete_scope_and_reads_only_read() -> None:
    for call in connect_calls():
        if call.method == "GET":
            assert call.connect_scope == "READ", call
            assert all(scope.startswith("read:") for scope in call.oauth_scopes), call
        if call.method == "DELETE" and "property" not in call.name:
            assert call.connect_scope == "DELETE", call
    assert connect_scopes() == ["READ", "WRITE", "DELETE"]


def test_the_client_refuses_a_call_outside_the_registry() -> None:
    client = JiraClient(ConnectCredentials("http://127.0.0.1:1", "k", "s" * 32))
    with pytest.raises(ValueError, match="not a registered Jira call"):
        client.call("delete_project", path_params={"key": "ALP"})
    assert client.meter.calls == 0

"""Acceptance 4: the Forge manifest asks for exactly the scopes the call registry derives;
and it is the app Tandem serves: its remote endpoints exist, every event Tandem handles is
subscribed, the Connect key and lifecycle are our descriptor's."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from werkzeug.routing import RequestRedirect
from werkzeug.test import EnvironBuilder

from app import create_app
from config import Settings
from handlers.connect import descriptor_for
from jira.calls import CALLS, FORGE_SYSTEM_TOKEN, connect_calls, forge_scopes
from jira.forge_manifest import MANIFEST, main, with_scopes
from sandbox.forge import parse_manifest
from sync.forge_events import EVENTS

LIFECYCLE = {"avi:forge:installed:app", "avi:forge:upgraded:app", "avi:forge:uninstalled:app"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def test_the_manifest_scopes_are_exactly_the_registry_derived_set(manifest) -> None:
    scopes = manifest["permissions"]["scopes"]
    needed = {scope for call in connect_calls() for scope in call.oauth_scopes}
    assert set(scopes) == needed | {FORGE_SYSTEM_TOKEN}
    assert sorted(scopes) == forge_scopes() and len(scopes) == len(set(scopes))
    # Forge has triggers, so the dynamic-webhook scope the OAuth consent needs is absent.
    assert "manage:jira-webhook" not in scopes
    assert any("manage:jira-webhook" in call.oauth_scopes for call in CALLS.values())


def test_the_scopes_block_is_what_the_generator_writes() -> None:
    text = MANIFEST.read_text()
    assert with_scopes(text, forge_scopes()) == text
    assert main([]) == 0
    stale = with_scopes(text, ["read:jira-work"])
    assert stale != text and yaml.safe_load(stale)["permissions"]["scopes"] == ["read:jira-work"]


def _route_exists(app: Any, method: str, path: str) -> bool:
    adapter = app.url_map.bind_to_environ(EnvironBuilder(path=path, method=method).get_environ())
    try:
        adapter.match(path, method=method)
    except RequestRedirect:
        return True
    except Exception:
        return False
    return True


def test_every_remote_endpoint_is_a_tandem_route(manifest, settings: Settings) -> None:
    app = create_app(settings)
    try:
        remotes = {remote["key"]: remote for remote in manifest["remotes"]}
        assert remotes["tandem"]["baseUrl"] == "${TANDEM_BASE_URL}"
        assert remotes["tandem"]["auth"]["appSystemToken"]["enabled"] is True
        for endpoint in manifest["modules"]["endpoint"]:
            assert endpoint["remote"] == "tandem"
            assert endpoint["auth"]["appSystemToken"]["enabled"] is True, endpoint
            if "route" in endpoint:
                assert _route_exists(app, "POST", endpoint["route"]["path"]), endpoint
        for path in ("/forge/issue-panel", "/forge/admin"):
            assert _route_exists(app, "GET", path)
    finally:
        app.extensions["tandem"].close()


def test_triggers_cover_every_event_tandem_reads_and_the_lifecycle(manifest) -> None:
    modules = manifest["modules"]
    subscribed = {e for trigger in modules["trigger"] for e in trigger["events"]}
    assert subscribed == set(EVENTS) | LIFECYCLE
    events = next(t for t in modules["trigger"] if "avi:jira:created:issue" in t["events"])
    assert events["filter"]["ignoreSelf"] is True
    [hourly] = modules["scheduledTrigger"]
    assert hourly["interval"] == "hour"
    for kind in ("jira:issuePanel", "jira:adminPage"):
        [module] = modules[kind]
        assert module["resolver"]["endpoint"] == "tandem-ui"


def test_the_connect_key_and_lifecycle_are_our_descriptors(manifest) -> None:
    defaults = {v["key"]: v["default"] for v in manifest["environment"]["variables"]}
    assert manifest["app"]["connect"]["key"] == "${CONNECT_KEY}"
    assert defaults["CONNECT_KEY"] == Settings.app_key
    descriptor = descriptor_for("https://tandem.example", Settings.app_key)
    [lifecycle] = manifest["connectModules"]["jira:lifecycle"]
    assert {k: v for k, v in lifecycle.items() if k != "key"} == descriptor["lifecycle"]
    assert "jira:webhooks" not in manifest["connectModules"]  # events come through Forge


def test_the_sandbox_deploys_the_manifest(manifest) -> None:
    app = parse_manifest(manifest, {"TANDEM_BASE_URL": "http://127.0.0.1:1"})
    assert app.connect_key == Settings.app_key
    assert app.endpoints["tandem-events"].url == "http://127.0.0.1:1/forge/events"
    assert set(app.scopes) == set(forge_scopes())

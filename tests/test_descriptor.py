"""Acceptance 4: the descriptor validates against Atlassian's Jira descriptor schema."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from jsonschema import Draft4Validator

from handlers.connect import descriptor_for
from handlers.webhooks import EVENTS

SHARED = Path(os.environ.get("TANDEM_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
SCHEMA = SHARED / "testdata/connect/jira-global-schema.json"


def _schema() -> dict:
    schema = copy.deepcopy(json.loads(SCHEMA.read_text()))
    # The published schema predates these two API migrations (see testdata/README.md).
    migrations = schema["properties"]["apiMigrations"]["properties"]
    migrations["signed-install"] = {"type": "boolean"}
    migrations["context-qsh"] = {"type": "boolean"}
    return schema


def test_descriptor_validates_against_the_jira_schema() -> None:
    descriptor = descriptor_for("https://tandem.example", "io.tandem.jira-sync")
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft4Validator(_schema()).iter_errors(descriptor)
    ]
    assert errors == []


def test_the_schema_check_can_fail() -> None:
    broken = descriptor_for("https://tandem.example", "io.tandem.jira-sync")
    broken["apiMigrations"]["no-such-migration"] = True
    assert list(Draft4Validator(_schema()).iter_errors(broken))


def test_every_webhook_in_the_descriptor_has_a_route() -> None:
    descriptor = descriptor_for("https://tandem.example", "io.tandem.jira-sync")
    subscribed = {hook["event"]: hook["url"] for hook in descriptor["modules"]["webhooks"]}
    routed = {event: f"/connect/webhooks/{slug}" for slug, event in EVENTS.items()}
    assert subscribed == routed
    assert descriptor["apiMigrations"] == {
        "signed-install": True,
        "context-qsh": True,
        "gdpr": True,
    }
    assert set(descriptor["lifecycle"]) == {"installed", "uninstalled", "enabled", "disabled"}

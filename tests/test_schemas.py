"""The fast validator and the reference validator agree on every schema we ship.

``schemas.validate`` trusts fastjsonschema's verdict when it accepts a document, so an
acceptance that jsonschema (the reference) would refuse is a hole. These tests mutate
valid documents in every way a hostile or broken sender might and compare verdicts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import fastjsonschema
import pytest

from schemas import InvalidPayload, fast_validator, reference_validator, validate

ODD_VALUES: list[Any] = [None, 0, -1, 1.5, True, "", "x" * 3000, [], [1], {}, {"a": 1}]

WEBHOOKS = [
    {
        "webhookEvent": "jira:issue_created",
        "timestamp": 1764600000000,
        "issue": {"id": "10001", "key": "ALP-1", "self": "https://a/x", "fields": {}},
        "user": {"accountId": "557058:1"},
        "changelog": {"items": []},
    },
    {
        "webhookEvent": "comment_created",
        "timestamp": 1,
        "issue": {"id": "1", "key": "A_B-2"},
        "comment": {"id": "77"},
    },
    {"webhookEvent": "attachment_deleted", "timestamp": 0, "attachment": {"id": 5}},
]
LIFECYCLES = [
    {
        "key": "io.tandem",
        "clientKey": "ck",
        "baseUrl": "https://site.atlassian.net",
        "eventType": "installed",
        "sharedSecret": "s" * 40,
    },
    {"key": "io.tandem", "clientKey": "ck", "baseUrl": "http://x", "eventType": "disabled"},
]
END = {"kind": "installation", "id": "0b0e0c0d-0000-4000-8000-000000000001", "project": "ALP"}
INTEGRATIONS = [
    {
        "name": "A to B",
        "source": END,
        "target": {**END, "kind": "connection", "project": "BET"},
        "direction": "two_way",
        "fields": ["summary", "status", "comments"],
        "mappings": {"status": {"To Do": "Open"}, "default_assignee": None},
        "jql": "labels = x",
        "on_issue_deleted": "label_mirror",
        "attachment_max_bytes": 1000,
        "enabled": True,
    },
    {"name": "n", "source": END, "target": END, "direction": "one_way", "fields": ["summary"]},
]


def paths(document: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value inside ``document`` (dict keys and list indexes)."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def mutations(document: Any) -> Iterator[Any]:
    """The document itself, then copies with one value replaced, removed or added to."""
    yield document
    for odd in ODD_VALUES:
        yield odd
    for path in paths(document):
        parent_path, last = path[:-1], path[-1]
        for odd in ODD_VALUES:
            changed = copy.deepcopy(document)
            parent = changed
            for part in parent_path:
                parent = parent[part]
            parent[last] = odd
            yield changed
        removed = copy.deepcopy(document)
        parent = removed
        for part in parent_path:
            parent = parent[part]
        del parent[last]
        yield removed
        extra = copy.deepcopy(document)
        parent = extra
        for part in parent_path:
            parent = parent[part]
        if isinstance(parent, dict):
            parent["unexpected"] = "value"
            yield extra
    for event in ("jira:issue_deleted", "comment_deleted", "attachment_created", "other"):
        if isinstance(document, dict) and "webhookEvent" in document:
            yield {**document, "webhookEvent": event}


def fast_accepts(name: str, document: Any) -> bool:
    try:
        fast_validator(name)(copy.deepcopy(document))  # it may fill defaults in place
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "documents"),
    [("webhook", WEBHOOKS), ("lifecycle", LIFECYCLES), ("integration", INTEGRATIONS)],
)
def test_fast_and_reference_validators_agree(name: str, documents: list[Any]) -> None:
    checked = disagreements = 0
    rejected = 0
    for valid in documents:
        assert reference_validator(name).is_valid(valid), json.dumps(valid)
        for document in mutations(valid):
            reference = reference_validator(name).is_valid(document)
            rejected += not reference
            checked += 1
            if fast_accepts(name, document) != reference:
                disagreements += 1
                print(f"{name}: reference={reference} for {json.dumps(document)[:300]}")
    assert checked > 50 and rejected > 10  # the corpus exercises both verdicts
    assert disagreements == 0


def test_validate_names_the_offending_field() -> None:
    body = copy.deepcopy(WEBHOOKS[0])
    body["issue"]["key"] = "not a key"
    with pytest.raises(InvalidPayload, match=r"^issue/key: "):
        validate("webhook", body)
    validate("webhook", WEBHOOKS[0])  # and a valid one passes

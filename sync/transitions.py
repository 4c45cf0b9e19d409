"""Moving an issue to a status through the workflow, one transition at a time."""

from __future__ import annotations

from jira.client import JiraClient
from jira.errors import PermanentError

MAX_STEPS = 8


def move_to_status(client: JiraClient, issue_key: str, status: str, current: str | None) -> int:
    """Transition ``issue_key`` to ``status``, through intermediate statuses when there is
    no direct transition; returns the number of transitions made."""
    visited = {current} if current else set()
    for step in range(MAX_STEPS):
        transitions = client.call("get_transitions", path_params={"key": issue_key}).json()[
            "transitions"
        ]
        direct = [t for t in transitions if t["to"]["name"] == status]
        if direct:
            _transition(client, issue_key, direct[0]["id"])
            return step + 1
        onward = [t for t in transitions if t["to"]["name"] not in visited]
        if not onward:
            break
        chosen = onward[0]
        visited.add(chosen["to"]["name"])
        _transition(client, issue_key, chosen["id"])
    raise PermanentError(f"no workflow path from '{current}' to status '{status}' on {issue_key}")


def _transition(client: JiraClient, issue_key: str, transition_id: str) -> None:
    client.call(
        "transition", path_params={"key": issue_key}, json={"transition": {"id": transition_id}}
    )

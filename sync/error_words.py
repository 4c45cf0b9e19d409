"""A sync attempt's outcome and error in plain words, for people (the issue panel).

The engine records errors as it raised them (``jira/client.py``: "Jira refused
edit_issue (400): summary: ...", "Jira did not answer get_issue successfully after 4
attempts", "Jira asked us to wait 30 s") and skips with a reason already in plain words.
Here the call names and statuses become sentences; Jira's own message is kept after them,
since it names the field a person must fix.
"""

from __future__ import annotations

import re

# What each registered Jira call (jira/calls.py) does, as a person would say it.
CALL_WORDS = {
    "myself": "check its own account",
    "server_info": "read the site's details",
    "get_issue": "read the issue",
    "search": "search the project",
    "count_issues": "count the project's issues",
    "create_issue": "create the mirror issue",
    "edit_issue": "update the issue",
    "delete_issue": "delete the mirror issue",
    "get_transitions": "read the workflow",
    "transition": "change the issue's status",
    "get_comments": "read the comments",
    "add_comment": "copy a comment",
    "edit_comment": "update a copied comment",
    "delete_comment": "delete a copied comment",
    "add_attachment": "copy an attachment",
    "get_attachment_content": "download an attachment",
    "delete_attachment": "delete a copied attachment",
    "get_property": "read Tandem's link on the issue",
    "set_property": "save Tandem's link on the issue",
    "delete_property": "remove Tandem's link from the issue",
    "get_user": "look up a person",
    "search_users": "find the assignee",
    "check_permissions": "check a person's permissions",
    "get_project": "read the project",
    "search_projects": "list the projects",
    "get_project_statuses": "read the project's statuses",
    "get_priorities": "read the priorities",
    "get_issue_types": "read the issue types",
    "register_webhooks": "register its webhooks",
    "list_webhooks": "list its webhooks",
    "delete_webhooks": "remove its webhooks",
    "refresh_webhooks": "renew its webhooks",
    "report_accounts": "report the people it holds data about",
}
_REFUSED = re.compile(r"^Jira refused (?P<call>\w+) \((?P<status>\d{3})\)(?:: (?P<detail>.*))?$")
_NO_ANSWER = re.compile(r"^Jira did not answer (?P<call>\w+) successfully")
_WAIT = re.compile(r"^Jira asked us to wait (?P<seconds>\d+) s")
_NO_PATH = re.compile(
    r"^no workflow path from '(?P<current>.*)' to status '(?P<status>.*)' on (?P<key>\S+)$"
)
OUTCOME_WORDS = {
    "ok": "Synced",
    "skipped": "Skipped",
    "failed": "Failed",
    "retrying": "Failed for now; Tandem will try again",
}


def outcome_words(outcome: str | None, has_reason: bool = False) -> str:
    """The attempt's outcome as a short label (a skip without a reason found both issues
    in step already)."""
    if outcome is None:
        return "Not synced yet"
    if outcome == "skipped" and not has_reason:
        return "In step: nothing needed copying"
    return OUTCOME_WORDS.get(outcome, outcome)


def _doing(call: str) -> str:
    # A call without words yet still reads as an action: "get_foo" -> "get foo".
    return CALL_WORDS.get(call, call.replace("_", " "))


def _refused(call: str, status: int, detail: str) -> str:
    doing = _doing(call)
    said = f" Jira said: {detail}" if detail else ""
    if status in (401, 403):
        return (
            f"Jira did not allow Tandem to {doing}. Check that Tandem is still installed "
            f"(or the site still connected) and may see this project.{said}"
        )
    if status == 404:
        return (
            f"Tandem could not {doing}: Jira could not find it "
            f"(it may have been deleted or moved).{said}"
        )
    if status in (400, 409, 422):
        return f"Jira did not accept the change when Tandem tried to {doing}.{said}"
    return f"Jira refused when Tandem tried to {doing} (error {status}).{said}"


def error_words(error: str | None) -> str | None:
    """The recorded error as a sentence a person can act on; None when there was none."""
    if not error:
        return None
    text = error.strip()
    refused = _REFUSED.match(text)
    if refused:
        detail = (refused["detail"] or "").strip()
        return _refused(refused["call"], int(refused["status"]), detail)
    no_answer = _NO_ANSWER.match(text)
    if no_answer:
        return (
            f"Jira did not answer when Tandem tried to {_doing(no_answer['call'])}; "
            "it will try again."
        )
    wait = _WAIT.match(text)
    if wait:
        return (
            f"Jira asked Tandem to slow down (for {wait['seconds']} s); "
            "it will try again after the pause."
        )
    no_path = _NO_PATH.match(text)
    if no_path:
        return (
            f"Tandem could not move {no_path['key']} to the status '{no_path['status']}': "
            f"its workflow has no way there from '{no_path['current']}'. Map the status to "
            "one that the mirror's project can reach."
        )
    # Skip reasons and the engine's own messages are plain words already.
    sentence = text[0].upper() + text[1:]
    return sentence if sentence.endswith(".") else f"{sentence}."

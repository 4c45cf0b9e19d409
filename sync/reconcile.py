"""Reconcile one issue with its mirror: read the issue (both sides for a two-way
integration), compare each allowed field with the hashes last synced, and write only
what differs. Level-triggered, so duplicate, late and out-of-order events all end in
the same state; Tandem's own writes match the stored hashes, so they never echo back."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from jira.client import JiraClient
from jira.errors import JiraError, PermanentError
from jira.meter import CallMeter
from models.integrations import Integration
from models.links import IssueLink
from models.sync_attempts import record_attempt
from runtime import Runtime
from sync.attachments import AttachmentSide, sync_attachments
from sync.comments import CommentSide, sync_comments
from sync.dispatch import run_serialised
from sync.fields import (
    VALUE_FIELDS,
    edit_payload,
    map_value,
    read_values,
    reverse_mappings,
    value_hash,
)
from sync.job_logs import job_meter, keep_raw_responses
from sync.markers import DELETED_LABEL, LINK_PROPERTY, SYNC_LABEL, link_property
from sync.people import resolve_assignee
from sync.sites import client_for, ends_of
from sync.transitions import TransitionCache, move_to_status, status_of_new_issue

SIDES = ("source", "target")
SEEN = "_seen"  # in field_hashes: the newest change (epoch ms) already reconciled
STATUS_NOW = "_status"  # in field_hashes: each side's status as last read or written
# Fields a Jira webhook carries exactly as a REST v3 read returns them (the description
# comes as wiki markup in webhooks, so it always needs a read).
EVENT_SAFE_FIELDS = {"summary", "priority", "issuetype", "status", "assignee"}


@dataclass
class Plan:
    """What one reconcile found and did (it becomes the sync_attempts row)."""

    action: str = "noop"
    issue_key: str | None = None
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)  # what happened to comments/files
    children: set[str] = field(default_factory=set)  # kinds a new mirror must copy


@dataclass(frozen=True)
class End:
    """One side of the integration as this reconcile sees it."""

    client: JiraClient
    site: str
    project: str


@dataclass(frozen=True)
class Context:
    integration_id: uuid.UUID
    config: dict[str, Any]
    ends: dict[str, End]
    link: dict[str, Any] | None
    # The source key of a link a person unlinked: neither issue may be mirrored again.
    unlinked: str | None = None

    @property
    def two_way(self) -> bool:
        return self.config.get("direction") == "two_way"

    @property
    def fields(self) -> list[str]:
        return list(self.config["fields"])


def reconcile_issue(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    issue_id: str,
    attempt: int = 1,
    side: str = "source",
    scopes: tuple[str, ...] = ("fields", "comments"),
    event: dict[str, Any] | None = None,
) -> str:
    """Bring ``issue_id`` (on ``side``) and its mirror in line, looking at ``scopes``
    ("fields", "comments"); one sync_attempts row whatever happens. Returns the outcome;
    re-raises transient errors so the job retries."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}")
    started = time.monotonic()
    meter = job_meter(runtime, tenant_id)
    plan = Plan()
    error: str | None = None
    try:
        outcome = _reconcile(
            runtime, tenant_id, integration_id, issue_id, side, scopes, event, meter, plan
        )
    except JiraError as failure:
        outcome = "retrying" if failure.kind == "transient" else "failed"
        error = str(failure)
    if outcome == "skipped" and plan.action.startswith("skip:"):
        plan.action, error = "skip", plan.action.removeprefix("skip:")
    record_attempt(
        runtime.db,
        tenant_id,
        runtime.log_policies,
        integration_id=integration_id,
        issue_key=plan.issue_key,
        action=plan.action,
        outcome=outcome,
        error=error,
        details={
            "side": side,
            "changed": plan.changed,
            "conflicts": plan.conflicts,
            "scopes": list(scopes),
            "comments": plan.comments,
            "calls": dict(meter.by_call),
        },
        duration_ms=int((time.monotonic() - started) * 1000),
        attempt=attempt,
        api_calls=meter.calls,
        api_points=meter.points,
    )
    keep_raw_responses(runtime, tenant_id, meter)
    if outcome == "retrying":
        raise _Retry(error or "transient Jira error")
    return outcome


def run_reconcile(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    side: str,
    issue_id: str,
    attempt: int = 1,
) -> str:
    """``reconcile_issue`` under the link's lock with whatever changes are noted for it
    (sync/dispatch.py); raises after a transient failure, so the caller retries."""
    return run_serialised(
        runtime,
        tenant_id,
        integration_id,
        side,
        issue_id,
        lambda scopes, event: reconcile_issue(
            runtime, tenant_id, integration_id, issue_id, attempt, side, scopes, event
        ),
    )


class _Retry(Exception):
    """Raised after a transient failure was recorded, so RQ retries the job."""


def _load(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    issue_id: str,
    side: str,
    meter: CallMeter,
) -> Context | None:
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None or not integration.enabled or integration.paused_reason:
            return None
        ends: dict[str, End] = {}
        for name, (kind, end_id) in zip(SIDES, ends_of(integration), strict=True):
            client, site = client_for(runtime, session, kind, end_id, meter)
            ends[name] = End(client, site, getattr(integration, f"{name}_project"))
        column = IssueLink.source_issue_id if side == "source" else IssueLink.target_issue_id
        link = session.execute(
            select(IssueLink).where(
                IssueLink.integration_id == integration_id,
                column == issue_id,
                IssueLink.state.in_(("active", "unlinked")),
            )
        ).scalar_one_or_none()
        if link is not None and link.state == "unlinked":
            return Context(
                integration_id, dict(integration.config), ends, None, link.source_issue_key
            )
        view = None
        if link is not None:
            view = {
                "id": link.id,
                "source": link.source_issue_id,
                "target": link.target_issue_id,
                "source_key": link.source_issue_key,
                "target_key": link.target_issue_key,
                "hashes": dict(link.field_hashes),
            }
        return Context(integration_id, dict(integration.config), ends, view)


def _reconcile(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    issue_id: str,
    side: str,
    scopes: tuple[str, ...],
    event: dict[str, Any] | None,
    meter: CallMeter,
    plan: Plan,
) -> str:
    context = _load(runtime, tenant_id, integration_id, issue_id, side, meter)
    if context is None:
        plan.action = "skip:the integration is disabled or paused"
        return "skipped"
    if context.unlinked:
        plan.action, plan.issue_key = "skip:the issues were unlinked", context.unlinked
        return "skipped"
    try:
        return _apply(runtime, tenant_id, context, issue_id, side, scopes, event, plan)
    except PermanentError as error:
        # Events of an issue's deletion (its comments' too) race its reconciles: when the
        # issue itself is gone, the deletion's own reconcile applies the policy.
        if error.status != 404 or not _gone(context.ends[side], issue_id):
            raise
        plan.action = "skip:the issue was deleted"
        plan.issue_key = plan.issue_key or ((event or {}).get("issue") or {}).get("key")
        return "skipped"


def _gone(end: End, issue_id: str) -> bool:
    """Whether the issue no longer exists (or is no longer visible to us)."""
    try:
        end.client.call("get_issue", path_params={"key": issue_id}, params={"fields": "summary"})
    except PermanentError as error:
        if error.status == 404:
            return True
        raise
    return False


def _apply(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    context: Context,
    issue_id: str,
    side: str,
    scopes: tuple[str, ...],
    event: dict[str, Any] | None,
    plan: Plan,
) -> str:
    """Create, update, sync the children of, or apply the deletion of, a loaded issue."""
    if context.link is None:
        if side == "target" and not context.two_way:
            plan.action = "skip:one-way integrations do not copy issues back"
            return "skipped"
        if "deleted" in scopes:
            plan.action = "skip:the issue was deleted and has no active mirror"
            return "skipped"
        outcome = _create(runtime, tenant_id, context, issue_id, side, plan)
        children = {"comments", "attachments"} & set(context.fields) & plan.children
        if outcome == "ok" and children:
            _children(runtime, tenant_id, context, issue_id, side, children, plan)
        return outcome
    if "deleted" in scopes:
        return _deleted(runtime, tenant_id, context, side, plan)
    outcome, failure = "skipped", None
    if "fields" in scopes:
        try:
            outcome = _update(runtime, tenant_id, context, plan, side, event)
        except PermanentError as error:
            failure = error  # a field a person must fix: the comments and files still go
    else:
        plan.action, plan.issue_key = "children", context.link["source_key"]
    children = {"comments", "attachments"} & set(context.fields) & set(scopes)
    if children:
        _children(runtime, tenant_id, context, issue_id, side, children, plan)
        if plan.comments:
            outcome = "ok"
    if failure is not None:
        raise failure
    return outcome


def _pair(
    runtime: Runtime, tenant_id: uuid.UUID, context: Context, issue_id: str, side: str
) -> tuple[uuid.UUID, dict[str, tuple[str, str]]] | None:
    """The link id and both issues (id, key) of the pair ``issue_id`` belongs to."""
    with runtime.db.tenant_session(tenant_id) as session:
        column = IssueLink.source_issue_id if side == "source" else IssueLink.target_issue_id
        link = session.execute(
            select(IssueLink).where(
                IssueLink.integration_id == context.integration_id, column == issue_id
            )
        ).scalar_one_or_none()
        if link is None:
            return None
        return link.id, {
            "source": (link.source_issue_id, link.source_issue_key),
            "target": (link.target_issue_id, link.target_issue_key),
        }


def _children(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    context: Context,
    issue_id: str,
    side: str,
    kinds: set[str],
    plan: Plan,
) -> None:
    """Sync the comments and/or attachments of a linked pair."""
    found = _pair(runtime, tenant_id, context, issue_id, side)
    if found is None:
        return
    link_id, pair = found
    if "comments" in kinds:
        sides = {n: CommentSide(n, context.ends[n].client, *pair[n]) for n in SIDES}
        plan.comments += sync_comments(
            runtime,
            tenant_id,
            link_id,
            sides,
            context.two_way,
            context.config.get("on_comment_deleted", "ignore"),
        )
    if "attachments" in kinds:
        files = {
            n: AttachmentSide(n, context.ends[n].client, *pair[n], context.ends[n].site)
            for n in SIDES
        }
        plan.comments += sync_attachments(
            runtime,
            tenant_id,
            link_id,
            files,
            context.two_way,
            int(context.config.get("attachment_max_bytes", 10 * 1024 * 1024)),
        )


def _deleted(
    runtime: Runtime, tenant_id: uuid.UUID, context: Context, side: str, plan: Plan
) -> str:
    """The issue on ``side`` was deleted: apply the integration's policy to its mirror."""
    link = context.link
    assert link is not None
    plan.action, plan.issue_key = "delete", link[f"{side}_key"]
    try:
        context.ends[side].client.call(
            "get_issue", path_params={"key": link[side]}, params={"fields": "summary"}
        )
        plan.action = "skip:the issue still exists (a late or out-of-order event)"
        return "skipped"
    except PermanentError as error:
        if error.status != 404:
            raise
    other = "target" if side == "source" else "source"
    policy = context.config.get("on_issue_deleted", "ignore")
    mirror = context.ends[other].client
    if policy == "delete_mirror":
        mirror.call("delete_issue", path_params={"key": link[other]})
    elif policy == "label_mirror":
        mirror.call(
            "edit_issue",
            path_params={"key": link[other]},
            json={"update": {"labels": [{"add": DELETED_LABEL}]}},
        )
    plan.changed = [f"mirror: {policy}"]
    with runtime.db.tenant_session(tenant_id) as session:
        row = session.get(IssueLink, link["id"])
        if row is not None:
            row.state = "deleted"
    return "ok"


CHILD_FIELDS = {"comments": "comment", "attachments": "attachment"}


def _read(end: End, issue_id: str, fields: list[str]) -> dict[str, Any]:
    """One read of the issue with every field the integration needs (children included,
    so a new mirror only looks for comments and attachments the issue has)."""
    names = [CHILD_FIELDS.get(name, name) for name in fields]
    return end.client.call(
        "get_issue",
        path_params={"key": issue_id},
        params={"fields": ",".join([*names, "project", "labels", "updated"])},
    ).json()


def _children_present(issue: dict[str, Any]) -> set[str]:
    """Which kinds of children the issue has, as far as the read shows."""
    fields = issue.get("fields") or {}
    present = set()
    comments = fields.get("comment")
    if comments is None or (comments.get("comments") or comments.get("total")):
        present.add("comments")
    if fields.get("attachment") is None or fields.get("attachment"):
        present.add("attachments")
    return present


def _mappings(context: Context, towards: str) -> dict[str, Any]:
    mappings = context.config.get("mappings") or {}
    return mappings if towards == "target" else reverse_mappings(mappings)


def _for_other_side(runtime: Runtime, context: Context, name: str, value: Any, towards: str) -> Any:
    """``value`` (from the other side) as the ``towards`` side should hold it."""
    mappings = _mappings(context, towards)
    mapped = map_value(name, value, mappings)
    if name != "assignee" or (value is not None and mapped != value):
        return mapped  # not a person, or explicitly mapped
    origin = "source" if towards == "target" else "target"
    default = (context.config.get("mappings") or {}).get("default_assignee")
    return resolve_assignee(
        runtime,
        value,
        (context.ends[origin].site, context.ends[origin].client),
        (context.ends[towards].site, context.ends[towards].client),
        default if towards == "target" else None,
    )


def _create(
    runtime: Runtime, tenant_id: uuid.UUID, context: Context, issue_id: str, side: str, plan: Plan
) -> str:
    other = "target" if side == "source" else "source"
    origin, mirror_end = context.ends[side], context.ends[other]
    issue = _read(origin, issue_id, context.fields)
    plan.issue_key = issue["key"]
    if issue["fields"]["project"]["key"] != origin.project:
        plan.action = f"skip:the issue is not in the integration's {side} project"
        return "skipped"
    if SYNC_LABEL in (issue["fields"].get("labels") or []):
        plan.action = "skip:the issue is a Tandem mirror"
        return "skipped"
    raw = read_values(issue, context.fields)
    values = {n: _for_other_side(runtime, context, n, v, other) for n, v in raw.items()}
    plan.action = "create"
    plan.children = _children_present(issue)
    fields = edit_payload(values)
    fields.setdefault("issuetype", {"name": "Task"})
    fields.setdefault("summary", issue["fields"].get("summary") or issue["key"])
    fields["project"] = {"key": mirror_end.project}
    fields["labels"] = [SYNC_LABEL]
    # The link property travels in the create call itself (one call, not two).
    marker = link_property(str(context.integration_id), issue["key"], origin.site)
    created = mirror_end.client.call(
        "create_issue",
        json={"fields": fields, "properties": [{"key": LINK_PROPERTY, "value": marker}]},
    ).json()
    plan.changed = sorted(values)
    ours = {n: value_hash(v) for n, v in raw.items()}
    theirs = {n: value_hash(v) for n, v in values.items()}
    hashes: dict[str, Any] = {
        n: {"source": ours[n], "target": theirs[n]}
        if side == "source"
        else {"source": theirs[n], "target": ours[n]}
        for n in raw
        if n != "status"  # recorded once the mirror has reached it
    }
    hashes[SEEN] = _updated_ms(issue)
    ids = {side: (issue["id"], issue["key"]), other: (created["id"], created["key"])}
    # The link is saved at once, so a failure below (and the job's retry) can never
    # create a second mirror; the retry finds the link and finishes the status.
    with runtime.db.tenant_session(tenant_id) as session:
        link = IssueLink(
            tenant_id=tenant_id,
            integration_id=context.integration_id,
            source_issue_id=ids["source"][0],
            source_issue_key=ids["source"][1],
            target_issue_id=ids["target"][0],
            target_issue_key=ids["target"][1],
            field_hashes=hashes,
            last_synced_at=datetime.now(UTC),
        )
        session.add(link)
        session.flush()
        link_id = link.id
    if "status" in raw:
        if values.get("status") is not None:
            cache = TransitionCache(runtime.redis, mirror_end.site, mirror_end.project)
            start = status_of_new_issue(mirror_end.client, created["key"], cache)
            move_to_status(
                mirror_end.client,
                created["key"],
                values["status"],
                start,
                cache,
                _status_category(issue),
            )
        status_hashes = {side: ours["status"], other: theirs["status"]}
        with runtime.db.tenant_session(tenant_id) as session:
            row = session.get(IssueLink, link_id)
            if row is not None:
                row.field_hashes = {
                    **hashes,
                    "status": status_hashes,
                    STATUS_NOW: {side: raw["status"], other: values.get("status")},
                }
    return "ok"


def _update(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    context: Context,
    plan: Plan,
    side: str,
    event: dict[str, Any] | None,
) -> str:
    link = context.link
    assert link is not None
    plan.action = "update"
    plan.issue_key = link["source_key"]
    seen = int(link["hashes"].get(SEEN, 0))
    from_event, compare = _current_event_issue(event, context.fields, seen)
    issues: dict[str, dict[str, Any]] = {}
    for name in SIDES if context.two_way else ("source",):
        if from_event is not None and name == side:
            issues[name] = from_event  # the webhook body is current: no read needed
        else:
            issues[name] = _read(context.ends[name], link[name], context.fields)
    # An event older than either side as read here is late: its body must never stand in
    # (a later run reads, and compares every field, instead).
    read = [_updated_ms(issue) for issue in issues.values() if issue is not from_event]
    newest = max(seen, event["timestamp"] if from_event else 0, *read)
    raw = {name: read_values(issue, context.fields) for name, issue in issues.items()}
    writes: dict[str, dict[str, Any]] = {"source": {}, "target": {}}
    hashes: dict[str, Any] = {
        n: dict(h) for n, h in link["hashes"].items() if not n.startswith("_")
    }
    for name in compare:
        if name not in raw["source"]:
            continue
        stored = hashes.get(name, {})
        changed = {
            side: value_hash(values[name]) != stored.get(side) for side, values in raw.items()
        }
        winner = _winner(changed, issues, name, plan)
        if winner is None:
            continue
        loser = "target" if winner == "source" else "source"
        value = _for_other_side(runtime, context, name, raw[winner][name], loser)
        writes[loser][name] = value
        hashes[name] = {winner: value_hash(raw[winner][name]), loser: value_hash(value)}
    status_now = dict(link["hashes"].get(STATUS_NOW) or {})
    for name, issue in issues.items():
        status_now[name] = (issue["fields"].get("status") or {}).get("name", status_now.get(name))
    for side, values in writes.items():
        if values:
            origin = issues["target" if side == "source" else "source"]
            now = status_now.get(side)
            _write(runtime, context.ends[side], link[side], values, now, _status_category(origin))
            if values.get("status") is not None:
                status_now[side] = values["status"]
    plan.changed = sorted({*writes["source"], *writes["target"]})
    hashes[SEEN] = newest
    if "status" in context.fields:
        hashes[STATUS_NOW] = status_now
    if not plan.changed and newest == seen:
        return "skipped"
    with runtime.db.tenant_session(tenant_id) as session:
        row = session.get(IssueLink, link["id"])
        if row is None:
            raise PermanentError("the link was removed while syncing")
        row.field_hashes = hashes
        if plan.changed:
            row.last_synced_at = datetime.now(UTC)
    return "ok" if plan.changed else "skipped"


def _current_event_issue(
    event: dict[str, Any] | None, fields: list[str], seen: int
) -> tuple[dict[str, Any] | None, list[str]]:
    """The webhook's issue when it can stand in for a read, and the fields to compare.

    Usable when it is not older than what was already synced, and every field that may
    have changed (all configured ones, or only those the coalesced events' changelogs
    name) is one webhooks carry in the same form as a REST v3 read."""
    needed = [name for name in fields if name in VALUE_FIELDS]
    if not event or int(event.get("timestamp") or 0) < seen:
        return None, needed
    changed = event.get("changed")
    if changed and "*" not in changed:
        needed = [name for name in needed if name in changed]
    issue_fields = (event.get("issue") or {}).get("fields") or {}
    if not set(needed) <= EVENT_SAFE_FIELDS or not all(n in issue_fields for n in needed):
        return None, [name for name in fields if name in VALUE_FIELDS]
    return event["issue"], needed


def _updated_ms(issue: dict[str, Any]) -> int:
    """An issue's ``updated`` time in epoch milliseconds (0 if absent or unreadable)."""
    raw = (issue.get("fields") or {}).get("updated")
    try:
        return int(datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    except (TypeError, ValueError):
        return 0


def _winner(
    changed: dict[str, bool], issues: dict[str, dict[str, Any]], name: str, plan: Plan
) -> str | None:
    """Which side's value should win: the one that changed; if both did, the newest."""
    sides = [side for side, did in changed.items() if did]
    if not sides:
        return None
    if len(sides) == 1:
        return sides[0]
    plan.conflicts.append(name)
    source_time = issues["source"]["fields"].get("updated") or ""
    target_time = issues["target"]["fields"].get("updated") or ""
    return "target" if target_time > source_time else "source"


def _status_category(issue: dict[str, Any]) -> str | None:
    """The category (new, indeterminate, done) of the issue's status."""
    status = (issue.get("fields") or {}).get("status") or {}
    return (status.get("statusCategory") or {}).get("key")


def _write(
    runtime: Runtime,
    end: End,
    issue_id: str,
    values: dict[str, Any],
    status_now: str | None,
    category: str | None = None,
) -> None:
    """Edit the fields, then walk the workflow to the status (from where we last saw it;
    a stale picture is corrected inside ``move_to_status``), towards ``category``, the
    category the status has on the side it comes from."""
    payload = edit_payload(values)
    if payload:
        end.client.call("edit_issue", path_params={"key": issue_id}, json={"fields": payload})
    status = values.get("status")
    if status is not None and status != status_now:
        move_to_status(
            end.client,
            issue_id,
            status,
            status_now,
            cache=TransitionCache(runtime.redis, end.site, end.project),
            category=category,
        )

"""Mirror an issue's attachments: stream each new one (up to the integration's size cap)
to the other side; over the cap, leave a comment with a link and record the skip."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from jira.client import JiraClient
from jira.errors import PermanentError
from models.links import AttachmentLink
from runtime import Runtime
from sync.children import maybe_there, tolerating_404

CHUNK = 64 * 1024


@dataclass(frozen=True)
class AttachmentSide:
    """One side's issue for attachment syncing."""

    name: str
    client: JiraClient
    issue_id: str
    issue_key: str
    site: str


def _attachments(side: AttachmentSide) -> dict[str, dict[str, Any]]:
    issue = side.client.call(
        "get_issue", path_params={"key": side.issue_id}, params={"fields": "attachment"}
    ).json()
    return {str(a["id"]): a for a in issue["fields"].get("attachment") or []}


def _download(side: AttachmentSide, attachment: dict[str, Any], cap: int) -> bytes:
    response = side.client.call(
        "get_attachment_content",
        path_params={"id": str(attachment["id"])},
        stream=True,
        allow_redirects=True,
    )
    data = bytearray()
    for chunk in response.iter_content(CHUNK):
        data.extend(chunk)
        if len(data) > cap:
            response.close()
            raise PermanentError(f"attachment {attachment['filename']} grew past the size cap")
    return bytes(data)


def _upload(side: AttachmentSide, attachment: dict[str, Any], content: bytes) -> str:
    uploaded = side.client.call(
        "add_attachment",
        path_params={"key": side.issue_id},
        headers={"X-Atlassian-Token": "no-check"},
        files={
            "file": (
                attachment["filename"],
                content,
                attachment.get("mimeType") or "application/octet-stream",
            )
        },
    ).json()
    return str(uploaded[0]["id"])


def _too_large_note(
    side: AttachmentSide, origin: AttachmentSide, attachment: dict, cap: int
) -> None:
    text = (
        f"Attachment {attachment['filename']} ({attachment.get('size', 0)} bytes) is larger "
        f"than the {cap}-byte limit Tandem mirrors; it stays on "
        f"{origin.site}/browse/{origin.issue_key}"
    )
    side.client.call(
        "add_comment",
        path_params={"key": side.issue_id},
        json={
            "body": {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
            }
        },
    )


def sync_attachments(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    issue_link_id: uuid.UUID,
    sides: dict[str, AttachmentSide],
    two_way: bool,
    cap: int,
) -> list[str]:
    """Bring a linked pair's attachments in line; returns what was done, in words."""
    with runtime.db.tenant_session(tenant_id) as session:
        known = [
            {
                "id": link.id,
                "source": link.source_attachment_id,
                "target": link.target_attachment_id,
                "origin": link.origin,
            }
            for link in session.execute(
                select(AttachmentLink).where(AttachmentLink.issue_link_id == issue_link_id)
            ).scalars()
        ]
    origins = ("source", "target") if two_way else ("source",)
    # One way, the target's list is not needed: copies are deleted by id.
    current = {name: _attachments(sides[name]) for name in origins}
    done: list[str] = []
    new_links: list[dict[str, Any]] = []
    removed: list[uuid.UUID] = []
    copies = {row[other] for row in known for other in ("source", "target")}
    for origin in origins:
        other = "target" if origin == "source" else "source"
        for attachment_id, attachment in current[origin].items():
            if attachment_id in copies:
                continue
            if int(attachment.get("size") or 0) > cap:
                _too_large_note(sides[other], sides[origin], attachment, cap)
                new_links.append(
                    {
                        origin: attachment_id,
                        other: None,
                        "origin": origin,
                        "skipped": f"larger than {cap} bytes",
                    }
                )
                done.append(f"skipped attachment {attachment['filename']} (too large)")
                continue
            copy_id = _upload(sides[other], attachment, _download(sides[origin], attachment, cap))
            new_links.append(
                {origin: attachment_id, other: copy_id, "origin": origin, "skipped": None}
            )
            done.append(f"copied attachment {attachment['filename']}")
    for row in known:
        origin, other = row["origin"], "target" if row["origin"] == "source" else "source"
        if row[origin] in current[origin]:
            continue
        if maybe_there(current, other, row[other]):
            tolerating_404(
                lambda row=row, other=other: sides[other].client.call(
                    "delete_attachment", path_params={"id": row[other]}
                )
            )
            done.append(f"deleted copy of attachment {row[origin]}")
        removed.append(row["id"])
    _store(runtime, tenant_id, issue_link_id, new_links, removed)
    return done


def _store(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    issue_link_id: uuid.UUID,
    new_links: list[dict[str, Any]],
    removed: list[uuid.UUID],
) -> None:
    if not (new_links or removed):
        return
    with runtime.db.tenant_session(tenant_id) as session:
        for row in new_links:
            # A copy the target wrote first keeps its own id as the "source" key when the
            # source side holds no copy (skipped): the key must be present, so use the origin.
            session.add(
                AttachmentLink(
                    tenant_id=tenant_id,
                    issue_link_id=issue_link_id,
                    source_attachment_id=row["source"] or f"skipped:{row['target']}",
                    target_attachment_id=row["target"],
                    origin=row["origin"],
                    skipped_reason=row["skipped"],
                )
            )
        for link_id in removed:
            link = session.get(AttachmentLink, link_id)
            if link is not None:
                session.delete(link)

"""Admin pages, leaving and the workspace's data: export (start, progress, a signed
download link), deletion (the owner asks with the workspace's name, a countdown to the
end of the grace period, any admin cancels), and Disconnect & clean up (a dry-run
preview counted per site and kind, then the confirmed run and its progress). Each is
role-checked and audited, and no page shows or acts on another workspace's."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from config import Settings
from models.deletion_requests import DeletionRequest
from models.integrations import Integration
from models.tenants import Tenant
from sync.markers import SYNC_LABEL
from tests.admin_fixtures import AdminWorld, admin_world, field_errors, installation_end

RUN = re.compile(r"/cleanup\?run=([0-9a-f-]{36})")


@pytest.fixture(scope="module")
def world(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    exports = tmp_path_factory.mktemp("exports")
    with admin_world(settings, "admin-compliance", export_dir=str(exports)) as built:
        yield built


def workspace_name(world: AdminWorld, tenant: uuid.UUID | None = None) -> str:
    with world.runtime.db.tenant_session(tenant or world.tenant_id) as session:
        return session.get(Tenant, tenant or world.tenant_id).name


# Export ------------------------------------------------------------------------------


def test_an_export_is_started_followed_and_downloaded(world: AdminWorld, new_tenant) -> None:
    assert world.get("viewer", "/export/status").get_json() == {"state": "none"}
    assert world.post("member", "/export").status_code == 403
    started = world.post("admin", "/export")
    assert started.status_code == 303, started.text
    job_id = world.audit("export.requested")[-1].subject
    assert job_id and job_id.startswith("export-")
    queued = world.get("viewer", "/export/status").get_json()
    assert queued["job_id"] == job_id and queued["state"] == "queued"
    assert 'data-status="queued"' in world.get("viewer", "/export").text  # polled by the page
    world.settle()
    ready = world.get("viewer", "/export/status").get_json()
    assert ready["state"] == "finished" and ready["download_url"].startswith("/exports/")
    page = world.get("viewer", "/export")
    assert 'id="export-download"' in page.text and ready["download_url"] in page.text
    download = world.app.test_client().get(ready["download_url"])
    assert download.status_code == 200
    exported = json.loads(gzip.decompress(download.data))
    assert str(world.tenant_id) in json.dumps(exported)[:100_000]
    theirs = new_tenant("Elsewhere")
    assert world.get("owner", "/export/status", tenant=theirs).get_json() == {"state": "none"}


# Deletion ----------------------------------------------------------------------------


def test_deletion_needs_the_owner_and_the_workspace_name(world: AdminWorld) -> None:
    name = workspace_name(world)
    assert world.post("admin", "/deletion", {"confirm_name": name}).status_code == 403
    wrong = world.post("owner", "/deletion", {"confirm_name": name + "x"})
    assert wrong.status_code == 400 and "confirm_name" in field_errors(wrong)
    assert world.post("owner", "/deletion", {}).status_code == 400
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.execute(select(DeletionRequest)).first() is None


def test_a_scheduled_deletion_counts_down_and_an_admin_cancels_it(
    world: AdminWorld, new_tenant
) -> None:
    asked = world.post("owner", "/deletion", {"confirm_name": workspace_name(world)})
    assert asked.status_code == 303, asked.text
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        request = session.execute(
            select(DeletionRequest).where(DeletionRequest.status == "scheduled")
        ).scalar_one()
        assert session.get(Tenant, world.tenant_id).status == "deletion_scheduled"
    page = world.get("viewer", "/deletion")
    assert f'data-countdown="{request.delete_after.isoformat()}"' in page.text
    assert "deletion-cancel" not in page.text  # a viewer may not cancel
    assert world.audit("deletion.requested")[-1].subject == str(request.id)
    theirs = new_tenant("Elsewhere")
    their_page = world.get("owner", "/deletion", tenant=theirs)
    assert "data-countdown" not in their_page.text
    assert world.post("owner", "/deletion/cancel", tenant=theirs).status_code == 409
    assert world.post("member", "/deletion/cancel").status_code == 403
    cancelled = world.post("admin", "/deletion/cancel")
    assert cancelled.status_code == 303
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.get(Tenant, world.tenant_id).status == "active"
    assert world.audit("deletion.cancelled")
    assert world.post("admin", "/deletion/cancel").status_code == 409


# Disconnect & clean up ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mirrored(world: AdminWorld) -> uuid.UUID:
    """An integration started from its page, with two issues mirrored by its backfill."""
    keys = [
        world.sandbox.control("POST", "/sites/alpha/issues", {"project": "ALP", "summary": s})[
            "key"
        ]
        for s in ("To clean one", "To clean two")
    ]
    end = installation_end(world)
    created = world.post(
        "admin",
        "/integrations",
        {
            "name": "To clean up",
            "source": end,
            "source_project": "ALP",
            "target": end,
            "target_project": "ALPR",
            "direction": "one_way",
            "fields": ["summary"],
            "on_issue_deleted": "ignore",
            "on_comment_deleted": "ignore",
            "attachment_mb": "1",
            "enable": "yes",
            "intent": "save",
        },
    )
    assert created.status_code == 303, created.text
    world.settle()
    issues = world.sandbox.control("GET", "/sites/alpha/issues")
    assert len([i for i in issues if SYNC_LABEL in i["fields"]["labels"]]) >= len(keys)
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return session.execute(
            select(Integration.id).where(Integration.name == "To clean up")
        ).scalar_one()


def run_of(answer) -> str:
    assert answer.status_code == 303, answer.text
    found = RUN.search(answer.headers["Location"])
    assert found, answer.headers["Location"]
    return found[1]


def test_the_preview_counts_per_site_and_kind_and_changes_nothing(
    world: AdminWorld, mirrored: uuid.UUID
) -> None:
    assert world.post("member", "/cleanup", {"scope": "workspace"}).status_code == 403
    bad = world.post("admin", "/cleanup", {"scope": "everything"})
    assert bad.status_code == 400 and "scope" in field_errors(bad)
    missing = world.post("admin", "/cleanup", {"scope": str(uuid.uuid4())})
    assert missing.status_code == 404 and "scope" in field_errors(missing)
    run_id = run_of(world.post("admin", "/cleanup", {"scope": str(mirrored), "dry_run": "yes"}))
    queued = world.get("viewer", f"/cleanup?run={run_id}")
    assert queued.status_code == 200 and 'data-status="queued"' in queued.text
    world.settle()
    progress = world.get("viewer", f"/cleanup/runs/{run_id}").get_json()
    assert progress["status"] == "finished" and progress["dry_run"]
    assert progress["done"] == progress["total"] >= 2
    site = world.sandbox.site_url("alpha")
    assert progress["planned"][site]["labels"] >= 2  # both mirrors
    page = world.get("admin", f"/cleanup?run={run_id}")
    assert f'<tr data-site="{site}">' in page.text
    assert 'id="cleanup-start"' in page.text  # the real run is offered after the preview
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.get(Integration, mirrored).enabled  # a preview changes nothing


def test_the_real_run_needs_confirming_then_removes_the_marks(
    world: AdminWorld, mirrored: uuid.UUID
) -> None:
    unconfirmed = world.post("admin", "/cleanup", {"scope": str(mirrored), "dry_run": "no"})
    assert unconfirmed.status_code == 400 and "confirm" in field_errors(unconfirmed)
    run_id = run_of(
        world.post("admin", "/cleanup", {"scope": str(mirrored), "dry_run": "no", "confirm": "yes"})
    )
    world.settle()
    progress = world.get("viewer", f"/cleanup/runs/{run_id}").get_json()
    assert progress["status"] == "finished" and not progress["dry_run"]
    site = world.sandbox.site_url("alpha")
    assert progress["removed"][site] == progress["planned"][site]
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert not session.get(Integration, mirrored).enabled
    issues = world.sandbox.control("GET", "/sites/alpha/issues")
    assert not [i["key"] for i in issues if SYNC_LABEL in i["fields"]["labels"]]
    page = world.get("viewer", f"/cleanup?run={run_id}")
    assert "Removed" in page.text and 'data-status="finished"' in page.text
    assert world.audit("cleanup.finished")[-1].actor.startswith("account:")


def test_another_workspace_cannot_see_or_follow_a_run(world: AdminWorld, new_tenant) -> None:
    run_id = run_of(world.post("admin", "/cleanup", {"scope": "workspace", "dry_run": "yes"}))
    theirs = new_tenant("Elsewhere")
    assert world.get("owner", f"/cleanup?run={run_id}", tenant=theirs).status_code == 404
    assert world.get("owner", f"/cleanup/runs/{run_id}", tenant=theirs).status_code == 404
    assert world.get("owner", "/cleanup/runs/not-a-uuid").status_code == 404
    world.settle()


def test_inside_jira_the_pages_need_a_jira_admin(world: AdminWorld, tmp_path: Path) -> None:
    grace = world.humans[1]
    world.grant(grace, "owner")  # the top role in Tandem, but not a Jira administrator
    for path in ("/export", "/deletion", "/cleanup"):
        refused = world.jira("GET", path, grace)
        assert refused.status_code == 403, path
    ada = world.humans[0]
    world.grant(ada, "admin")
    for path in ("/export", "/deletion", "/cleanup"):
        assert world.jira("GET", path, ada).status_code == 200, path
    assert world.jira("POST", "/deletion", ada, {"confirm_name": "x"}).status_code == 403

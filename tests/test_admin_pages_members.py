"""Admin pages, members and roles: the list; invitations by email (mailed); Jira users
given a role by account id; role changes and removals within the granting rules; the
workspace always keeps an owner; a removed account is gone with its sessions; every
change audited; nothing of another workspace is shown or changed; inside Jira, a
workspace without an owner lets a confirmed Jira admin invite its first owner only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from auth.member_changes import LAST_OWNER
from config import Settings
from models.accounts import Account, Membership
from tests.admin_fixtures import AdminWorld, admin_world, field_errors
from tests.support.mail import deliver_queued_mail, mail_to


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[AdminWorld]:
    with admin_world(settings, "admin-members") as built:
        yield built


def membership(world: AdminWorld, tenant: uuid.UUID | None = None, **match: object) -> Membership:
    with world.runtime.db.tenant_session(tenant or world.tenant_id) as session:
        return session.execute(select(Membership).filter_by(**match)).scalar_one()


def account_member(world: AdminWorld, role: str) -> tuple[str, Membership]:
    email, account_id = world.accounts.new_account(world.tenant_id, role=role)
    return email, membership(world, account_id=account_id)


def test_the_list_shows_each_member_with_the_choices_the_caller_may_make(
    world: AdminWorld,
) -> None:
    email, _ = account_member(world, "member")
    page = world.get("viewer", "/members")
    assert page.status_code == 200 and email in page.text
    assert "invite-form" not in page.text  # a viewer is offered no change
    admin_page = world.get("admin", "/members")
    assert "invite-form" in admin_page.text
    assert '<option value="owner">' not in admin_page.text  # admins grant up to admin


def test_an_invitation_is_mailed_and_audited(world: AdminWorld, clean_mail) -> None:
    sent = world.post(
        "admin", "/members/invite", {"email": "new.person@example.com", "role": "member"}
    )
    assert sent.status_code == 303, sent.text
    deliver_queued_mail(world.runtime)
    assert len(mail_to(world.runtime, "new.person@example.com")) == 1
    assert world.audit("account.invited")[-1].details["role"] == "member"
    bad = world.post("admin", "/members/invite", {"email": "nobody", "role": "member"})
    assert bad.status_code == 400 and "invite_email" in field_errors(bad)
    owner = world.post("admin", "/members/invite", {"email": "boss@example.com", "role": "owner"})
    assert owner.status_code == 403 and "invite_role" in field_errors(owner)


def test_roles_change_within_the_granting_rules(world: AdminWorld) -> None:
    _, member = account_member(world, "member")
    promoted = world.post("admin", f"/members/{member.id}/role", {"role": "admin"})
    assert promoted.status_code == 303, promoted.text
    assert membership(world, id=member.id).role == "admin"
    event = world.audit("member.role_changed")[-1]
    assert (event.details["role"], event.details["previous_role"]) == ("admin", "member")
    assert event.subject == f"account:{member.account_id}"
    too_high = world.post("admin", f"/members/{member.id}/role", {"role": "owner"})
    assert too_high.status_code == 403
    bad = world.post("admin", f"/members/{member.id}/role", {"role": "god"})
    assert bad.status_code == 400 and f"role-{member.id}" in field_errors(bad)
    _, owner = account_member(world, "owner")
    demoted = world.post("admin", f"/members/{owner.id}/role", {"role": "viewer"})
    assert demoted.status_code == 403 and membership(world, id=owner.id).role == "owner"


def test_the_last_owner_can_be_neither_demoted_nor_removed(world: AdminWorld, new_tenant) -> None:
    tenant = new_tenant("One owner")
    client, _ = world.dashboard("owner", tenant)
    with world.runtime.db.tenant_session(tenant) as session:
        only = session.execute(select(Membership).where(Membership.role == "owner")).scalar_one()
    demoted = world.post("owner", f"/members/{only.id}/role", {"role": "admin"}, tenant=tenant)
    assert demoted.status_code == 409 and LAST_OWNER in field_errors(demoted)[f"role-{only.id}"]
    removed = world.post("owner", f"/members/{only.id}/remove", tenant=tenant)
    assert removed.status_code == 409
    _, second = world.accounts.new_account(tenant, role="owner")
    assert (
        world.post(
            "owner", f"/members/{only.id}/role", {"role": "admin"}, tenant=tenant
        ).status_code
        == 303
    )
    with world.runtime.db.tenant_session(tenant) as session:
        owners = session.execute(select(Membership).where(Membership.role == "owner")).scalars()
        assert [m.account_id for m in owners] == [second]
    assert client.get("/admin/members").status_code == 200  # still a member, now an admin


def test_removing_an_account_deletes_it_and_ends_its_sessions(world: AdminWorld) -> None:
    email, member = account_member(world, "member")
    client, _ = world.accounts.signed_in(email)
    assert client.get("/admin/members").status_code == 200
    removed = world.post("admin", f"/members/{member.id}/remove")
    assert removed.status_code == 303, removed.text
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.get(Account, member.account_id) is None
    assert client.get("/api/auth/session").status_code == 401
    assert world.accounts.login(email).status_code == 401
    assert world.audit("member.removed")[-1].subject == f"account:{member.account_id}"
    again = world.post("admin", f"/members/{member.id}/remove")
    assert again.status_code == 404


def test_jira_users_get_a_role_by_account_id(world: AdminWorld) -> None:
    user = world.humans[3]
    given = world.post("admin", "/members/jira", {"atlassian_account_id": user, "role": "member"})
    assert given.status_code == 303, given.text
    found = membership(world, atlassian_account_id=user)
    assert found.role == "member"
    bad = world.post(
        "admin", "/members/jira", {"atlassian_account_id": "no spaces!", "role": "member"}
    )
    assert bad.status_code == 400 and "jira_account" in field_errors(bad)
    assert world.post("admin", f"/members/{found.id}/remove").status_code == 303
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.get(Membership, found.id) is None


def test_nothing_of_another_workspace_is_shown_or_changed(world: AdminWorld, new_tenant) -> None:
    email, ours = account_member(world, "member")
    theirs = new_tenant("Elsewhere")
    page = world.get("admin", "/members", tenant=theirs)
    assert email not in page.text
    for path, data in (
        (f"/members/{ours.id}/role", {"role": "viewer"}),
        (f"/members/{ours.id}/remove", {}),
    ):
        assert world.post("owner", path, data, tenant=theirs).status_code == 404
    assert membership(world, id=ours.id).role == "member"


def test_writes_need_the_admin_role(world: AdminWorld) -> None:
    _, member = account_member(world, "viewer")
    for role in ("viewer", "member"):
        assert world.post(role, f"/members/{member.id}/role", {"role": "member"}).status_code == 403
        assert world.post(role, f"/members/{member.id}/remove").status_code == 403
        assert world.post(role, "/members/invite", {"email": "x@example.com"}).status_code == 403


def test_inside_jira_a_workspace_without_owner_lets_a_jira_admin_invite_one(
    settings: Settings, clean_mail
) -> None:
    with admin_world(settings, "admin-bootstrap") as fresh:
        ada = fresh.humans[0]  # a Jira admin with no Tandem role
        page = fresh.jira("GET", "/members", ada)
        assert page.status_code == 200 and 'id="no-owner"' in page.text
        assert "invite-form" in page.text
        admin_only = fresh.jira(
            "POST", "/members/invite", ada, {"email": "a@example.com", "role": "admin"}
        )
        assert admin_only.status_code == 403
        invited = fresh.jira(
            "POST", "/members/invite", ada, {"email": "boss@example.com", "role": "owner"}
        )
        assert invited.status_code == 303, invited.text
        assert fresh.audit("account.invited")[-1].actor == f"jira:{ada}"
        role_change = fresh.jira(
            "POST", "/members/jira", ada, {"atlassian_account_id": ada, "role": "owner"}
        )
        assert role_change.status_code == 403  # the bootstrap covers the invitation only

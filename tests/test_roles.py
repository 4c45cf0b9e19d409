"""Roles per workspace (owner > admin > member > viewer), checked on the server.

Acceptance 2's foundation: every unsafe route is either role-checked (auth/roles.py's
registry) or declared as not a user's route; each role-checked write route refuses (403)
every role below the one it needs, on the dashboard and inside Jira (where admin routes
also confirm Jira administrator rights with the site); no route serves another
workspace's data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from flask import Flask
from werkzeug.routing import Rule

from auth.roles import NOT_ROLE_CHECKED, ROLE_ORDER, UNSAFE_METHODS, RouteRule, rule_for
from config import Settings
from sandbox.testing import running_sandbox
from tests.accounts_fixtures import AccountsWorld, FakeClock, accounts_app, https_client
from tests.support.connect_tokens import secret_token
from tests.support.http_server import serving_later


def _unsafe_rules(app: Flask) -> list[tuple[Rule, str]]:
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) & UNSAFE_METHODS)
    ]


def _checked(app: Flask, surface: str) -> list[tuple[Rule, str, RouteRule]]:
    found = []
    for rule, method in _unsafe_rules(app):
        checked = rule_for(app.view_functions[rule.endpoint])
        if checked is not None and checked.surface == surface:
            found.append((rule, method, checked))
    return found


def _url(app: Flask, rule: Rule) -> str:
    values = {
        name: str(uuid.uuid4())
        if "uuid" in type(rule._converters[name]).__name__.lower()
        else "557058-nobody"
        for name in rule.arguments
    }
    return app.url_map.bind("tandem.test").build(rule.endpoint, values)


def _below(role: str) -> list[str]:
    return list(ROLE_ORDER[: ROLE_ORDER.index(role)])


def test_every_unsafe_route_is_role_checked_or_declared(world: AccountsWorld) -> None:
    unchecked = sorted(
        {
            rule.endpoint
            for rule, _ in _unsafe_rules(world.app)
            if rule_for(world.app.view_functions[rule.endpoint]) is None
            and rule.endpoint not in NOT_ROLE_CHECKED
        }
    )
    assert unchecked == [], (
        f"write routes with neither a role check nor a reason: {unchecked}; decorate each "
        "with auth.roles.requires_role, or declare it in auth.roles.NOT_ROLE_CHECKED"
    )
    unsafe = {rule.endpoint for rule, _ in _unsafe_rules(world.app)}
    for endpoint in NOT_ROLE_CHECKED:  # the declarations stay true
        assert endpoint in unsafe, f"{endpoint} is declared but is no unsafe route"
        assert rule_for(world.app.view_functions[endpoint]) is None, f"{endpoint} is checked"
    assert len(_checked(world.app, "dashboard")) >= 8
    assert len(_checked(world.app, "jira")) >= 2


def test_dashboard_writes_refuse_every_role_below_the_one_they_need(
    world: AccountsWorld, new_tenant
) -> None:
    tenant = new_tenant()
    clients = {
        role: world.signed_in(world.new_account(tenant, role=role)[0]) for role in ROLE_ORDER
    }
    checked = _checked(world.app, "dashboard")
    for rule, method, needs in checked:
        url = _url(world.app, rule)
        for role in _below(needs.role):
            client, csrf = clients[role]
            response = client.open(url, method=method, json={}, headers={"X-CSRF-Token": csrf})
            assert response.status_code == 403, (url, method, role, response.get_json())
            assert f"needs the {needs.role} role" in response.get_json()["message"]
        client, csrf = clients[needs.role]
        if rule.endpoint.endswith("logout"):
            continue  # it would end the session the next rows use
        allowed = client.open(url, method=method, json={}, headers={"X-CSRF-Token": csrf})
        assert "needs the" not in (allowed.get_json() or {}).get("message", ""), (url, role)
    anonymous = https_client(world.app)
    for rule, method, _ in checked:
        assert anonymous.open(_url(world.app, rule), method=method, json={}).status_code == 401


def test_admins_grant_up_to_admin_and_only_owners_make_owners(
    world: AccountsWorld, new_tenant
) -> None:
    tenant = new_tenant()
    admin, admin_csrf = world.signed_in(world.new_account(tenant, role="admin")[0])
    owner, owner_csrf = world.signed_in(world.new_account(tenant, role="owner")[0])
    body = {"email": "new@example.com", "role": "owner"}
    refused = admin.post("/api/invitations", json=body, headers={"X-CSRF-Token": admin_csrf})
    assert refused.status_code == 403
    ok = admin.post(
        "/api/invitations", json={**body, "role": "admin"}, headers={"X-CSRF-Token": admin_csrf}
    )
    assert ok.status_code == 201
    assert (
        owner.post("/api/invitations", json=body, headers={"X-CSRF-Token": owner_csrf}).status_code
        == 201
    )
    put = admin.put(
        "/api/jira-members/557058:abc", json={"role": "owner"}, headers={"X-CSRF-Token": admin_csrf}
    )
    assert put.status_code == 403
    bad = admin.put(
        "/api/jira-members/557058:abc", json={"role": "god"}, headers={"X-CSRF-Token": admin_csrf}
    )
    assert bad.status_code == 400


def test_no_route_serves_another_workspaces_data(world: AccountsWorld, new_tenant) -> None:
    mine, theirs = new_tenant("mine"), new_tenant("theirs")
    my_admin, csrf = world.signed_in(world.new_account(mine, role="admin")[0])
    their_email, their_account = world.new_account(theirs, role="member")
    my_admin.put(
        "/api/jira-members/557058:shared", json={"role": "member"}, headers={"X-CSRF-Token": csrf}
    )
    listed = my_admin.get("/api/members").get_json()["members"]
    assert their_email not in {m["email"] for m in listed}
    assert {m["kind"] for m in listed} == {"account", "jira"} and len(listed) == 2
    unlock = my_admin.post(f"/api/accounts/{their_account}/unlock", headers={"X-CSRF-Token": csrf})
    assert unlock.status_code == 404
    their_client, _ = world.signed_in(their_email)
    assert their_client.get("/api/members").get_json()["members"] == [
        {
            "id": their_client.get("/api/members").get_json()["members"][0]["id"],
            "kind": "account",
            "role": "member",
            "email": their_email,
            "atlassian_account_id": None,
            "locked": False,
        }
    ]
    session = their_client.get("/api/auth/session").get_json()
    assert session["workspace"] == str(theirs)


@dataclass
class JiraWorld:
    app: Flask
    sandbox: object
    app_key: str
    client_key: str
    tenant_id: uuid.UUID
    humans: list[str]

    @property
    def accounts(self) -> AccountsWorld:
        return AccountsWorld(self.app, https_client(self.app), FakeClock())

    def token(self, method: str, url: str, user: str) -> str:
        secret = self.sandbox.shared_secret("alpha", self.app_key)
        path = url.split("?")[0]
        return secret_token(secret, self.client_key, method, path, qsh="context-qsh", sub=user)

    def call(self, method: str, url: str, user: str, body: object = None):
        client = self.app.test_client()
        headers = {"Authorization": f"JWT {self.token(method, url, user)}"}
        return client.open(url, method=method, json=body or {}, headers=headers)

    def admin(self, user: str, grant: bool) -> None:
        self.sandbox.control("PUT" if grant else "DELETE", f"/sites/alpha/admins/{user}")


@pytest.fixture
def jira(settings: Settings) -> Iterator[JiraWorld]:
    app_key = f"io.tandem.roles-{uuid.uuid4().hex[:8]}"  # a new installation and workspace
    with serving_later() as (url, mount), running_sandbox(sites=("alpha",)) as sandbox:
        app = accounts_app(
            settings,
            base_url=url,
            app_key=app_key,
            connect_install_keys_url=f"{sandbox.url}/connect-keys",
        )
        mount(app)
        installed = sandbox.install("alpha", f"{url}/atlassian-connect.json")
        assert installed["installed"], installed
        runtime = app.extensions["tandem"]
        tenant = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
        humans = list(sandbox.state.sites["alpha"].humans)
        yield JiraWorld(app, sandbox, app_key, installed["clientKey"], tenant, humans)
        runtime.close()


def _set_role(jira: JiraWorld, user: str, role: str) -> None:
    from auth.memberships import set_jira_member_role

    service = jira.app.extensions["accounts"]
    set_jira_member_role(service, jira.tenant_id, user, role, "test", "owner")


def test_the_first_owner_is_invited_by_a_confirmed_jira_admin(jira: JiraWorld) -> None:
    ada, grace = jira.humans[0], jira.humans[1]  # Ada administers the seeded sites
    url = "/connect/owner-invitation"
    not_admin = jira.call("POST", url, grace, {"email": "boss@example.com"})
    assert not_admin.status_code == 403 and "Jira administrator" in not_admin.get_json()["message"]
    sent = jira.call("POST", url, ada, {"email": "boss@example.com"})
    assert sent.status_code == 201, sent.get_json()
    _set_role(jira, jira.humans[2], "owner")  # now the workspace has an owner
    again = jira.call("POST", url, ada, {"email": "other@example.com"})
    assert again.status_code == 403 and "needs the owner role" in again.get_json()["message"]
    forged = jira.app.test_client().post(url, json={}, headers={"Authorization": "JWT x.y.z"})
    assert forged.status_code == 401


def test_jira_writes_refuse_every_role_below_and_anyone_not_a_jira_admin(
    jira: JiraWorld,
) -> None:
    ada, grace, margaret, alan, katherine = jira.humans[:5]
    by_role = {"viewer": grace, "member": margaret, "admin": alan, "owner": katherine}
    for role, user in by_role.items():
        jira.admin(user, grant=True)  # every one a Jira admin: only the role decides
        if role != "viewer":
            _set_role(jira, user, role)
    jira.admin(ada, grant=False)
    _set_role(jira, ada, "owner")  # the top role, but no longer a Jira admin
    checked = _checked(jira.app, "jira")
    for rule, method, needs in checked:
        url = _url(jira.app, rule)
        for role in _below(needs.role):
            response = jira.call(method, url, by_role[role])
            assert response.status_code == 403, (url, role, response.get_json())
            assert f"needs the {needs.role} role" in response.get_json()["message"]
        allowed = jira.call(method, url, by_role[needs.role], {"role": "viewer"})
        assert allowed.status_code != 403, (url, needs, allowed.get_json())
        if needs.jira_admin:
            refused = jira.call(method, url, ada)
            assert refused.status_code == 403, url
            assert "Jira administrator" in refused.get_json()["message"]


def test_in_jira_pages_show_only_their_workspace(jira: JiraWorld, new_tenant) -> None:
    other = new_tenant("elsewhere")
    email, _ = jira.accounts.new_account(other, role="owner")
    ada, grace = jira.humans[:2]  # Ada administers the site
    _set_role(jira, grace, "member")
    assert jira.call("GET", "/connect/members", grace).status_code == 403
    _set_role(jira, ada, "admin")
    listed = jira.call("GET", "/connect/members", ada).get_json()["members"]
    assert sorted(m["atlassian_account_id"] for m in listed) == sorted([ada, grace])
    assert email not in str(listed)


def test_a_session_is_bound_to_its_workspace(world: AccountsWorld, new_tenant) -> None:
    first, second = new_tenant(), new_tenant()
    client, csrf = world.signed_in(world.new_account(first, role="owner")[0])
    world.new_account(second, role="owner")
    response = client.put(
        "/api/jira-members/557058:x", json={"role": "admin"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200
    service = world.service
    from auth.memberships import list_members

    assert [m.atlassian_account_id for m in list_members(service, second)] == [None]
    assert "557058:x" in {m.atlassian_account_id for m in list_members(service, first)}


def test_a_role_rule_cannot_name_an_unknown_role() -> None:
    from auth.roles import requires_role

    with pytest.raises(ValueError):
        requires_role("superuser")
    with pytest.raises(ValueError):
        requires_role("admin", surface="mobile")
    assert replace(RouteRule("admin", "jira"), jira_admin=True).jira_admin


def test_an_accounts_role_changes_by_grant_and_the_last_owner_stays(
    world: AccountsWorld, new_tenant
) -> None:
    tenant = new_tenant()
    owner_email, owner_id = world.new_account(tenant, role="owner")
    _, member_id = world.new_account(tenant, role="member")
    admin, admin_csrf = world.signed_in(world.new_account(tenant, role="admin")[0])
    owner, owner_csrf = world.signed_in(owner_email)

    def put(client, csrf, account_id, role):
        return client.put(
            f"/api/accounts/{account_id}/role", json={"role": role}, headers={"X-CSRF-Token": csrf}
        )

    assert put(admin, admin_csrf, member_id, "admin").status_code == 200
    assert put(admin, admin_csrf, member_id, "owner").status_code == 403
    assert put(admin, admin_csrf, owner_id, "member").status_code == 403  # owners are owners'
    last = put(owner, owner_csrf, owner_id, "admin")
    assert last.status_code == 409 and "last owner" in last.get_json()["message"]
    assert put(owner, owner_csrf, member_id, "owner").status_code == 200
    assert put(owner, owner_csrf, owner_id, "admin").status_code == 200  # another owner now
    assert put(admin, admin_csrf, uuid.uuid4(), "member").status_code == 404
    roles = {m["email"]: m["role"] for m in admin.get("/api/members").get_json()["members"]}
    assert roles[owner_email] == "admin"

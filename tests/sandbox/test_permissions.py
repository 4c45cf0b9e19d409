"""`POST /permissions/check`: Jira administrators of a site hold ADMINISTER, everyone
else only USE; the control plane grants and takes administration."""

from __future__ import annotations

from tests.sandbox.conftest import app_call, control

CHECK = "/rest/api/3/permissions/check"


def _held(sandbox, account: str, *wanted: str) -> list[str]:
    body = {"accountId": account, "globalPermissions": list(wanted)}
    response = app_call(sandbox, "POST", CHECK, json=body)
    assert response.status_code == 200, response.text
    return response.json()["globalPermissions"]


def test_only_the_sites_admins_hold_administer(installed) -> None:
    sandbox, _ = installed
    ada, grace = sandbox.state.sites["alpha"].humans[:2]
    assert _held(sandbox, ada, "ADMINISTER", "USE") == ["ADMINISTER", "USE"]
    assert _held(sandbox, grace, "ADMINISTER", "USE") == ["USE"]
    control(sandbox, "PUT", f"/sites/alpha/admins/{grace}")
    assert _held(sandbox, grace, "ADMINISTER") == ["ADMINISTER"]
    control(sandbox, "DELETE", f"/sites/alpha/admins/{ada}")
    assert _held(sandbox, ada, "ADMINISTER") == []


def test_bad_checks_are_refused_like_jira(installed) -> None:
    sandbox, _ = installed
    ada = sandbox.state.sites["alpha"].humans[0]
    unknown_key = app_call(
        sandbox, "POST", CHECK, json={"accountId": ada, "globalPermissions": ["GOD_MODE"]}
    )
    assert unknown_key.status_code == 400 and "GOD_MODE" in unknown_key.text
    nobody = app_call(
        sandbox, "POST", CHECK, json={"accountId": "557058:nobody", "globalPermissions": []}
    )
    assert nobody.status_code == 404
    control(sandbox, "PUT", "/sites/alpha/admins/557058:nobody", expect=404)

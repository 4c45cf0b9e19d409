"""Users: emails visible only when public, search by name or public email, the same person
on two sites (same email, different accountIds) and one account shared by both sites."""

from __future__ import annotations

from urllib.parse import quote

from tests.sandbox.conftest import app_call, control, oauth_call


def _people(sandbox, site: str) -> dict[str, dict]:
    return {u["displayName"]: u for u in control(sandbox, "GET", f"/sites/{site}")["users"]}


def test_seeded_people_across_sites(sandbox):
    alpha, beta = _people(sandbox, "alpha"), _people(sandbox, "beta")
    for name in ("Margaret Hamilton", "Alan Turing"):  # same email, different accounts
        assert alpha[name]["emailAddress"] == beta[name]["emailAddress"]
        assert alpha[name]["accountId"] != beta[name]["accountId"]
    for name in ("Katherine Johnson", "Integration User"):  # one account on both sites
        assert alpha[name]["accountId"] == beta[name]["accountId"]
    assert alpha["Ada Lovelace"]["emailAddress"] == "ada@alpha.example.com"
    assert beta["Ada Lovelace"]["accountId"] != alpha["Ada Lovelace"]["accountId"]


def test_email_shows_only_when_public(installed):
    sandbox, _ = installed
    people = _people(sandbox, "alpha")
    visible = {"Ada Lovelace", "Margaret Hamilton", "Katherine Johnson"}
    for name, person in people.items():
        if person["accountType"] != "atlassian":
            continue
        response = app_call(sandbox, "GET", f"/rest/api/3/user?accountId={person['accountId']}")
        assert response.status_code == 200
        assert ("emailAddress" in response.json()) == (name in visible), name
    missing = app_call(sandbox, "GET", "/rest/api/3/user?accountId=557058:nobody")
    assert missing.status_code == 404


def test_user_search_matches_names_and_public_emails(installed):
    sandbox, _ = installed

    def search(query: str) -> list[str]:
        response = app_call(sandbox, "GET", f"/rest/api/3/user/search?query={quote(query)}")
        assert response.status_code == 200
        return [u["displayName"] for u in response.json()]

    assert search("hamil") == ["Margaret Hamilton"]
    assert search("margaret@example.com") == ["Margaret Hamilton"]
    assert search("alan@example.com") == []  # hidden email: not searchable
    assert search("alan") == ["Alan Turing"]
    assert "Tandem (test)" not in search("tandem")  # app users are not people
    assert app_call(sandbox, "GET", "/rest/api/3/user/search").status_code == 400


def test_cross_site_mapping_by_visible_email(connected):
    sandbox, tokens = connected
    alpha = _people(sandbox, "alpha")
    mapped, unmapped = {}, []
    for name in ("Margaret Hamilton", "Alan Turing", "Katherine Johnson"):
        found = oauth_call(
            sandbox,
            "GET",
            f"/rest/api/3/user?accountId={quote(alpha[name]['accountId'])}",
            tokens["access_token"],
        )
        if found.status_code == 200:  # the same account exists on beta
            mapped[name] = found.json()["accountId"]
            continue
        email = alpha[name]["emailAddress"]
        hits = oauth_call(
            sandbox, "GET", f"/rest/api/3/user/search?query={quote(email)}", tokens["access_token"]
        ).json()
        if hits and hits[0].get("emailAddress") == email:
            mapped[name] = hits[0]["accountId"]
        else:
            unmapped.append(name)
    beta = _people(sandbox, "beta")
    assert mapped == {
        "Margaret Hamilton": beta["Margaret Hamilton"]["accountId"],
        "Katherine Johnson": alpha["Katherine Johnson"]["accountId"],
    }
    assert unmapped == ["Alan Turing"]
    bulk = oauth_call(
        sandbox,
        "GET",
        "/rest/api/3/user/bulk?accountId=" + quote(beta["Alan Turing"]["accountId"]),
        tokens["access_token"],
    ).json()
    assert [u["displayName"] for u in bulk["values"]] == ["Alan Turing"]

"""The admin pages' routes as the role matrix (tests/test_roles.py) sees them: every
admin route exists on both surfaces, each registration is a rule of its own in the role
registry (writes need at least admin; in Jira, admin pages also confirm Jira admin
rights), only the in-Jira ones may be framed, and every page the descriptor names is one
of them."""

from __future__ import annotations

from flask import Flask

from auth.roles import UNSAFE_METHODS, rank, rule_for
from handlers.admin_pages import PREFIXES
from handlers.connect import descriptor_for
from handlers.security_headers import is_iframe_endpoint
from tests.accounts_fixtures import AccountsWorld

GENERAL_PAGES = {"/activity"}  # members read them in Jira without Jira admin rights


def _admin_rules(app: Flask, surface: str) -> dict[tuple[str, str], object]:
    prefix = PREFIXES[surface]
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix + "/"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                found[(rule.rule.removeprefix(prefix), method)] = rule
    return found


def test_every_admin_route_is_on_both_surfaces_with_a_rule_of_its_own(
    world: AccountsWorld,
) -> None:
    app = world.app
    dashboard, jira = _admin_rules(app, "dashboard"), _admin_rules(app, "jira")
    assert set(dashboard) == set(jira) and len(dashboard) >= 25
    writes = 0
    for key, rule in dashboard.items():
        path, method = key
        ours = rule_for(app.view_functions[rule.endpoint])
        theirs = rule_for(app.view_functions[jira[key].endpoint])
        assert ours is not None and theirs is not None, key
        assert (ours.surface, theirs.surface) == ("dashboard", "jira")
        assert theirs.jira_admin == (path not in GENERAL_PAGES), key
        if method in UNSAFE_METHODS:
            writes += 1
            assert rank(ours.role) >= rank("admin") and ours.role == theirs.role, key
        assert is_iframe_endpoint(app, jira[key].endpoint), key
        assert not is_iframe_endpoint(app, rule.endpoint), key
    assert writes >= 12


def test_the_descriptor_pages_are_in_jira_admin_pages(world: AccountsWorld) -> None:
    modules = descriptor_for("https://tandem.example", "io.tandem.jira-sync")["modules"]
    jira = _admin_rules(world.app, "jira")
    pages = [*modules["adminPages"], *modules["generalPages"]]
    assert pages
    for page in pages:
        path = page["url"].removeprefix(PREFIXES["jira"])
        assert (path, "GET") in jira, page
    general = {p["url"].removeprefix(PREFIXES["jira"]) for p in modules["generalPages"]}
    assert general == GENERAL_PAGES

"""What JQL can see of an issue (`IssueFacts`) and the clause builders per field: values
are checked against the site (unknown projects, keys, statuses, users fail like Jira's),
and each builder returns a predicate over the facts and the current time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.jqllex import JqlError
from sandbox.state import Issue, Site
from sandbox.times import utcnow

Predicate = Callable[["IssueFacts", datetime], bool]
EQUALITY = frozenset({"=", "!=", "in", "not in"})
EMPTINESS = frozenset({"is", "is not"})
ORDERING = frozenset({"=", "!=", "<", "<=", ">", ">="})
PERIOD = re.compile(r"^([-+]?)((?:\d+[wdhm]\s*)+)$")
PERIOD_PART = re.compile(r"(\d+)([wdhm])")
UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


@dataclass(frozen=True)
class IssueFacts:
    """What JQL can see of an issue, captured at one moment (webhooks match on these)."""

    id: str
    key: str
    project_id: str
    project_key: str
    number: int
    labels: tuple[str, ...]
    status_id: str
    issuetype_id: str
    assignee: str | None
    reporter: str | None
    created: datetime
    updated: datetime


def facts(site: Site, issue: Issue) -> IssueFacts:
    """The issue as JQL sees it now."""
    return IssueFacts(
        id=issue.id,
        key=issue.key,
        project_id=issue.project_id,
        project_key=site.projects[issue.project_id].key,
        number=int(issue.key.rsplit("-", 1)[1]),
        labels=tuple(issue.labels),
        status_id=issue.status_id,
        issuetype_id=issue.issue_type_id,
        assignee=issue.assignee_id,
        reporter=issue.reporter_id,
        created=issue.created,
        updated=issue.updated,
    )


def _set_clause(
    getter: Callable[[IssueFacts], tuple[str, ...]], operator: str, wanted: set[str]
) -> Predicate:
    """Jira's semantics for multi-value (and empty-able) fields."""
    if operator in {"=", "in"}:
        return lambda item, now: bool(set(getter(item)) & wanted)
    if operator in {"!=", "not in"}:
        return lambda item, now: bool(getter(item)) and not set(getter(item)) & wanted
    if operator == "is":
        return lambda item, now: not getter(item)
    return lambda item, now: bool(getter(item))


def _missing(field: str, value: str) -> JqlError:
    return JqlError(f"The value '{value}' does not exist for the field '{field}'.")


def _project(site: Site, field: str, operator: str, values: list[str]) -> Predicate:
    wanted = set()
    for value in values:
        found = site.project(value) or next(
            (p for p in site.projects.values() if p.name.lower() == value.lower()), None
        )
        if found is None:
            raise _missing(field, value)
        wanted.add(found.id)
    return _set_clause(lambda i: (i.project_id,), operator, wanted)


def _key(site: Site, field: str, operator: str, values: list[str]) -> Predicate:
    wanted = set()
    for value in values:
        if value.isdigit():
            issue_id = value
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*-\d+", value):
            issue_id = site.keys.get(value.upper(), "")
        else:
            raise JqlError(f"The issue key '{value}' for field '{field}' is invalid.")
        if issue_id not in site.issues:
            raise JqlError(f"An issue with key '{value}' does not exist for field '{field}'.")
        wanted.add(issue_id)
    return _set_clause(lambda i: (i.id,), operator, wanted)


def _labels(site: Site, field: str, operator: str, values: list[str]) -> Predicate:
    return _set_clause(lambda i: i.labels, operator, set(values))


def _named(options: Callable[[Site], list[Any]], attribute: str) -> Callable[..., Predicate]:
    def build(site: Site, field: str, operator: str, values: list[str]) -> Predicate:
        wanted = set()
        for value in values:
            match = [o for o in options(site) if value.lower() in {o.id, o.name.lower()}]
            if not match:
                raise _missing(field, value)
            wanted.add(match[0].id)
        return _set_clause(lambda i: (getattr(i, attribute),), operator, wanted)

    return build


def _person(site: Site, field: str, operator: str, values: list[str]) -> Predicate:
    for value in values:
        if value not in site.users:
            raise _missing(field, value)

    def getter(item: IssueFacts) -> tuple[str, ...]:
        account = getattr(item, field)
        return (account,) if account else ()

    return _set_clause(getter, operator, set(values))


def _date(site: Site, field: str, operator: str, values: list[str]) -> Predicate:
    moment = _moment(field, values[0])
    compare: dict[str, Callable[[datetime, datetime], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    check = compare[operator]
    return lambda item, now: check(getattr(item, field), moment(now))


def _moment(field: str, value: str) -> Callable[[datetime], datetime]:
    """When a date value points: fixed for absolute dates, relative to `now` for periods."""
    period = PERIOD.match(value.strip())
    if period:
        sign = -1 if period.group(1) == "-" else 1
        delta = timedelta(
            **{UNITS[unit]: int(n) for n, unit in PERIOD_PART.findall(period.group(2))}
        )
        return lambda now: now + sign * delta
    for pattern in DATE_FORMATS:
        try:
            fixed = datetime.strptime(value.strip(), pattern).replace(tzinfo=utcnow().tzinfo)
        except ValueError:
            continue
        return lambda now: fixed
    raise JqlError(
        f"Date value '{value}' for field '{field}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
        "or a period format e.g. '-5d', '4w 2d'."
    )


FIELDS: dict[str, tuple[Callable[..., Predicate], frozenset[str]]] = {
    "project": (_project, EQUALITY),
    "key": (_key, EQUALITY),
    "issuekey": (_key, EQUALITY),
    "id": (_key, EQUALITY),
    "labels": (_labels, EQUALITY | EMPTINESS),
    "status": (_named(lambda s: s.statuses, "status_id"), EQUALITY),
    "issuetype": (_named(lambda s: s.issue_types, "issuetype_id"), EQUALITY),
    "type": (_named(lambda s: s.issue_types, "issuetype_id"), EQUALITY),
    "assignee": (_person, EQUALITY | EMPTINESS),
    "reporter": (_person, EQUALITY | EMPTINESS),
    "updated": (_date, ORDERING),
    "created": (_date, ORDERING),
}

"""A JQL subset, good enough for sync: parse a query against a site (so unknown projects,
keys, statuses and fields fail like Jira's), then match and sort issues.

Clauses: `project`, `key`/`issuekey`, `labels`, `status`, `issuetype`/`type`, `assignee`,
`reporter` with `=`, `!=`, `IN`, `NOT IN` (and `IS [NOT] EMPTY` where a field can be empty);
`updated`/`created` with `=`, `!=`, `<`, `<=`, `>`, `>=` against `"yyyy-MM-dd[ HH:mm]"`
(or `/`) or relative periods (`-5m`, `-2h`, `"-1w 2d"`); `AND`, `OR`, `NOT`, parentheses;
`ORDER BY updated|created|key|id|project [ASC|DESC], ...`. Times are UTC (every sandbox
user's time zone). As in Jira, `!=` and `NOT IN` never match issues where the field is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.jqlfields import EMPTINESS, FIELDS, IssueFacts, Predicate, facts
from sandbox.jqllex import OPERATORS, JqlError, Token, tokenize
from sandbox.state import Site
from sandbox.times import utcnow

__all__ = ["IssueFacts", "JqlError", "Query", "facts", "parse"]
SORTABLE = {"updated", "created", "key", "issuekey", "id", "project"}
PREFIX = "Error in the JQL Query: "
UNSUPPORTED = {"summary", "description", "text", "comment", "priority", "sprint", "resolution"}


@dataclass(frozen=True)
class Query:
    """A parsed query: `where` (None when the query has no restriction) and the sort."""

    text: str
    where: Predicate | None
    order: tuple[tuple[str, bool], ...]  # (field, descending)

    @property
    def bounded(self) -> bool:
        return self.where is not None

    def matches(self, item: IssueFacts, now: datetime | None = None) -> bool:
        return self.where is None or self.where(item, now or utcnow())

    def sort(self, items: list[IssueFacts]) -> list[IssueFacts]:
        """Sorted by the ORDER BY (default `key DESC`), ties by id."""
        ordered = sorted(items, key=lambda i: int(i.id))
        for name, descending in reversed(self.order or (("key", True),)):
            ordered.sort(key=_sort_key(name), reverse=descending)
        return ordered


def _sort_key(name: str) -> Callable[[IssueFacts], Any]:
    if name in {"key", "issuekey"}:
        return lambda i: (i.project_key, i.number)
    if name == "id":
        return lambda i: int(i.id)
    if name == "project":
        return lambda i: i.project_key
    return lambda i: getattr(i, name)


class Parser:
    """Recursive descent over the tokens; validates values against the site."""

    def __init__(self, text: str, site: Site) -> None:
        self.text = text
        self.site = site
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.lower in words

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise JqlError(f"{PREFIX}Unexpected end of the query.")
        self.pos += 1
        return token

    def parse(self) -> Query:
        where = None
        if self.peek() is not None and not self._at_order_by():
            where = self.expression()
        order = self.order_by() if self._at_order_by() else ()
        extra = self.peek()
        if extra is not None:
            raise extra.error("Expecting either 'OR' or 'AND' but got '{}'.")
        return Query(self.text, where, order)

    def _at_order_by(self) -> bool:
        following = self.peek(1)
        return self.keyword("order") and following is not None and following.lower == "by"

    def expression(self) -> Predicate:
        parts = [self.term()]
        while self.keyword("or"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else _any(parts)

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.keyword("and"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else _all(parts)

    def factor(self) -> Predicate:
        token = self.peek()
        if token is None:
            raise JqlError(f"{PREFIX}Expecting a field name before the end of the query.")
        if self.keyword("not"):
            self.take()
            inner = self.factor()
            return lambda item, now: not inner(item, now)
        if token.kind == "(":
            self.take()
            inner = self.expression()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise JqlError(f"{PREFIX}Expecting ')' before the end of the query.")
            self.take()
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        field_token = self.take()
        if field_token.kind not in {"word", "string"}:
            raise field_token.error("Expecting a field name but got '{}'.")
        name = field_token.lower
        if name in UNSUPPORTED:
            raise JqlError(f"The sandbox's JQL does not support the field '{field_token.text}'.")
        if name not in FIELDS:
            raise _no_field(field_token.text)
        operator = self.operator()
        build, allowed = FIELDS[name]
        if operator not in allowed:
            raise JqlError(
                f"The operator '{operator.upper()}' is not supported by the "
                f"'{field_token.text}' field."
            )
        if operator in EMPTINESS:
            empty = self.take()
            if empty.lower not in {"empty", "null"}:
                raise empty.error("Expecting 'EMPTY' or 'NULL' but got '{}'.")
            return build(self.site, name, operator, [])
        return build(self.site, name, operator, self.values(operator))

    def operator(self) -> str:
        token = self.peek()
        if token is None:
            raise JqlError(f"{PREFIX}Expecting operator before the end of the query. {OPERATORS}")
        if token.kind == "op":
            self.take()
            return token.text
        if self.keyword("in"):
            self.take()
            return "in"
        if self.keyword("is"):
            self.take()
            if self.keyword("not"):
                self.take()
                return "is not"
            return "is"
        if self.keyword("not") and (self.peek(1) or token).lower == "in":
            self.take()
            self.take()
            return "not in"
        raise token.error("Expecting operator but got '{}'. " + OPERATORS)

    def values(self, operator: str) -> list[str]:
        if operator not in {"in", "not in"}:
            return [self.value()]
        opening = self.take()
        if opening.kind != "(":
            raise opening.error("Expecting '(' but got '{}'.")
        found = [self.value()]
        while (token := self.peek()) is not None and token.kind == ",":
            self.take()
            found.append(self.value())
        closing = self.take()
        if closing.kind != ")":
            raise closing.error("Expecting ')' but got '{}'.")
        return found

    def value(self) -> str:
        token = self.peek()
        if token is None:
            raise JqlError(
                f"{PREFIX}Expecting either a value, list or function before the end of the query."
            )
        if token.kind not in {"word", "string"}:
            raise token.error("Expecting either a value, list or function but got '{}'.")
        self.take()
        following = self.peek()
        if token.kind == "word" and following is not None and following.kind == "(":
            raise JqlError(f"The sandbox does not support the JQL function '{token.text}'.")
        return token.text

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        self.take()
        self.take()
        order = []
        while True:
            token = self.take()
            name = token.lower
            if name not in FIELDS and name not in SORTABLE:
                raise _no_field(token.text)
            if name not in SORTABLE:
                raise JqlError(f"Field '{token.text}' does not support sorting.")
            descending = False
            if self.keyword("asc", "desc"):
                descending = self.take().lower == "desc"
            order.append(("key" if name == "issuekey" else name, descending))
            if (token := self.peek()) is None or token.kind != ",":
                return tuple(order)
            self.take()


def _no_field(name: str) -> JqlError:
    return JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def _any(parts: list[Predicate]) -> Predicate:
    return lambda item, now: any(part(item, now) for part in parts)


def _all(parts: list[Predicate]) -> Predicate:
    return lambda item, now: all(part(item, now) for part in parts)


def parse(text: str, site: Site) -> Query:
    """The query, or JqlError with Jira's message."""
    return Parser(text or "", site).parse()

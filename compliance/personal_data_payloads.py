"""Removing accounts' personal data from a stored Jira JSON document (a webhook payload).

Erasing (a closed account): each of its user objects becomes ``{"accountId": "erased",
"displayName": "Former user"}``, a changelog item naming it loses the names
(``fromString``/``toString``) and its id, and any other string holding the id has it
replaced by ``erased``. Dropping a stale copy (an account whose profile changed): its
user objects keep only ``accountId`` and ``accountType`` and changelog items lose the
names, so the old name, email, avatar and time zone are gone while the id stays.
"""

from __future__ import annotations

from typing import Any

ERASED = "erased"
FORMER_USER = "Former user"
_ID_KEYS = (("from", "fromString"), ("to", "toString"))
_TMP_KEYS = ("tmpFromAccountId", "tmpToAccountId")


def mentions(document: Any, account_ids: set[str]) -> bool:
    """Whether any string in the document holds one of the account ids."""
    if isinstance(document, dict):
        return any(mentions(v, account_ids) for v in document.values())
    if isinstance(document, list):
        return any(mentions(v, account_ids) for v in document)
    return isinstance(document, str) and any(a in document for a in account_ids)


def _user_object(node: dict[str, Any], erase: bool) -> dict[str, Any]:
    if erase:
        return {"accountId": ERASED, "displayName": FORMER_USER}
    kept = {"accountId": node["accountId"]}
    if "accountType" in node:
        kept["accountType"] = node["accountType"]
    return kept


def _item(node: dict[str, Any], account_ids: set[str], erase: bool) -> dict[str, Any]:
    """A changelog item: names of the accounts' values go, ids go too when erasing."""
    item = dict(node)
    for id_key, name_key in _ID_KEYS:
        if item.get(id_key) in account_ids:
            item[name_key] = None
            if erase:
                item[id_key] = ERASED
    for key in _TMP_KEYS:
        if erase and item.get(key) in account_ids:
            item[key] = ERASED
    return item


def redact(document: Any, account_ids: set[str], erase: bool) -> Any:
    """The document without the accounts' personal data (see the module docstring)."""
    if isinstance(document, list):
        return [redact(value, account_ids, erase) for value in document]
    if isinstance(document, str):
        if not erase:
            return document
        for account in account_ids:
            document = document.replace(account, ERASED)
        return document
    if not isinstance(document, dict):
        return document
    if document.get("accountId") in account_ids:
        return _user_object(document, erase)
    node = document
    if any(node.get(k) in account_ids for k, _ in _ID_KEYS) or any(
        node.get(k) in account_ids for k in _TMP_KEYS
    ):
        node = _item(node, account_ids, erase)
    return {key: redact(value, account_ids, erase) for key, value in node.items()}

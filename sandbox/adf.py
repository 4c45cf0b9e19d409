"""Atlassian Document Format: validation, plain text <-> ADF, and ADF -> wiki markup
(REST v3 carries ADF; webhooks carry the v2 representation, a wiki-markup string)."""

from __future__ import annotations

from typing import Any

ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
BLOCK_SEPARATOR = "\n\n"


class InvalidADF(ValueError):
    """The value is not an ADF document."""


def validate(doc: Any) -> dict[str, Any]:
    """Return `doc` if it is a structurally valid ADF document, else raise InvalidADF."""
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise InvalidADF(ADF_REQUIRED)
    if doc.get("version") != 1 or not isinstance(doc.get("content"), list):
        raise InvalidADF("INVALID_INPUT")
    for node in doc["content"]:
        _validate_node(node)
    return doc


def _validate_node(node: Any) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise InvalidADF("INVALID_INPUT")
    if node["type"] == "text" and not isinstance(node.get("text"), str):
        raise InvalidADF("INVALID_INPUT")
    content = node.get("content", [])
    if not isinstance(content, list):
        raise InvalidADF("INVALID_INPUT")
    for child in content:
        _validate_node(child)


def from_text(text: str) -> dict[str, Any]:
    """Plain text as ADF: blank lines split paragraphs, single newlines become hardBreaks."""
    paragraphs = [part for part in text.replace("\r\n", "\n").split(BLOCK_SEPARATOR)]
    content = []
    for paragraph in paragraphs:
        nodes: list[dict[str, Any]] = []
        for index, line in enumerate(paragraph.split("\n")):
            if index:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def to_text(doc: dict[str, Any] | None) -> str:
    """The document's plain text (marks dropped)."""
    if not doc:
        return ""
    return BLOCK_SEPARATOR.join(_plain(node) for node in doc.get("content", [])).strip("\n")


def _plain(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in {"mention", "emoji"}:
        return str(node.get("attrs", {}).get("text", ""))
    children = [_plain(child) for child in node.get("content", [])]
    separator = "\n" if kind in {"bulletList", "orderedList", "listItem"} else ""
    return separator.join(children)


def to_wiki(doc: dict[str, Any] | None) -> str | None:
    """The document rendered as Jira wiki markup, as webhooks (REST v2) carry it."""
    if not doc:
        return None
    return BLOCK_SEPARATOR.join(_block(node) for node in doc.get("content", []))


def _block(node: dict[str, Any], depth: int = 0, bullet: str = "*") -> str:
    kind = node.get("type")
    children = node.get("content", [])
    if kind == "heading":
        return f"h{node.get('attrs', {}).get('level', 1)}. " + _inline(children)
    if kind in {"bulletList", "orderedList"}:
        mark = "*" if kind == "bulletList" else "#"
        return "\n".join(_block(item, depth + 1, mark) for item in children)
    if kind == "listItem":
        lines = []
        for child in children:
            if child.get("type") in {"bulletList", "orderedList"}:
                lines.append(_block(child, depth))
            else:
                lines.append(f"{bullet * depth} {_inline(child.get('content', []))}")
        return "\n".join(lines)
    if kind == "codeBlock":
        language = node.get("attrs", {}).get("language")
        opener = f"{{code:{language}}}" if language else "{code}"
        return f"{opener}{''.join(c.get('text', '') for c in children)}{{code}}"
    if kind == "blockquote":
        return "{quote}" + BLOCK_SEPARATOR.join(_block(c) for c in children) + "{quote}"
    if kind == "rule":
        return "----"
    return _inline(children)


_MARKS = {"strong": "*", "em": "_", "strike": "-", "underline": "+"}


def _inline(nodes: list[dict[str, Any]]) -> str:
    out = []
    for node in nodes:
        kind = node.get("type")
        attrs = node.get("attrs", {})
        if kind == "text":
            out.append(_marked(str(node.get("text", "")), node.get("marks", [])))
        elif kind == "hardBreak":
            out.append("\n")
        elif kind == "mention":
            out.append(f"[~accountid:{attrs.get('id', '')}]")
        elif kind == "emoji":
            out.append(str(attrs.get("shortName", "")))
        elif kind == "inlineCard":
            out.append(f"[{attrs.get('url', '')}|{attrs.get('url', '')}|smart-link]")
        else:
            out.append(_inline(node.get("content", [])))
    return "".join(out)


def _marked(text: str, marks: list[dict[str, Any]]) -> str:
    for mark in marks:
        kind = mark.get("type")
        if kind in _MARKS:
            text = f"{_MARKS[kind]}{text}{_MARKS[kind]}"
        elif kind == "code":
            text = f"{{{{{text}}}}}"
        elif kind == "link":
            text = f"[{text}|{mark.get('attrs', {}).get('href', '')}]"
    return text

"""ADF helpers: plain text in, wiki markup out (as webhooks carry descriptions)."""

from __future__ import annotations

import pytest

from sandbox import adf
from tests.sandbox.test_rest import RICH_DESCRIPTION


def test_text_round_trip():
    text = "first line\nsecond line\n\nnext paragraph"
    doc = adf.from_text(text)
    assert adf.validate(doc) is doc
    assert adf.to_text(doc) == text
    assert adf.to_wiki(doc) == text


def test_wiki_rendering():
    assert adf.to_wiki(RICH_DESCRIPTION) == (
        "h2. Steps\n\nPress *print*\n[docs|https://example.com]"
        "\n\n* one\n\n{code:python}x = 1{code}"
    )
    assert adf.to_wiki(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "plain string",
        {"type": "doc", "version": 2, "content": []},
        {"type": "doc", "version": 1, "content": [{"text": "no type"}]},
        {"type": "doc", "version": 1, "content": [{"type": "text", "text": 3}]},
    ],
)
def test_invalid_documents(value):
    with pytest.raises(adf.InvalidADF):
        adf.validate(value)

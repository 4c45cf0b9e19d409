"""JQL tokens: words, quoted strings, operators, parentheses and commas, with positions
for Jira's `(line 1, character N)` error messages."""

from __future__ import annotations

from dataclasses import dataclass

OPERATORS = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', "
    "'NOT IN', 'IS' and 'IS NOT'."
)
SYMBOLS = ("!=", ">=", "<=", "!~", "=", ">", "<", "~")
WORD_STOP = set(" \t\r\n()=,!<>~\"'")


class JqlError(ValueError):
    """The query is not valid (or not supported); the message is Jira's."""


@dataclass(frozen=True)
class Token:
    """One token; `kind` is `word`, `string`, `op`, `(`, `)` or `,`."""

    kind: str
    text: str
    position: int

    @property
    def lower(self) -> str:
        return self.text.lower() if self.kind == "word" else self.text

    def error(self, template: str) -> JqlError:
        """`template` with this token's text in `{}`, and where it is."""
        message = template.replace("{}", self.text, 1)
        return JqlError(f"Error in the JQL Query: {message} (line 1, character {self.position})")


def _string(text: str, start: int) -> tuple[str, int]:
    quote, index, chars = text[start], start + 1, []
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == quote:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise JqlError(
        f"Error in the JQL Query: The quoted string '{''.join(chars)}' has not been completed. "
        f"(line 1, character {start + 1})"
    )


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`; JqlError for unterminated strings and stray characters."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "(),":
            tokens.append(Token(char, char, index + 1))
            index += 1
        elif char in "\"'":
            value, end = _string(text, index)
            tokens.append(Token("string", value, index + 1))
            index = end
        elif symbol := next((s for s in SYMBOLS if text.startswith(s, index)), None):
            tokens.append(Token("op", symbol, index + 1))
            index += len(symbol)
        else:
            end = index
            while end < len(text) and text[end] not in WORD_STOP:
                end += 1
            if end == index:
                raise JqlError(
                    f"Error in the JQL Query: The character '{char}' is a reserved JQL character. "
                    f"(line 1, character {index + 1})"
                )
            tokens.append(Token("word", text[index:end], index + 1))
            index = end
    return tokens

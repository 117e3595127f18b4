"""ISO/IEC 7064 MOD 37-2: the check character ISBT 128 prints boxed next to a DIN.

See ../shared/STANDARDS.md section 1. A pure system: one check character from a set of 37
(0-9, A-Z and `*`), computed over data drawn from 0-9 and A-Z. It catches every single
substitution and every adjacent transposition, which is why a keyed DIN is checked with it.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
"""Check characters in value order: `0`-`9` = 0-9, `A`-`Z` = 10-35, `*` = 36."""

_MODULUS = 37
_VALUE_OF: dict[str, int] = {c: v for v, c in enumerate(CHARSET)}


def _describe(char: str) -> str:
    """A character as an error message should show it (quoted, control characters escaped)."""
    return repr(char)


def mod37_2_value(data: str) -> int:
    """The checksum value (0-36) of `data`; its check character is `CHARSET[value]`.

    ISBT 128 uses the value itself for the Type 3 DIN flag (60 + value), so it is exposed.
    """
    if not isinstance(data, str):
        raise ValueError(f"data must be text, got {type(data).__name__}")
    if not data:
        raise ValueError("data is empty: there is nothing to compute a check character over")
    total = 0
    for position, char in enumerate(data, start=1):
        value = _VALUE_OF.get(char)
        if value is None or value == 36:
            raise ValueError(
                f"character {_describe(char)} at position {position} is not allowed "
                "(data uses 0-9 and A-Z only)"
            )
        total = ((total + value) * 2) % _MODULUS
    return (_MODULUS + 1 - total) % _MODULUS


def mod37_2(data: str) -> str:
    """The check character of `data` (one of CHARSET, `*` included)."""
    return CHARSET[mod37_2_value(data)]


def is_valid_mod37_2(text: str) -> bool:
    """Whether `text` is data followed by its correct check character.

    A wrong check character gives False; a character outside the sets (lower case included)
    raises ValueError naming it and its position in `text`, because that is a typing or
    scanning fault to report, not a checksum mismatch.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be text, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: expected data followed by a check character")
    check = text[-1]
    if check not in _VALUE_OF:
        raise ValueError(
            f"character {_describe(check)} at position {len(text)} is not allowed "
            "(a check character is 0-9, A-Z or *)"
        )
    if len(text) < 2:
        raise ValueError("data is empty: expected data followed by a check character")
    return mod37_2(text[:-1]) == check

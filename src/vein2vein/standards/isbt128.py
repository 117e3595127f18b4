"""ISBT 128 (ICCBBA ST-001) pieces the platform needs; see ../shared/STANDARDS.md section 1."""

from __future__ import annotations

import string

_LETTERS_NO_O = "".join(c for c in string.ascii_uppercase if c != "O")
_FIN_FIRST = set(_LETTERS_NO_O + "123456789")
_FIN_MIDDLE = set(_LETTERS_NO_O + string.digits)


def fin_problem(fin: str) -> str | None:
    """Why `fin` is not a valid Facility Identification Number, or None when it is.

    A FIN is five characters: the first is A-N, P-Z or 1-9; the next two are A-N, P-Z or
    0-9; the last two are digits.
    """
    if len(fin) != 5:
        return "must be 5 characters (e.g. A9999)"
    if fin[0] not in _FIN_FIRST:
        return "first character must be A-N, P-Z or 1-9 (never O or 0)"
    if fin[1] not in _FIN_MIDDLE or fin[2] not in _FIN_MIDDLE:
        return "characters 2-3 must be A-N, P-Z or 0-9"
    if not (fin[3].isdigit() and fin[4].isdigit() and fin[3:].isascii()):
        return "characters 4-5 must be digits"
    return None

"""EU Single European Code (ICCBBA ST-012; Directive (EU) 2015/565); STANDARDS.md section 2.

Forty characters: the donation identification sequence (21: country 2, tissue establishment
code 6, unique donation number 13) then the product identification sequence (19: coding
system 1, product code 7, split number 3, expiry date YYYYMMDD or 00000000). Printed as
`SEC: PL001499Z549917123456 A00T041600320171231`; encoded in ISBT 128 as DS 038.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Self

from vein2vein.standards.isbt128 import fin_problem, product_description_code_problem

EU_EEA_COUNTRIES: dict[str, str] = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "HR": "Croatia",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DK": "Denmark",
    "EE": "Estonia",
    "FI": "Finland",
    "FR": "France",
    "DE": "Germany",
    "GR": "Greece",
    "HU": "Hungary",
    "IE": "Ireland",
    "IT": "Italy",
    "LV": "Latvia",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "MT": "Malta",
    "NL": "Netherlands",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SK": "Slovakia",
    "SI": "Slovenia",
    "ES": "Spain",
    "SE": "Sweden",
    # EEA members outside the EU, which apply the tissues and cells directives too.
    "IS": "Iceland",
    "LI": "Liechtenstein",
    "NO": "Norway",
}
"""ISO 3166-1 alpha-2 codes of EU and EEA member states. Greece is GR here (ISO 3166), not
the EL that EU institutions use, because the SEC takes the ISO code."""

CODING_SYSTEMS: dict[str, str] = {"A": "ISBT 128", "B": "Eurocode", "E": "EUTC"}

NO_EXPIRY = "00000000"

_UPPER_ALNUM = frozenset(string.ascii_uppercase + string.digits)
_DIGITS = frozenset(string.digits)


def _text(part: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{part} must be text, got {type(value).__name__}")
    return value


def _all_in(value: str, allowed: frozenset[str]) -> bool:
    return all(c in allowed for c in value)


def _din_problem(number: str) -> str | None:
    """Why a 13-character donation number is not shaped like an ISBT 128 DIN, or None."""
    problem = fin_problem(number[:5])
    if problem is not None:
        return f"FIN {number[:5]!r} {problem}"
    if not _all_in(number[5:], _DIGITS):
        return "nominal year and sequence (characters 6-13) must be digits"
    return None


def _split_problem(split: str, coding_system: str) -> str | None:
    if len(split) != 3:
        return "must be 3 characters"
    if coding_system != "A":
        ok = _all_in(split, frozenset(string.ascii_letters + string.digits))
        return None if ok else "must be letters or digits"
    if _all_in(split, _DIGITS):
        return None
    upper, lower = string.ascii_uppercase, string.ascii_lowercase
    if split[0] == "0" and split[1] in upper and split[2] in lower:
        return None
    return "must be 000, 0 + the division (e.g. 0Ac) or a 3-digit division number"


@dataclass(frozen=True)
class SingleEuropeanCode:
    """One Single European Code; the constructor validates every part.

    `te_code` may be given without its leading zeros; it is stored zero-padded to 6. For
    coding system A (ISBT 128) the donation number must be a DIN and the product code is
    00 + the ISBT 128 product description code; the split number is 000 (undivided),
    0 + the division for cellular therapy (0Ac), or the 3-digit division of tissues (003).
    """

    country: str
    te_code: str
    donation_number: str
    coding_system: str
    product_code: str
    split_number: str
    expiry: dt.date | None

    def __post_init__(self) -> None:
        country = _text("country", self.country)
        if country not in EU_EEA_COUNTRIES:
            raise ValueError(
                f"country {country!r} is not an EU/EEA member state (ISO 3166-1 alpha-2)"
            )
        te_code = _text("tissue establishment code", self.te_code)
        if not 1 <= len(te_code) <= 6 or not _all_in(te_code, _UPPER_ALNUM):
            raise ValueError(
                f"tissue establishment code {te_code!r} must be 1-6 characters 0-9 or A-Z"
            )
        object.__setattr__(self, "te_code", te_code.rjust(6, "0"))

        coding_system = _text("coding system", self.coding_system)
        if coding_system not in CODING_SYSTEMS:
            raise ValueError(
                f"coding system {coding_system!r} must be A (ISBT 128), B (Eurocode) or E (EUTC)"
            )
        number = _text("donation number", self.donation_number)
        if len(number) != 13 or not _all_in(number, _UPPER_ALNUM):
            raise ValueError(f"donation number {number!r} must be 13 characters 0-9 or A-Z")
        if coding_system == "A" and (problem := _din_problem(number)) is not None:
            raise ValueError(
                f"donation number {number!r} must be an ISBT 128 DIN for coding system A: {problem}"
            )

        product = _text("product code", self.product_code)
        if len(product) != 7 or not _all_in(product, _UPPER_ALNUM):
            raise ValueError(f"product code {product!r} must be 7 characters 0-9 or A-Z")
        if coding_system == "A":
            problem = product_description_code_problem(product[2:])
            if not product.startswith("00") or problem is not None:
                raise ValueError(
                    f"product code {product!r} must be 00 + an ISBT 128 product description "
                    f"code for coding system A{': ' + problem if problem else ''}"
                )

        split = _text("split number", self.split_number)
        if (problem := _split_problem(split, coding_system)) is not None:
            raise ValueError(f"split number {split!r} {problem}")

        if self.expiry is not None and (
            isinstance(self.expiry, dt.datetime) or not isinstance(self.expiry, dt.date)
        ):
            raise ValueError(
                f"expiry must be a datetime.date or None, got {type(self.expiry).__name__}"
            )

    @property
    def donation_identification_sequence(self) -> str:
        return self.country + self.te_code + self.donation_number

    @property
    def product_identification_sequence(self) -> str:
        day = self.expiry
        expiry = NO_EXPIRY if day is None else f"{day.year:04d}{day.month:02d}{day.day:02d}"
        return self.coding_system + self.product_code + self.split_number + expiry

    @property
    def text(self) -> str:
        """The 40 characters, as encoded in DS 038."""
        return self.donation_identification_sequence + self.product_identification_sequence

    @property
    def eye_readable(self) -> str:
        return (
            f"SEC: {self.donation_identification_sequence} {self.product_identification_sequence}"
        )

    @classmethod
    def from_code(cls, code: str) -> Self:
        """A SEC from exactly its 40 characters (what DS 038 carries)."""
        code = _text("SEC", code)
        if len(code) != 40:
            raise ValueError(f"SEC: expected 40 characters, got {len(code)}")
        expiry_text = code[32:40]
        try:
            expiry = _parse_expiry(expiry_text)
            return cls(
                country=code[0:2],
                te_code=code[2:8],
                donation_number=code[8:21],
                coding_system=code[21],
                product_code=code[22:29],
                split_number=code[29:32],
                expiry=expiry,
            )
        except ValueError as error:
            raise ValueError(f"SEC: {error}") from error

    @classmethod
    def parse(cls, text: str) -> Self:
        """A SEC from its 40 characters or its eye-readable form.

        The eye-readable form has the prefix `SEC:` (or `SEC` and a space) and the two
        sequences separated by a space or a line break. A bare 40-character code may itself
        start with SEC (a Swedish code, TE code C...), so the prefix needs the colon or space.
        """
        body = _text("SEC", text).strip()
        if not body:
            raise ValueError("SEC: empty text")
        if body.startswith("SEC:"):
            body = body[4:].strip()
        elif body.startswith("SEC") and body[3:4].isspace():
            body = body[3:].strip()
        parts = body.split()
        if not parts:
            raise ValueError("SEC: expected 40 characters, got 0")
        if len(parts) == 1:
            return cls.from_code(parts[0])
        if len(parts) == 2:
            donation, product = parts
            if len(donation) != 21:
                raise ValueError(
                    "SEC donation identification sequence: expected 21 characters, "
                    f"got {len(donation)}"
                )
            if len(product) != 19:
                raise ValueError(
                    "SEC product identification sequence: expected 19 characters, "
                    f"got {len(product)}"
                )
            return cls.from_code(donation + product)
        raise ValueError(
            "SEC: expected 40 characters, or the two sequences separated by a space or a "
            f"line break; got {len(parts)} parts"
        )


def _parse_expiry(text: str) -> dt.date | None:
    if text == NO_EXPIRY:
        return None
    if len(text) != 8 or not _all_in(text, _DIGITS):
        raise ValueError(f"expiry {text!r} must be 8 digits YYYYMMDD (00000000 for none)")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as error:
        raise ValueError(f"expiry {text!r} is not a valid date (YYYYMMDD)") from error


def parse(text: str) -> SingleEuropeanCode:
    """A SEC from its 40 characters or its eye-readable form; see SingleEuropeanCode.parse."""
    return SingleEuropeanCode.parse(text)

"""ISBT 128 (ICCBBA ST-001) pieces the platform needs; see ../shared/STANDARDS.md section 1.

Every data structure is a frozen dataclass whose constructor validates, whose `barcode_text`
is exactly what a scanner types (data identifier + content), and whose `parse` reads that
text back. The module-level `parse` reads any scan, compound messages included. Bad input
always raises ValueError naming the part that is wrong, because a scan at a cleanroom bench
must be refused with a reason the operator can act on, never with a crash.
"""

from __future__ import annotations

import calendar
import datetime as dt
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

from vein2vein.standards.iso7064 import CHARSET, mod37_2, mod37_2_value

if TYPE_CHECKING:
    from vein2vein.standards.sec import SingleEuropeanCode

_LETTERS_NO_O = "".join(c for c in string.ascii_uppercase if c != "O")
_FIN_FIRST = set(_LETTERS_NO_O + "123456789")
_FIN_MIDDLE = set(_LETTERS_NO_O + string.digits)
_UPPER_ALNUM = frozenset(string.ascii_uppercase + string.digits)
_DIGITS = frozenset(string.digits)


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


# --- small checks shared by the structures -------------------------------------------------


def _text(part: str, value: object) -> str:
    """`value` when it is a str; a ValueError naming `part` otherwise (never a TypeError)."""
    if not isinstance(value, str):
        raise ValueError(f"{part} must be text, got {type(value).__name__}")
    return value


def _is_digits(value: str, count: int) -> bool:
    """ASCII digits only: str.isdigit() would let superscripts and other scripts through."""
    return len(value) == count and all(c in _DIGITS for c in value)


def _is_upper_alnum(value: str, count: int) -> bool:
    return len(value) == count and all(c in _UPPER_ALNUM for c in value)


def _check_fin(value: object, part: str = "FIN") -> str:
    fin = _text(part, value)
    problem = fin_problem(fin)
    if problem is not None:
        raise ValueError(f"{part} {fin!r}: {problem}")
    return fin


def _check_din_parts(fin: object, year: object, sequence: object) -> None:
    """FIN + year + sequence: the 13 characters a DIN and a chain of identity share."""
    _check_fin(fin)
    year_text = _text("year", year)
    if not _is_digits(year_text, 2):
        raise ValueError(f"year {year_text!r} must be 2 digits (the nominal year, e.g. 21)")
    sequence_text = _text("sequence", sequence)
    if not _is_digits(sequence_text, 6):
        raise ValueError(f"sequence {sequence_text!r} must be 6 digits")


def _int_in_range(part: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{part} {value!r} must be a whole number {low}-{high}")
    return value


class CheckCharacterError(ValueError):
    """The identifier is well formed but its check character (or Type 3 flag) is wrong: a
    mistyped or misread identifier, as opposed to text that is not one at all."""


def _verify_check_character(check: str, data: str, shown: str, what: str) -> None:
    """Refuse a keyed check character without revealing the right one (it would be copied)."""
    if check not in CHARSET:
        raise ValueError(f"check character {check!r} is not one of 0-9, A-Z or *")
    if mod37_2(data) != check:
        raise CheckCharacterError(f"check character {check} is wrong for {what} {shown}")


def _compact(text: object, what: str) -> str:
    """Hand-keyed text without its spaces (people type DINs in the printed groups)."""
    compact = "".join(_text(what, text).split())
    if not compact:
        raise ValueError(f"{what} is empty")
    return compact


def _clean_scan(text: object) -> str:
    """A scan without the surrounding whitespace a keyboard-wedge scanner adds (Enter)."""
    scan = _text("scan", text).strip()
    if not scan:
        raise ValueError("empty scan")
    return scan


# --- the data structure base ---------------------------------------------------------------


class Structure:
    """One ISBT 128 data structure: a data identifier followed by its content."""

    DATA_IDENTIFIER: ClassVar[str]
    NAME: ClassVar[str]
    LENGTH: ClassVar[int | None]
    """Characters of content after the data identifier; None when the content says."""

    @property
    def content(self) -> str:
        """The characters after the data identifier."""
        raise NotImplementedError

    @property
    def barcode_text(self) -> str:
        """Exactly what a scanner types for this structure."""
        return self.DATA_IDENTIFIER + self.content

    @classmethod
    def parse(cls, text: str) -> Self:
        """This structure from its barcode text (surrounding whitespace ignored)."""
        scan = _clean_scan(text)
        if not scan.startswith(cls.DATA_IDENTIFIER):
            got = scan[: len(cls.DATA_IDENTIFIER)]
            raise ValueError(
                f"{cls.NAME}: expected data identifier {cls.DATA_IDENTIFIER!r}, got {got!r}"
            )
        return cls._from_checked_content(scan[len(cls.DATA_IDENTIFIER) :])

    @classmethod
    def _content_length(cls, rest: str) -> int:
        """How many characters of `rest` belong to this structure inside a compound message."""
        if cls.LENGTH is None:  # pragma: no cover - variable-length classes override this
            raise ValueError(f"{cls.NAME} has no fixed length")
        return cls.LENGTH

    @classmethod
    def _from_checked_content(cls, content: str) -> Self:
        if cls.LENGTH is not None and len(content) != cls.LENGTH:
            raise ValueError(
                f"{cls.NAME}: expected {cls.LENGTH} characters after "
                f"{cls.DATA_IDENTIFIER!r}, got {len(content)}"
            )
        try:
            return cls._from_content(content)
        except ValueError as error:
            if str(error).startswith(cls.NAME):
                raise
            kind = CheckCharacterError if isinstance(error, CheckCharacterError) else ValueError
            raise kind(f"{cls.NAME}: {error}") from error

    @classmethod
    def _from_content(cls, content: str) -> Self:
        raise NotImplementedError


# --- DS 001 Donation Identification Number ------------------------------------------------

_FLAG_MEANINGS: dict[int, str] = {
    0: "flags not used",
    5: "repeat demand-printed label",
    6: "pilot tube label",
    7: "test tube label",
    8: "donor record label",
    9: "sample tube for NAT testing",
    10: "sample for bacterial testing",
    11: "match-with-unit label",
    12: "affixed partial label",
    13: "attached label",
    14: "reserved",
}


@dataclass(frozen=True)
class Din(Structure):
    """Donation Identification Number, DS 001 (`=` + FIN 5, year 2, sequence 6, flags 2).

    The DIN proper is the 13 characters fin + year + sequence; flags are not part of it.
    Flags 60-96 are the Type 3 flag (60 + MOD 37-2 value) and must match this DIN, so a
    mis-scanned DIN carrying one is caught.
    """

    DATA_IDENTIFIER = "="
    NAME = "DIN"
    LENGTH = 15

    fin: str
    year: str
    sequence: str
    flags: str = "00"

    def __post_init__(self) -> None:
        _check_din_parts(self.fin, self.year, self.sequence)
        flags = _text("flags", self.flags)
        if len(flags) != 2:
            raise ValueError(f"flags {flags!r} must be 2 characters")
        if not _is_digits(flags, 2):
            raise ValueError(f"flags {flags!r} are reserved (letters are not assigned)")
        number = int(flags)
        if 60 <= number <= 96 and flags != self.type3_flag:
            raise CheckCharacterError(
                f"flags: bad check character: Type 3 flag {flags} does not match "
                f"DIN {self.din} (expected {self.type3_flag})"
            )
        if number >= 97:
            raise ValueError(f"flags {flags} are reserved (97-99)")

    @property
    def din(self) -> str:
        """The 13 characters that identify the donation for 100 years."""
        return self.fin + self.year + self.sequence

    @property
    def check_value(self) -> int:
        return mod37_2_value(self.din)

    @property
    def check_character(self) -> str:
        """The boxed character printed after the eye-readable DIN."""
        return CHARSET[self.check_value]

    @property
    def type3_flag(self) -> str:
        return str(60 + self.check_value)

    @property
    def eye_readable(self) -> str:
        """The DIN as printed: `A9999 21 123456` (flags and check character printed apart)."""
        return f"{self.fin} {self.year} {self.sequence}"

    @property
    def flag_meaning(self) -> str:
        number = int(self.flags)
        if 1 <= number <= 4:
            return f"container {number} of a set"
        if 15 <= number <= 19:
            return f"container {number - 10} of a set"
        if 20 <= number <= 59:
            return "local meaning"
        if number >= 60:
            return "Type 3 check flag"
        return _FLAG_MEANINGS[number]

    @property
    def content(self) -> str:
        return self.din + self.flags

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content[:5], content[5:7], content[7:13], content[13:15])


def make_din(fin: str, year: int, sequence: int, flags: str = "00") -> Din:
    """A DIN from numbers, e.g. make_din("A9999", 21, 123456)."""
    year = _int_in_range("year", year, 0, 99)
    sequence = _int_in_range("sequence", sequence, 0, 999_999)
    return Din(fin, f"{year:02d}", f"{sequence:06d}", flags)


def parse_keyed_din(text: str) -> Din:
    """A DIN keyed by hand from the eye-readable label, with its check character.

    Accepts "A9999 21 123456 3", "A9999211234563" and flags between DIN and check character
    ("A9999 21 123456 01 3"). A wrong check character is refused without naming the right
    one, so that it cannot simply be copied from the error.
    """
    compact = _compact(text, "keyed DIN")
    if len(compact) == 14:
        flags = "00"
    elif len(compact) == 16:
        flags = compact[13:15]
    else:
        raise ValueError(
            "keyed DIN: expected the 13-character DIN and its check character (flags "
            f"optional between them), got {len(compact)} characters"
        )
    din = Din(compact[:5], compact[5:7], compact[7:13], flags)
    _verify_check_character(compact[-1], din.din, din.eye_readable, "DIN")
    return din


# --- DS 003 Product Code -------------------------------------------------------------------

PRODUCT_FAMILIES: dict[str, str] = {
    "S": "cellular therapy",
    "E": "blood",
    "F": "blood",
    "T": "tissue",
    "V": "ocular",
    "R": "reproductive",
    "M": "milk",
    "Y": "clinical trials",
    "A": "national or local",
    "B": "national or local",
    "C": "national or local",
    "D": "national or local",
}

CELLULAR_THERAPY_COLLECTION_TYPES: dict[str, str] = {
    "1": "autologous use only",
    "A": "autologous, eligible for crossover",
    "X": "autologous, biohazard",
    "8": "autologous containing allogeneic material",
    "7": "allogeneic",
    "V": "volunteer allogeneic",
    "0": "not specified",
}

_THREE_DIGIT_DIVISION_FAMILIES = frozenset("TV")


def product_description_code_problem(code: str) -> str | None:
    """Why `code` is not a product description code (family letter + 4 digits), or None."""
    if len(code) != 5:
        return "must be 5 characters (e.g. S1234)"
    if code[0] not in PRODUCT_FAMILIES:
        return f"first character must be a product family ({', '.join(PRODUCT_FAMILIES)})"
    if not _is_digits(code[1:], 4):
        return "characters 2-5 must be digits"
    return None


def _division_is_valid(division: str) -> bool:
    return division in ("00", "99") or (
        len(division) == 2
        and division[0] in string.ascii_uppercase
        and division[1] in string.ascii_lowercase
    )


@dataclass(frozen=True)
class ProductCode(Structure):
    """Product Code, DS 003 (`=<` + description code 5, then `t` and `ds`).

    For cellular therapy (S) `t` is the collection type and `ds` the division: 00
    undivided, an upper then a lower case letter, or 99 (see Product Divisions, DS 032).
    Tissue (T) and ocular (V) codes use `tds` together as a three-digit division number, as
    in the STANDARDS.md example `T0416003` (whose SEC split number is 003); that reading is
    not in STANDARDS.md itself. Other families are checked as loosely as S without its
    collection-type table. The product description code table itself is licensed (ST-010).
    """

    DATA_IDENTIFIER = "=<"
    NAME = "product code"
    LENGTH = 8

    description_code: str
    collection_type: str
    division: str

    def __post_init__(self) -> None:
        code = _text("description code", self.description_code)
        problem = product_description_code_problem(code)
        if problem is not None:
            raise ValueError(f"description code {code!r}: {problem}")
        kind = _text("collection type", self.collection_type)
        division = _text("division", self.division)
        if len(kind) != 1:
            raise ValueError(f"collection type {kind!r} must be 1 character")
        if code[0] in _THREE_DIGIT_DIVISION_FAMILIES:
            if not _is_digits(kind + division, 3):
                raise ValueError(
                    f"division {kind + division!r}: {PRODUCT_FAMILIES[code[0]]} codes end "
                    "in a 3-digit division number"
                )
            return
        if code[0] == "S":
            if kind not in CELLULAR_THERAPY_COLLECTION_TYPES:
                raise ValueError(
                    f"collection type {kind!r} is not a cellular therapy collection type "
                    f"({', '.join(CELLULAR_THERAPY_COLLECTION_TYPES)})"
                )
        elif kind not in _UPPER_ALNUM:
            raise ValueError(f"collection type {kind!r} must be 0-9 or A-Z")
        if not _division_is_valid(division):
            raise ValueError(
                f"division {division!r} must be 00 (undivided), an upper then a lower case "
                "letter (e.g. Aa) or 99 (see product divisions)"
            )

    @property
    def family(self) -> str:
        return PRODUCT_FAMILIES[self.description_code[0]]

    @property
    def collection_type_meaning(self) -> str | None:
        """What the collection type means for a cellular therapy code; None for others."""
        if self.description_code[0] != "S":
            return None
        return CELLULAR_THERAPY_COLLECTION_TYPES[self.collection_type]

    @property
    def content(self) -> str:
        return self.description_code + self.collection_type + self.division

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content[:5], content[5], content[6:8])


# --- DS 004-009 dates ----------------------------------------------------------------------


def _encode_cyyjjj(day: dt.date) -> str:
    if not 2000 <= day.year <= 2999:
        raise ValueError(f"year {day.year} cannot be encoded (the century digit covers 2000-2999)")
    century, year = divmod(day.year - 2000, 100)
    return f"{century}{year:02d}{day.timetuple().tm_yday:03d}"


def _decode_cyyjjj(text: str) -> dt.date:
    if not _is_digits(text, 6):
        raise ValueError(f"expected 6 digits cyyjjj, got {text!r}")
    year = 2000 + int(text[0]) * 100 + int(text[1:3])
    day = int(text[3:6])
    if not 1 <= day <= 366:
        raise ValueError(f"day {text[3:6]} is not a day of the year (001-366)")
    if day == 366 and not calendar.isleap(year):
        raise ValueError(f"day 366 of {year} does not exist")
    return dt.date(year, 1, 1) + dt.timedelta(days=day - 1)


def _decode_hhmm(text: str) -> dt.time:
    if not _is_digits(text, 4):
        raise ValueError(f"expected 4 digits hhmm, got {text!r}")
    if int(text[:2]) > 23:
        raise ValueError(f"hour {text[:2]} is not 00-23")
    if int(text[2:]) > 59:
        raise ValueError(f"minute {text[2:]} is not 00-59")
    return dt.time(int(text[:2]), int(text[2:]))


@dataclass(frozen=True)
class _DateStructure(Structure):
    """A date as `cyyjjj`: century digit (0 = 2000s), year in century, day of the year."""

    LENGTH = 6

    value: dt.date

    def __post_init__(self) -> None:
        if isinstance(self.value, dt.datetime) or not isinstance(self.value, dt.date):
            raise ValueError(
                f"{self.NAME} must be a datetime.date, got {type(self.value).__name__}"
            )
        try:
            _encode_cyyjjj(self.value)
        except ValueError as error:
            raise ValueError(f"{self.NAME}: {error}") from error

    @property
    def content(self) -> str:
        return _encode_cyyjjj(self.value)

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(_decode_cyyjjj(content))


@dataclass(frozen=True)
class _DateTimeStructure(Structure):
    """A naive local date and time as `cyyjjjhhmm` (24-hour clock, minute resolution)."""

    LENGTH = 10

    value: dt.datetime

    def __post_init__(self) -> None:
        if not isinstance(self.value, dt.datetime):
            raise ValueError(
                f"{self.NAME} must be a datetime.datetime, got {type(self.value).__name__}"
            )
        if self.value.tzinfo is not None:
            raise ValueError(f"{self.NAME} must be naive: the label carries local time")
        if self.value.second or self.value.microsecond:
            raise ValueError(f"{self.NAME}: seconds must be 0 (the code holds hours, minutes)")
        try:
            _encode_cyyjjj(self.value.date())
        except ValueError as error:
            raise ValueError(f"{self.NAME}: {error}") from error

    @property
    def content(self) -> str:
        return _encode_cyyjjj(self.value.date()) + f"{self.value:%H%M}"

    @classmethod
    def _from_content(cls, content: str) -> Self:
        day = _decode_cyyjjj(content[:6])
        return cls(dt.datetime.combine(day, _decode_hhmm(content[6:])))


@dataclass(frozen=True)
class ExpirationDate(_DateStructure):
    """DS 004 (`=>cyyjjj`)."""

    DATA_IDENTIFIER = "=>"
    NAME = "expiration date"


@dataclass(frozen=True)
class ExpirationDateTime(_DateTimeStructure):
    """DS 005 (`&>cyyjjjhhmm`)."""

    DATA_IDENTIFIER = "&>"
    NAME = "expiration date and time"

    @classmethod
    def end_of_day(cls, day: dt.date) -> Self:
        """Expiry at 23:59, the time ST-001 implies when only a date is known."""
        return cls(dt.datetime.combine(day, dt.time(23, 59)))


@dataclass(frozen=True)
class CollectionDate(_DateStructure):
    """DS 006 (`=*cyyjjj`)."""

    DATA_IDENTIFIER = "=*"
    NAME = "collection date"


@dataclass(frozen=True)
class CollectionDateTime(_DateTimeStructure):
    """DS 007 (`&*cyyjjjhhmm`)."""

    DATA_IDENTIFIER = "&*"
    NAME = "collection date and time"


@dataclass(frozen=True)
class ProductionDate(_DateStructure):
    """DS 008 (`=}cyyjjj`)."""

    DATA_IDENTIFIER = "=}"
    NAME = "production date"


@dataclass(frozen=True)
class ProductionDateTime(_DateTimeStructure):
    """DS 009 (`&}cyyjjjhhmm`)."""

    DATA_IDENTIFIER = "&}"
    NAME = "production date and time"


# --- DS 024 / 025 patient ------------------------------------------------------------------


def _check_location_code(value: object) -> str:
    code = _text("location code", value)
    if not _is_upper_alnum(code, 2):
        raise ValueError(f"location code {code!r} must be 2 characters 0-9 or A-Z (00 = none)")
    return code


@dataclass(frozen=True)
class PatientDateOfBirth(Structure):
    """DS 024 (`=#aayyyymmdd`); location code 00 means none."""

    DATA_IDENTIFIER = "=#"
    NAME = "patient date of birth"
    LENGTH = 10

    location_code: str
    date: dt.date

    def __post_init__(self) -> None:
        _check_location_code(self.location_code)
        if isinstance(self.date, dt.datetime) or not isinstance(self.date, dt.date):
            raise ValueError(f"date must be a datetime.date, got {type(self.date).__name__}")

    @property
    def content(self) -> str:
        day = self.date
        return f"{self.location_code}{day.year:04d}{day.month:02d}{day.day:02d}"

    @classmethod
    def _from_content(cls, content: str) -> Self:
        digits = content[2:]
        if not _is_digits(digits, 8):
            raise ValueError(f"date {digits!r} must be 8 digits yyyymmdd")
        try:
            day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError as error:
            raise ValueError(f"date {digits!r} is not a valid date") from error
        return cls(content[:2], day)


_PRINTABLE_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F))


@dataclass(frozen=True)
class PatientIdentificationNumber(Structure):
    """DS 025 (`&#aall` + ll characters): the one variable-length structure here."""

    DATA_IDENTIFIER = "&#"
    NAME = "patient identification number"
    LENGTH = None

    location_code: str
    value: str

    def __post_init__(self) -> None:
        _check_location_code(self.location_code)
        value = _text("value", self.value)
        if not 1 <= len(value) <= 99:
            raise ValueError(f"value must be 1-99 characters, got {len(value)}")
        bad = next((c for c in value if c not in _PRINTABLE_ASCII), None)
        if bad is not None:
            raise ValueError(f"value: character {bad!r} is not printable ASCII")
        if value != value.strip():
            raise ValueError("value must not start or end with a space")

    @property
    def content(self) -> str:
        return f"{self.location_code}{len(self.value):02d}{self.value}"

    @classmethod
    def _content_length(cls, rest: str) -> int:
        length_field = rest[2:4]
        if not _is_digits(length_field, 2):
            raise ValueError(f"{cls.NAME}: length field {length_field!r} must be 2 digits")
        return 4 + int(length_field)

    @classmethod
    def _from_content(cls, content: str) -> Self:
        if len(content) < 4:
            raise ValueError(f"expected at least 4 characters aall, got {len(content)}")
        declared = cls._content_length(content) - 4
        if len(content) - 4 != declared:
            raise ValueError(f"length field says {declared} characters, got {len(content) - 4}")
        return cls(content[:2], content[4:])


# --- DS 032 / 033 / 034 product information -----------------------------------------------


@dataclass(frozen=True)
class ProductDivisions(Structure):
    """DS 032 (`=,dddddd`): the divisions a DS 003 division of 99 points to."""

    DATA_IDENTIFIER = "=,"
    NAME = "product divisions"
    LENGTH = 6

    value: str

    def __post_init__(self) -> None:
        value = _text("value", self.value)
        if not _is_digits(value, 6):
            raise ValueError(f"value {value!r} must be 6 digits")

    @property
    def content(self) -> str:
        return self.value

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content)


@dataclass(frozen=True)
class ProcessingFacilityInformationCode(Structure):
    """DS 033 (`&+` FIN of the processor + 6-character facility product code)."""

    DATA_IDENTIFIER = "&+"
    NAME = "processing facility information code"
    LENGTH = 11

    fin: str
    facility_product_code: str = "000000"

    def __post_init__(self) -> None:
        _check_fin(self.fin)
        code = _text("facility product code", self.facility_product_code)
        if not _is_upper_alnum(code, 6):
            raise ValueError(f"facility product code {code!r} must be 6 characters 0-9 or A-Z")

    @property
    def content(self) -> str:
        return self.fin + self.facility_product_code

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content[:5], content[5:])


@dataclass(frozen=True)
class ProcessorProductIdentificationCode(Structure):
    """DS 034 (`=/` FIN of the processor + product code 6 + product description code 5)."""

    DATA_IDENTIFIER = "=/"
    NAME = "processor product identification code"
    LENGTH = 16

    fin: str
    product_code: str
    pdc: str

    def __post_init__(self) -> None:
        _check_fin(self.fin)
        code = _text("product code", self.product_code)
        if not _is_upper_alnum(code, 6):
            raise ValueError(f"product code {code!r} must be 6 characters 0-9 or A-Z")
        pdc = _text("product description code", self.pdc)
        problem = product_description_code_problem(pdc)
        if problem is not None:
            raise ValueError(f"product description code {pdc!r}: {problem}")

    @property
    def content(self) -> str:
        return self.fin + self.product_code + self.pdc

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content[:5], content[5:11], content[11:])


@dataclass(frozen=True)
class BloodGroups(Structure):
    """DS 002 (`=%ggre`), kept raw: cellular products rarely print it."""

    DATA_IDENTIFIER = "=%"
    NAME = "blood groups"
    LENGTH = 4

    raw: str

    def __post_init__(self) -> None:
        raw = _text("raw", self.raw)
        if len(raw) != 4 or not all(c in string.ascii_letters + string.digits for c in raw):
            raise ValueError(f"blood groups {raw!r} must be 4 characters 0-9, A-Z or a-z")

    @property
    def content(self) -> str:
        return self.raw

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content)


# --- DS 040 chain of identity --------------------------------------------------------------


@dataclass(frozen=True)
class ChainOfIdentityIdentifier(Structure):
    """Chain of identity identifier, DS 040 (`&/CH` + FIN, year, sequence; ST-028).

    The check character (MOD 37-2 over the 13 characters after `CH`, printed boxed like a
    DIN's) is marked unconfirmed in STANDARDS.md: it is offered for hand entry, not encoded.
    """

    DATA_IDENTIFIER = "&/"
    NAME = "chain of identity identifier"
    LENGTH = 15
    PREFIX: ClassVar[str] = "CH"

    fin: str
    year: str
    sequence: str

    def __post_init__(self) -> None:
        _check_din_parts(self.fin, self.year, self.sequence)

    @property
    def identifier(self) -> str:
        """The 13 characters after `CH`."""
        return self.fin + self.year + self.sequence

    @property
    def text(self) -> str:
        """The identifier as typed or scanned without a data identifier: `CHB234526000001`."""
        return self.PREFIX + self.identifier

    @property
    def check_value(self) -> int:
        return mod37_2_value(self.identifier)

    @property
    def check_character(self) -> str:
        """MOD 37-2 over the 13 characters after CH (unconfirmed, see the class docstring)."""
        return CHARSET[self.check_value]

    @property
    def eye_readable(self) -> str:
        return f"{self.PREFIX} {self.fin} {self.year} {self.sequence}"

    @property
    def content(self) -> str:
        return self.text

    @classmethod
    def _from_content(cls, content: str) -> Self:
        if not content.startswith(cls.PREFIX):
            raise ValueError(f"must start with CH, got {content[:2]!r}")
        return cls(content[2:7], content[7:9], content[9:15])


def make_coi(fin: str, year: int, sequence: int) -> ChainOfIdentityIdentifier:
    """A chain of identity identifier from numbers, e.g. make_coi("B2345", 26, 1)."""
    year = _int_in_range("year", year, 0, 99)
    sequence = _int_in_range("sequence", sequence, 0, 999_999)
    return ChainOfIdentityIdentifier(fin, f"{year:02d}", f"{sequence:06d}")


def parse_coi(text: str) -> ChainOfIdentityIdentifier:
    """A chain of identity identifier typed, keyed or scanned.

    Accepts "CHB234526000001", the same with its check character appended (checked; a wrong
    one is refused without naming the right one), spaces anywhere ("CH B2345 26 000001 K"),
    and the DS 040 barcode text "&/CHB234526000001".
    """
    compact = _compact(text, "chain of identity identifier")
    if compact.startswith(ChainOfIdentityIdentifier.DATA_IDENTIFIER):
        return ChainOfIdentityIdentifier.parse(compact)
    if not compact.startswith(ChainOfIdentityIdentifier.PREFIX):
        raise ValueError(f"chain of identity identifier must start with CH, got {compact[:2]!r}")
    body = compact[2:]
    if len(body) not in (13, 14):
        raise ValueError(
            "chain of identity identifier: expected CH and 13 characters (and optionally the "
            f"check character), got {len(compact)} characters"
        )
    coi = ChainOfIdentityIdentifier(body[:5], body[5:7], body[7:13])
    if len(body) == 14:
        _verify_check_character(
            body[13], coi.identifier, coi.eye_readable, "chain of identity identifier"
        )
    return coi


# --- DS 038 Single European Code ------------------------------------------------------------


@dataclass(frozen=True)
class SingleEuropeanCodeStructure(Structure):
    """DS 038 (`&,4` + the 40-character SEC)."""

    DATA_IDENTIFIER = "&,4"
    NAME = "SEC"
    LENGTH = 40

    sec: SingleEuropeanCode

    def __post_init__(self) -> None:
        from vein2vein.standards.sec import SingleEuropeanCode  # sec imports this module

        if not isinstance(self.sec, SingleEuropeanCode):
            raise ValueError(f"sec must be a SingleEuropeanCode, got {type(self.sec).__name__}")

    @property
    def content(self) -> str:
        return self.sec.text

    @classmethod
    def _from_content(cls, content: str) -> Self:
        from vein2vein.standards.sec import SingleEuropeanCode

        return cls(SingleEuropeanCode.from_code(content))


# --- structures kept raw (length-checked so that a full label scans) ------------------------


@dataclass(frozen=True)
class _RawStructure(Structure):
    """Content kept as scanned: printable ASCII without spaces, of the structure's length."""

    raw: str

    def __post_init__(self) -> None:
        raw = _text("raw", self.raw)
        if len(raw) != self.LENGTH:
            raise ValueError(f"{self.NAME}: expected {self.LENGTH} characters, got {len(raw)}")
        bad = next((c for c in raw if not "!" <= c <= "~"), None)
        if bad is not None:
            raise ValueError(
                f"{self.NAME}: character {bad!r} is not allowed (printable ASCII, no spaces)"
            )

    @property
    def content(self) -> str:
        return self.raw

    @classmethod
    def _from_content(cls, content: str) -> Self:
        return cls(content)


@dataclass(frozen=True)
class ContainerManufacturerAndCatalogNumber(_RawStructure):
    """DS 017 (`=)bqqwwwwwww`)."""

    DATA_IDENTIFIER = "=)"
    NAME = "container manufacturer and catalog number"
    LENGTH = 10


@dataclass(frozen=True)
class ContainerLotNumber(_RawStructure):
    """DS 018 (`&)` + 10 characters, zero-padded left)."""

    DATA_IDENTIFIER = "&)"
    NAME = "container lot number"
    LENGTH = 10


@dataclass(frozen=True)
class DonorIdentificationNumber(_RawStructure):
    """DS 019 (`=;` FIN + 16 digits)."""

    DATA_IDENTIFIER = "=;"
    NAME = "donor identification number"
    LENGTH = 21


@dataclass(frozen=True)
class StaffIdentificationNumber(_RawStructure):
    """DS 020 (`='` + FIN 5 + 6 characters)."""

    DATA_IDENTIFIER = "='"
    NAME = "staff identification number"
    LENGTH = 11


@dataclass(frozen=True)
class FlexibleDateAndTime(_RawStructure):
    """DS 031 (`=(ZUTTYYYYMMDDhhmm`)."""

    DATA_IDENTIFIER = "=("
    NAME = "flexible date and time"
    LENGTH = 16


@dataclass(frozen=True)
class MphoLotNumber(_RawStructure):
    """DS 035 (`&,1` + 18 characters, zero-padded left)."""

    DATA_IDENTIFIER = "&,1"
    NAME = "MPHO lot number"
    LENGTH = 18


@dataclass(frozen=True)
class MphoSupplementalIdentificationNumber(_RawStructure):
    """DS 036 (`&,2` + 18 characters)."""

    DATA_IDENTIFIER = "&,2"
    NAME = "MPHO supplemental identification number"
    LENGTH = 18


@dataclass(frozen=True)
class GlobalRegistrationIdentifierForDonors(_RawStructure):
    """DS 039 (`&:` + 19 characters)."""

    DATA_IDENTIFIER = "&:"
    NAME = "global registration identifier for donors"
    LENGTH = 19


# --- DS 023 compound message ---------------------------------------------------------------


@dataclass(frozen=True)
class CompoundMessage(Structure):
    """Compound message, DS 023 (`=+aabbb` followed by aa structures).

    aa counts the structures that follow; bbb 000 means no defined order (any other value
    names a registered sequence). National or local structures (`&a`-`&z`) and nested
    compound messages may not appear inside one.
    """

    DATA_IDENTIFIER = "=+"
    NAME = "compound message"
    LENGTH = None

    structures: tuple[Structure, ...]
    sequence_code: str = "000"

    def __post_init__(self) -> None:
        if not isinstance(self.structures, tuple | list):
            raise ValueError("structures must be a tuple of data structures")
        object.__setattr__(self, "structures", tuple(self.structures))
        if not 1 <= len(self.structures) <= 99:
            raise ValueError(
                f"compound message must hold 1-99 structures, got {len(self.structures)}"
            )
        for number, structure in enumerate(self.structures, start=1):
            if not isinstance(structure, Structure):
                raise ValueError(
                    f"structure {number} must be a data structure, got {type(structure).__name__}"
                )
            if isinstance(structure, CompoundMessage):
                raise ValueError(f"structure {number}: a compound message cannot hold another")
            if _is_local_identifier(structure.DATA_IDENTIFIER):
                raise ValueError(
                    f"structure {number}: national or local data identifier "
                    f"{structure.DATA_IDENTIFIER[:2]!r} may not appear inside a compound message"
                )
        code = _text("sequence code", self.sequence_code)
        if not _is_digits(code, 3):
            raise ValueError(f"sequence code {code!r} must be 3 digits (000 = no defined order)")

    @property
    def has_defined_order(self) -> bool:
        return self.sequence_code != "000"

    @property
    def content(self) -> str:
        header = f"{len(self.structures):02d}{self.sequence_code}"
        return header + "".join(s.barcode_text for s in self.structures)

    @classmethod
    def _from_content(cls, content: str) -> Self:
        header = content[:5]
        if not _is_digits(header, 5):
            raise ValueError(f"header {header!r} must be 5 digits aabbb")
        structures = _split_structures(content, 5)
        declared = int(header[:2])
        if len(structures) != declared:
            raise ValueError(
                f"compound message says {declared} structures, found {len(structures)}"
            )
        return cls(tuple(structures), header[2:])


# --- reading any scan -----------------------------------------------------------------------

STRUCTURE_CLASSES: tuple[type[Structure], ...] = (
    Din,
    BloodGroups,
    ProductCode,
    ExpirationDate,
    ExpirationDateTime,
    CollectionDate,
    CollectionDateTime,
    ProductionDate,
    ProductionDateTime,
    ContainerManufacturerAndCatalogNumber,
    ContainerLotNumber,
    DonorIdentificationNumber,
    StaffIdentificationNumber,
    CompoundMessage,
    PatientDateOfBirth,
    PatientIdentificationNumber,
    FlexibleDateAndTime,
    ProductDivisions,
    ProcessingFacilityInformationCode,
    ProcessorProductIdentificationCode,
    MphoLotNumber,
    MphoSupplementalIdentificationNumber,
    SingleEuropeanCodeStructure,
    GlobalRegistrationIdentifierForDonors,
    ChainOfIdentityIdentifier,
)

_BY_IDENTIFIER: dict[str, type[Structure]] = {
    cls.DATA_IDENTIFIER: cls for cls in STRUCTURE_CLASSES if cls is not Din
}

LENGTHS: dict[str, int | None] = {cls.DATA_IDENTIFIER: cls.LENGTH for cls in STRUCTURE_CLASSES}
"""Content length after each data identifier ("=" is the DIN, "=" + its FIN's first
character); None where the content carries its own length (DS 025) or is a compound message.
"""


def _is_local_identifier(identifier: str) -> bool:
    return len(identifier) >= 2 and identifier[0] == "&" and identifier[1] in string.ascii_lowercase


def _identify(text: str, position: int, *, inside_compound: bool) -> tuple[type[Structure], int]:
    """The structure class whose data identifier starts at `position`, and its length."""
    first = text[position]
    if first not in "=&":
        raise ValueError(
            f"expected a data identifier ('=' or '&') at position {position + 1}, got {first!r}"
        )
    second = text[position + 1 : position + 2]
    if not second:
        raise ValueError(f"incomplete data identifier {first!r}")
    if first == "=" and second in _FIN_FIRST:
        return Din, 1
    identifier = first + second
    if _is_local_identifier(identifier):
        where = "is not supported"
        if inside_compound:
            where = "may not appear inside a compound message"
        raise ValueError(f"national or local data identifier {identifier!r} {where}")
    if identifier == "&,":
        identifier += text[position + 2 : position + 3]
    cls = _BY_IDENTIFIER.get(identifier)
    if cls is None:
        raise ValueError(f"unknown data identifier {identifier!r}")
    if inside_compound and cls is CompoundMessage:
        raise ValueError("a compound message may not hold another compound message")
    return cls, len(identifier)


def _split_structures(text: str, start: int) -> list[Structure]:
    """The structures concatenated in `text` from `start`, using the lengths table."""
    found: list[Structure] = []
    position = start
    while position < len(text):
        number = len(found) + 1
        try:
            cls, identifier_length = _identify(text, position, inside_compound=True)
            body_start = position + identifier_length
            length = cls._content_length(text[body_start:])
            body = text[body_start : body_start + length]
            if len(body) < length:
                raise ValueError(
                    f"{cls.NAME}: expected {length} characters after "
                    f"{cls.DATA_IDENTIFIER!r}, got {len(body)}"
                )
            found.append(cls._from_checked_content(body))
        except ValueError as error:
            kind = CheckCharacterError if isinstance(error, CheckCharacterError) else ValueError
            raise kind(f"compound message structure {number}: {error}") from error
        position = body_start + length
    return found


def parse(text: str) -> Structure:
    """The data structure (or compound message) a scanner typed.

    Surrounding whitespace, CR and LF are ignored (a keyboard-wedge scanner sends Enter).
    Anything else that is wrong raises ValueError saying what.
    """
    scan = _clean_scan(text)
    cls, identifier_length = _identify(scan, 0, inside_compound=False)
    return cls._from_checked_content(scan[identifier_length:])

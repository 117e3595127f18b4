"""EU Single European Code, STANDARDS.md section 2 (ICCBBA ST-012; Directive (EU) 2015/565)."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.standards import sec as sec_module
from vein2vein.standards.isbt128 import CompoundMessage, SingleEuropeanCodeStructure
from vein2vein.standards.isbt128 import parse as parse_isbt128
from vein2vein.standards.sec import EU_EEA_COUNTRIES, SingleEuropeanCode, parse

EXAMPLE_EYE_READABLE = "SEC: PL001499Z549917123456 A00T041600320171231"
EXAMPLE_TEXT = "PL001499Z549917123456A00T041600320171231"
COMPOUND = (
    "=+05000=Z54991712345600=%T300=<T0416003&>0183652359&,4PL001499Z549917123456A00T041600320181231"
)


def _example(**changes: object) -> SingleEuropeanCode:
    fields: dict[str, object] = {
        "country": "PL",
        "te_code": "001499",
        "donation_number": "Z549917123456",
        "coding_system": "A",
        "product_code": "00T0416",
        "split_number": "003",
        "expiry": dt.date(2017, 12, 31),
    }
    fields.update(changes)
    return SingleEuropeanCode(**fields)  # type: ignore[arg-type]


def test_standards_example_parts():
    code = parse(EXAMPLE_EYE_READABLE)
    assert code == _example()
    assert code.donation_identification_sequence == "PL001499Z549917123456"
    assert code.product_identification_sequence == "A00T041600320171231"
    assert code.text == EXAMPLE_TEXT
    assert len(code.text) == 40
    assert code.eye_readable == EXAMPLE_EYE_READABLE


@pytest.mark.parametrize(
    "text",
    [EXAMPLE_TEXT, EXAMPLE_EYE_READABLE, "SEC:\nPL001499Z549917123456\nA00T041600320171231",
     "SEC:\r\nPL001499Z549917123456\r\nA00T041600320171231\r\n",
     "SEC: PL001499Z549917123456\nA00T041600320171231",
     "SEC PL001499Z549917123456 A00T041600320171231",
     "PL001499Z549917123456 A00T041600320171231", f"  {EXAMPLE_TEXT}\n", f"SEC:{EXAMPLE_TEXT}"],
)  # fmt: skip
def test_parse_accepts_the_code_and_its_eye_readable_forms(text):
    assert parse(text) == _example()
    assert SingleEuropeanCode.parse(text) == _example()


def test_compound_example_sec_matches_its_din_and_product_code():
    message = parse_isbt128(COMPOUND)
    assert isinstance(message, CompoundMessage)
    structure = message.structures[-1]
    assert isinstance(structure, SingleEuropeanCodeStructure)
    assert structure.sec == _example(expiry=dt.date(2018, 12, 31))
    assert structure.sec.text == COMPOUND[-40:]


def test_cellular_therapy_division_and_no_expiry():
    code = _example(product_code="00S1393", split_number="0Ac", expiry=None)
    assert code.product_identification_sequence == "A00S13930Ac00000000"
    assert parse(code.text) == code
    assert parse(code.eye_readable).expiry is None


def test_te_code_is_zero_padded_left():
    code = _example(te_code="1499")
    assert code.te_code == "001499"
    assert code.text == EXAMPLE_TEXT


def test_a_swedish_code_that_starts_with_sec_is_not_mistaken_for_the_prefix():
    code = _example(country="SE", te_code="C12345")
    assert code.text.startswith("SEC12345")
    assert parse(code.text) == code
    assert parse(code.eye_readable) == code


def test_country_list_is_the_eu_and_eea_member_states():
    eu = {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }  # fmt: skip
    assert len(eu) == 27
    assert set(EU_EEA_COUNTRIES) == eu | {"IS", "LI", "NO"}


@pytest.mark.parametrize("country", ["EL", "GB", "CH", "US", "pl", "P", "POL", ""])
def test_countries_outside_the_eu_eea_or_not_iso_alpha2_are_refused(country):
    with pytest.raises(ValueError, match=f"country {country!r} is not an EU/EEA member state"):
        _example(country=country)


def test_other_coding_systems_take_any_13_character_donation_number():
    eurocode = _example(coding_system="B", donation_number="0000000000042", product_code="1234567",
                        split_number="AB1")  # fmt: skip
    assert eurocode.product_identification_sequence == "B1234567AB120171231"
    assert parse(eurocode.text) == eurocode
    eutc = _example(coding_system="E", donation_number="ABCDEFGHIJKLM", product_code="0000123")
    assert parse(eutc.eye_readable) == eutc


@pytest.mark.parametrize(
    ("changes", "says"),
    [({"te_code": ""}, "tissue establishment code '' must be 1-6 characters"),
     ({"te_code": "0014990"}, "tissue establishment code '0014990'"),
     ({"te_code": "00149a"}, "tissue establishment code '00149a'"),
     ({"coding_system": "C"}, "coding system 'C' must be A \\(ISBT 128\\), B \\(Eurocode\\) or E"),
     ({"donation_number": "Z54991712345"}, "donation number 'Z54991712345' must be 13 characters"),
     ({"donation_number": "O549917123456"}, "must be an ISBT 128 DIN for coding system A: FIN"),
     ({"donation_number": "Z5499171234AB"}, "must be an ISBT 128 DIN.*must be digits"),
     ({"product_code": "00T041"}, "product code '00T041' must be 7 characters"),
     ({"product_code": "01T0416"}, "product code '01T0416' must be 00 \\+ an ISBT 128"),
     ({"product_code": "00G0416"}, "product code '00G0416' .*product family"),
     ({"split_number": "0A"}, "split number '0A' must be 3 characters"),
     ({"split_number": "0aC"}, "split number '0aC' must be 000, 0 \\+ the division"),
     ({"split_number": "1Ac"}, "split number '1Ac'"),
     ({"expiry": dt.datetime(2017, 12, 31)}, "expiry must be a datetime.date or None"),
     ({"expiry": "20171231"}, "expiry must be a datetime.date or None, got str"),
     ({"country": None}, "country must be text")],
)  # fmt: skip
def test_constructor_errors_name_the_part(changes, says):
    with pytest.raises(ValueError, match=says):
        _example(**changes)


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "SEC: empty text"), ("SEC:", "SEC: expected 40 characters, got 0"),
     (EXAMPLE_TEXT[:-1], "SEC: expected 40 characters, got 39"),
     ("SEC: PL001499Z54991712345 A00T041600320171231",
      "SEC donation identification sequence: expected 21 characters, got 20"),
     ("SEC: PL001499Z549917123456 A00T04160032017123",
      "SEC product identification sequence: expected 19 characters, got 18"),
     ("SEC: PL 001499Z549917123456 A00T041600320171231", "got 3 parts"),
     ("PL001499Z549917123456A00T041600320171331", "SEC: expiry '20171331' is not a valid date"),
     ("PL001499Z549917123456A00T0416003000000AB", "SEC: expiry '000000AB' must be 8 digits"),
     ("XX001499Z549917123456A00T041600320171231", "SEC: country 'XX'"),
     ("PL001499Z549917123456C00T041600320171231", "SEC: coding system 'C'")],
)  # fmt: skip
def test_parse_errors_name_the_part(text, says):
    with pytest.raises(ValueError, match=says):
        parse(text)


def test_parse_refuses_non_text():
    with pytest.raises(ValueError, match="SEC must be text"):
        parse(None)  # type: ignore[arg-type]


def test_from_code_takes_exactly_the_40_characters():
    assert SingleEuropeanCode.from_code(EXAMPLE_TEXT) == _example()
    with pytest.raises(ValueError, match="SEC: expected 40 characters, got 46"):
        SingleEuropeanCode.from_code(EXAMPLE_EYE_READABLE)


def test_module_parse_is_the_class_parse():
    assert sec_module.parse(EXAMPLE_TEXT) == SingleEuropeanCode.parse(EXAMPLE_TEXT)


_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
_MIDDLE = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"
_ALNUM = string.ascii_uppercase + string.digits


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


_dins = st.builds(
    lambda a, b, c, d: a + b + c + d,
    _chars(_FIRST, 1),
    _chars(_MIDDLE, 2),
    _chars(string.digits, 2),
    _chars(string.digits, 8),
)
_isbt_codes = st.builds(
    SingleEuropeanCode,
    country=st.sampled_from(sorted(EU_EEA_COUNTRIES)),
    te_code=_chars(_ALNUM, 6),
    donation_number=_dins,
    coding_system=st.just("A"),
    product_code=st.builds(
        lambda a, d: "00" + a + d, st.sampled_from("STVE"), _chars(string.digits, 4)
    ),
    split_number=st.one_of(
        _chars(string.digits, 3),
        st.builds(lambda a, b: "0" + a + b, _chars(string.ascii_uppercase, 1),
                  _chars(string.ascii_lowercase, 1)),
    ),
    expiry=st.one_of(st.none(), st.dates()),
)  # fmt: skip


@given(_isbt_codes)
def test_build_text_parse_round_trips(code):
    assert len(code.text) == 40
    assert parse(code.text) == code
    assert parse(code.eye_readable) == code
    assert parse_isbt128(SingleEuropeanCodeStructure(code).barcode_text).sec == code  # type: ignore[attr-defined]


@given(st.text(max_size=60))
def test_parse_of_any_text_raises_only_value_error(text):
    try:
        result = parse(text)
    except ValueError as error:
        assert str(error)
    else:
        assert isinstance(result, SingleEuropeanCode)

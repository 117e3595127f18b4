"""ISBT 128 data structures: build, barcode text, parse (STANDARDS.md section 1).

Vectors from ../shared/data/isbt128/structures.csv and the examples in STANDARDS.md.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import string
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vein2vein.standards import isbt128
from vein2vein.standards.isbt128 import (
    CELLULAR_THERAPY_COLLECTION_TYPES,
    LENGTHS,
    BloodGroups,
    ChainOfIdentityIdentifier,
    CollectionDate,
    CollectionDateTime,
    CompoundMessage,
    ContainerLotNumber,
    ContainerManufacturerAndCatalogNumber,
    Din,
    DonorIdentificationNumber,
    ExpirationDate,
    ExpirationDateTime,
    FlexibleDateAndTime,
    GlobalRegistrationIdentifierForDonors,
    MphoLotNumber,
    MphoSupplementalIdentificationNumber,
    PatientDateOfBirth,
    PatientIdentificationNumber,
    ProcessingFacilityInformationCode,
    ProcessorProductIdentificationCode,
    ProductCode,
    ProductDivisions,
    ProductionDate,
    ProductionDateTime,
    SingleEuropeanCodeStructure,
    StaffIdentificationNumber,
    Structure,
    make_coi,
    make_din,
    parse,
    parse_coi,
    parse_keyed_din,
)
from vein2vein.standards.iso7064 import CHARSET, mod37_2
from vein2vein.standards.sec import SingleEuropeanCode

DATA = Path(__file__).resolve().parents[1] / "data" / "isbt128"  # copied from shared/data
SRC = Path(__file__).resolve().parents[2] / "src" / "vein2vein" / "standards"

SEC_COMPOUND = (
    "=+05000=Z54991712345600=%T300=<T0416003&>0183652359&,4PL001499Z549917123456A00T041600320181231"
)


def _structures_csv() -> dict[str, dict[str, str]]:
    with (DATA / "structures.csv").open(newline="", encoding="utf-8") as handle:
        return {row["kind"]: row for row in csv.DictReader(handle)}


def _fields(expected: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in expected.split(";") if "=" in part)


# --- structures.csv --------------------------------------------------------------------------


def test_structures_csv_has_the_four_rows_tested_below():
    assert set(_structures_csv()) == {
        "din_type3_flag",
        "ds001_din_parse",
        "ds034_ppic_parse",
        "ds023_compound_message",
    }


def test_csv_din_with_flags_parses():
    row = _structures_csv()["ds001_din_parse"]
    din = parse(row["input"])
    assert isinstance(din, Din)
    fields = _fields(row["expected"])
    assert (din.fin, din.year, din.sequence, din.flags) == (
        fields["FIN"],
        fields["year"],
        fields["seq"],
        fields["flags"],
    )
    assert din.barcode_text == row["input"]


def test_csv_type3_flag():
    row = _structures_csv()["din_type3_flag"]
    din = Din(row["input"][:5], row["input"][5:7], row["input"][7:13])
    assert din.type3_flag == row["expected"] == "70"
    assert din.check_value == 10
    typed = Din(din.fin, din.year, din.sequence, flags="70")
    assert typed.content == "G12341765432170"  # DS001 content in ST-001 Appendix A.2
    assert parse("=G12341765432170") == typed


def test_csv_processor_product_identification_code():
    row = _structures_csv()["ds034_ppic_parse"]
    ppic = parse(row["input"])
    assert isinstance(ppic, ProcessorProductIdentificationCode)
    fields = _fields(row["expected"])
    assert (ppic.fin, ppic.product_code, ppic.pdc) == (
        fields["FIN(P)"],
        fields["FPC"],
        fields["PDC"],
    )
    assert ppic.barcode_text == row["input"]


def test_csv_compound_message_with_four_structures():
    row = _structures_csv()["ds023_compound_message"]
    message = parse(row["input"])
    assert isinstance(message, CompoundMessage)
    assert "count=4" in row["expected"] and "2019-01-31" in row["expected"]
    assert len(message.structures) == 4
    assert message.sequence_code == "000" and message.has_defined_order is False
    assert [type(s) for s in message.structures] == [
        ProcessorProductIdentificationCode,  # 034
        Din,  # 001
        ProductDivisions,  # 032
        ExpirationDate,  # 004
    ]
    ppic, din, divisions, expiry = message.structures
    assert ppic == ProcessorProductIdentificationCode("A9997", "XYZ100", "T0479")
    assert din == Din("A9999", "17", "123456", "00")
    assert divisions == ProductDivisions("000012")
    assert expiry == ExpirationDate(dt.date(2019, 1, 31))
    assert message.barcode_text == row["input"]


def test_standards_sec_compound_example_parses():
    message = parse(SEC_COMPOUND)
    assert isinstance(message, CompoundMessage)
    din, groups, product, expiry, sec = message.structures
    assert din == Din("Z5499", "17", "123456")
    assert groups == BloodGroups("T300")
    assert product == ProductCode("T0416", "0", "03")
    assert expiry == ExpirationDateTime(dt.datetime(2018, 12, 31, 23, 59))
    assert isinstance(sec, SingleEuropeanCodeStructure)
    assert sec.sec.donation_number == din.din
    assert sec.sec.product_code == "00" + product.description_code
    assert sec.sec.split_number == "003"
    assert sec.sec.expiry == dt.date(2018, 12, 31)
    assert message.barcode_text == SEC_COMPOUND


# --- DS 001 DIN ------------------------------------------------------------------------------


def test_din_properties():
    din = Din("A9999", "21", "123456")
    assert din.din == "A999921123456"
    assert din.check_value == 3
    assert din.check_character == "3"
    assert din.type3_flag == "63"
    assert din.eye_readable == "A9999 21 123456"
    assert din.barcode_text == "=A99992112345600"
    assert din.DATA_IDENTIFIER == "="
    assert din.flag_meaning == "flags not used"


def test_make_din_pads_numbers():
    assert make_din("W0000", 9, 123456, "02") == Din("W0000", "09", "123456", "02")
    assert make_din("A9999", 0, 1).barcode_text == "=A99990000000100"


@pytest.mark.parametrize(
    ("year", "sequence", "says"),
    [(100, 1, "year 100"), (-1, 1, "year -1"), (21, 1_000_000, "sequence 1000000"),
     (True, 1, "year True"), ("21", 1, "year '21'")],
)  # fmt: skip
def test_make_din_refuses_out_of_range_numbers(year, sequence, says):
    with pytest.raises(ValueError, match=says):
        make_din("A9999", year, sequence)


@pytest.mark.parametrize(
    "flags", ["00", "01", "04", "05", "13", "14", "15", "19", "20", "42", "59"]
)
def test_flags_00_to_59_are_accepted(flags):
    assert Din("A9999", "21", "123456", flags).flags == flags


@pytest.mark.parametrize(
    ("flags", "meaning"),
    [("02", "container 2 of a set"), ("17", "container 7 of a set"), ("06", "pilot tube label"),
     ("09", "sample tube for NAT testing"), ("33", "local meaning"), ("63", "Type 3 check flag")],
)  # fmt: skip
def test_flag_meanings(flags, meaning):
    assert Din("A9999", "21", "123456", flags).flag_meaning == meaning


def test_type3_flag_must_match_the_din():
    assert Din("G1234", "17", "654321", "70").flags == "70"
    with pytest.raises(ValueError) as caught:
        Din("G1234", "17", "654321", "71")
    message = str(caught.value)
    assert "Type 3 flag 71 does not match DIN G123417654321 (expected 70)" in message
    assert "bad check character" in message
    assert message.startswith("flags")


@pytest.mark.parametrize("flags", ["60", "96"])
def test_type3_range_ends_refused_when_not_this_din(flags):
    with pytest.raises(ValueError, match=f"Type 3 flag {flags} does not match"):
        Din("G1234", "17", "654321", flags)


@pytest.mark.parametrize(
    ("flags", "says"),
    [("97", "flags 97 are reserved"), ("99", "flags 99 are reserved"),
     ("AB", "flags 'AB' are reserved"), ("0A", "flags '0A' are reserved"),
     ("\u00b2\u00b3", "are reserved"), ("1", "flags '1' must be 2 characters"),
     ("001", "must be 2 characters")],
)  # fmt: skip
def test_reserved_or_malformed_flags_are_refused(flags, says):
    with pytest.raises(ValueError, match=says):
        Din("A9999", "21", "123456", flags)


@pytest.mark.parametrize(
    ("fin", "year", "sequence", "says"),
    [("A999", "21", "123456", "FIN 'A999': must be 5 characters"),
     ("O9999", "21", "123456", "FIN 'O9999': first character"),
     ("A9999", "2", "123456", "year '2' must be 2 digits"),
     ("A9999", "2A", "123456", "year '2A'"),
     ("A9999", "21", "12345", "sequence '12345' must be 6 digits"),
     ("A9999", "21", "12345\u0663", "sequence"),
     (None, "21", "123456", "FIN must be text"),
     ("A9999", 21, "123456", "year must be text")],
)  # fmt: skip
def test_din_parts_are_named_when_wrong(fin, year, sequence, says):
    with pytest.raises(ValueError, match=says):
        Din(fin, year, sequence)


def test_din_is_frozen_and_hashable():
    din = Din("A9999", "21", "123456")
    with pytest.raises(AttributeError):
        din.flags = "01"  # type: ignore[misc]
    assert {din, Din("A9999", "21", "123456")} == {din}


# --- keyed DIN -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flags"),
    [("A9999 21 123456 3", "00"), ("A9999211234563", "00"), ("  A9999 21 123456   3\n", "00"),
     ("A9999 21 123456 01 3", "01"), ("A999921123456013", "01"), ("W0000 09 123456 02 G", "02")],
)  # fmt: skip
def test_keyed_din_with_check_character(text, flags):
    din = parse_keyed_din(text)
    assert din.din[:5] in ("A9999", "W0000")
    assert din.flags == flags
    assert din.check_character == "".join(text.split())[-1]


def test_keyed_din_star_check_character():
    assert parse_keyed_din("A9999 17 345628 *").din == "A999917345628"


def test_wrong_keyed_check_character_does_not_reveal_the_right_one():
    with pytest.raises(ValueError) as caught:
        parse_keyed_din("A9999 21 123456 4")
    assert str(caught.value) == "check character 4 is wrong for DIN A9999 21 123456"
    with pytest.raises(ValueError) as caught:
        parse_keyed_din("A9999 21 123456 01 X")
    assert str(caught.value) == "check character X is wrong for DIN A9999 21 123456"
    assert "3" not in str(caught.value).replace("123456", "")


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "keyed DIN is empty"), ("   ", "keyed DIN is empty"),
     ("A9999 21 123456", "got 13 characters"), ("A9999 21 123456 01", "got 15 characters"),
     ("A9999 21 123456 01 3 3", "got 17 characters"), ("A9999 21 123456 a", "check character 'a'"),
     ("a9999 21 123456 3", "FIN 'a9999'"), ("A9999 21 123456 99 3", "flags 99 are reserved")],
)  # fmt: skip
def test_keyed_din_errors(text, says):
    with pytest.raises(ValueError, match=says):
        parse_keyed_din(text)


# --- DS 003 product code --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "meaning"),
    [("1", "autologous use only"), ("A", "autologous, eligible for crossover"),
     ("X", "autologous, biohazard"), ("8", "autologous containing allogeneic material"),
     ("7", "allogeneic"), ("V", "volunteer allogeneic"), ("0", "not specified")],
)  # fmt: skip
def test_cellular_therapy_collection_types(kind, meaning):
    code = ProductCode("S1234", kind, "00")
    assert code.collection_type_meaning == meaning
    assert code.family == "cellular therapy"
    assert code.barcode_text == f"=<S1234{kind}00"


@pytest.mark.parametrize("division", ["00", "Aa", "Ab", "Zz", "99"])
def test_product_code_divisions_accepted(division):
    assert ProductCode("S1393", "1", division).content == f"S13931{division}"


@pytest.mark.parametrize(
    ("args", "says"),
    [(("S123", "1", "00"), "description code 'S123': must be 5 characters"),
     (("G1234", "1", "00"), "description code 'G1234': first character must be a product"),
     (("S12A4", "1", "00"), "characters 2-5 must be digits"),
     (("S1234", "2", "00"), "collection type '2' is not a cellular therapy collection type"),
     (("S1234", "a", "00"), "collection type 'a'"),
     (("S1234", "11", "00"), "collection type '11' must be 1 character"),
     (("S1234", "1", "aA"), "division 'aA' must be 00"),
     (("S1234", "1", "03"), "division '03'"),
     (("S1234", "1", "A"), "division 'A'"),
     (("E1234", "a", "00"), "collection type 'a' must be 0-9 or A-Z"),
     (("T0416", "0", "0A"), "division '00A': tissue codes end in a 3-digit division number")],
)  # fmt: skip
def test_product_code_errors_name_the_part(args, says):
    with pytest.raises(ValueError, match=says):
        ProductCode(*args)


def test_tissue_code_three_digit_division_and_no_collection_type_meaning():
    code = ProductCode("T0416", "0", "03")
    assert code.family == "tissue"
    assert code.collection_type_meaning is None
    assert parse("=<T0416003") == code


def test_collection_type_table_matches_standards():
    assert set(CELLULAR_THERAPY_COLLECTION_TYPES) == set("1AX87V0")


# --- dates -----------------------------------------------------------------------------------


def test_standards_expiration_date_and_time_example():
    expiry = parse("&>0183652359")
    assert expiry == ExpirationDateTime(dt.datetime(2018, 12, 31, 23, 59))
    assert ExpirationDateTime.end_of_day(dt.date(2018, 12, 31)).barcode_text == "&>0183652359"


@pytest.mark.parametrize(
    ("day", "content"),
    [(dt.date(2019, 1, 31), "019031"), (dt.date(2000, 1, 1), "000001"),
     (dt.date(2020, 12, 31), "020366"), (dt.date(2099, 12, 31), "099365"),
     (dt.date(2100, 1, 1), "100001"), (dt.date(2100, 12, 31), "100365"),
     (dt.date(2999, 12, 31), "999365"), (dt.date(2026, 3, 17), "026076")],
)  # fmt: skip
def test_century_digit_and_day_of_year(day, content):
    for cls in (ExpirationDate, CollectionDate, ProductionDate):
        structure = cls(day)
        assert structure.content == content
        assert parse(structure.barcode_text) == structure


@pytest.mark.parametrize(
    ("cls", "identifier"),
    [(ExpirationDate, "=>"), (ExpirationDateTime, "&>"), (CollectionDate, "=*"),
     (CollectionDateTime, "&*"), (ProductionDate, "=}"), (ProductionDateTime, "&}")],
)  # fmt: skip
def test_date_data_identifiers(cls, identifier):
    assert identifier == cls.DATA_IDENTIFIER
    assert LENGTHS[identifier] == (6 if identifier[0] == "=" else 10)


@pytest.mark.parametrize(
    ("scan", "says"),
    [("=>019400", r"expiration date: day 400 is not a day of the year \(001-366\)"),
     ("=>019000", "expiration date: day 000 is not a day of the year"),
     ("=>019366", "expiration date: day 366 of 2019 does not exist"),
     ("=>100366", "day 366 of 2100 does not exist"),  # 2100 is not a leap year
     ("=*0193A1", "collection date: expected 6 digits cyyjjj, got '0193A1'"),
     ("&>0183652459", "expiration date and time: hour 24 is not 00-23"),
     ("&}0183652360", "production date and time: minute 60 is not 00-59"),
     ("&*018365235", "collection date and time: expected 10 characters after '&\\*', got 9"),
     ("=>01903", "expiration date: expected 6 characters after '=>', got 5")],
)  # fmt: skip
def test_bad_dates_are_refused_with_the_reason(scan, says):
    with pytest.raises(ValueError, match=says):
        parse(scan)


def test_day_366_of_a_leap_year_is_december_31():
    assert parse("=>020366") == ExpirationDate(dt.date(2020, 12, 31))


@pytest.mark.parametrize(
    ("build", "says"),
    [(lambda: ExpirationDate(dt.date(1999, 12, 31)), "year 1999 cannot be encoded"),
     (lambda: ExpirationDate(dt.date(3000, 1, 1)), "year 3000 cannot be encoded"),
     (lambda: ExpirationDate(dt.datetime(2020, 1, 1)), "must be a datetime.date, got datetime"),
     (lambda: ExpirationDate("2020-01-01"), "must be a datetime.date, got str"),
     (lambda: ExpirationDateTime(dt.date(2020, 1, 1)), "must be a datetime.datetime"),
     (lambda: ExpirationDateTime(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)), "must be naive"),
     (lambda: ExpirationDateTime(dt.datetime(2020, 1, 1, 0, 0, 1)), "seconds must be 0")],
)  # fmt: skip
def test_date_constructor_errors(build, says):
    with pytest.raises(ValueError, match=says):
        build()


# --- DS 024 / 025 patient --------------------------------------------------------------------


def test_patient_date_of_birth():
    dob = PatientDateOfBirth("00", dt.date(1980, 2, 29))
    assert dob.barcode_text == "=#0019800229"
    assert parse("=#0019800229") == dob
    assert parse("=#A1" + "20240101") == PatientDateOfBirth("A1", dt.date(2024, 1, 1))


@pytest.mark.parametrize(
    ("scan", "says"),
    [("=#0019810229", "patient date of birth: date '19810229' is not a valid date"),
     ("=#0000000101", "date '00000101' is not a valid date"),
     ("=#00198002AB", "date '198002AB' must be 8 digits"),
     ("=#a019800229", "location code 'a0'")],
)  # fmt: skip
def test_patient_date_of_birth_errors(scan, says):
    with pytest.raises(ValueError, match=says):
        parse(scan)


def test_patient_identification_number_carries_its_length():
    pin = PatientIdentificationNumber("00", "MRN-123/45")
    assert pin.barcode_text == "&#0010MRN-123/45"
    assert parse(pin.barcode_text) == pin
    longest = PatientIdentificationNumber("01", "X" * 99)
    assert longest.content.startswith("0199")


@pytest.mark.parametrize(
    ("build", "says"),
    [(lambda: PatientIdentificationNumber("00", ""), "value must be 1-99 characters, got 0"),
     (lambda: PatientIdentificationNumber("00", "X" * 100), "1-99 characters, got 100"),
     (lambda: PatientIdentificationNumber("00", " 12"), "must not start or end with a space"),
     (lambda: PatientIdentificationNumber("00", "12\t"), "'\\\\t' is not printable ASCII"),
     (lambda: PatientIdentificationNumber("00", "M\u00fcller"), "not printable ASCII"),
     (lambda: PatientIdentificationNumber("0", "12"), "location code '0'")],
)  # fmt: skip
def test_patient_identification_number_errors(build, says):
    with pytest.raises(ValueError, match=says):
        build()


@pytest.mark.parametrize(
    ("scan", "says"),
    [("&#0005ABC", "length field says 5 characters, got 3"),
     ("&#00", "expected at least 4 characters"),
     ("&#00XXABC", "length field 'XX' must be 2 digits"),
     ("&#0000", "value must be 1-99 characters, got 0")],
)  # fmt: skip
def test_patient_identification_number_scan_errors(scan, says):
    with pytest.raises(ValueError, match=says):
        parse(scan)


# --- DS 002 / 032 / 033 / 034 ---------------------------------------------------------------


def test_product_information_structures():
    assert ProductDivisions("000012").barcode_text == "=,000012"
    assert BloodGroups("5100").barcode_text == "=%5100"
    pfic = ProcessingFacilityInformationCode("A9997")
    assert pfic.barcode_text == "&+A9997000000"
    assert parse("&+A9997AB1234") == ProcessingFacilityInformationCode("A9997", "AB1234")
    assert ProcessorProductIdentificationCode("A9997", "AB3456", "T0123").barcode_text == (
        "=/A9997AB3456T0123"
    )


@pytest.mark.parametrize(
    ("build", "says"),
    [(lambda: ProductDivisions("12345"), "value '12345' must be 6 digits"),
     (lambda: BloodGroups("T3"), "blood groups 'T3' must be 4 characters"),
     (lambda: ProcessingFacilityInformationCode("A999"), "FIN 'A999'"),
     (lambda: ProcessingFacilityInformationCode("A9997", "ab1234"), "facility product code"),
     (lambda: ProcessorProductIdentificationCode("A9997", "AB345", "T0123"), "product code"),
     (lambda: ProcessorProductIdentificationCode("A9997", "AB3456", "T012"),
      "product description code 'T012'")],
)  # fmt: skip
def test_product_information_errors(build, says):
    with pytest.raises(ValueError, match=says):
        build()


def test_processor_product_identification_code_scan_error_names_structure_and_part():
    with pytest.raises(ValueError, match="processor product identification code: FIN 'O9997'"):
        parse("=/O9997AB3456T0123")


# --- DS 040 chain of identity ---------------------------------------------------------------


def test_chain_of_identity_identifier():
    coi = make_coi("B2345", 26, 1)
    assert coi == ChainOfIdentityIdentifier("B2345", "26", "000001")
    assert coi.text == "CHB234526000001"
    assert coi.eye_readable == "CH B2345 26 000001"
    assert coi.barcode_text == "&/CHB234526000001"
    assert coi.check_character == mod37_2("B234526000001") == "L"
    assert parse("&/CHB234526000001") == coi
    assert "unconfirmed" in (ChainOfIdentityIdentifier.__doc__ or "")


@pytest.mark.parametrize(
    "text",
    ["CHB234526000001", "CHB234526000001L", "CH B2345 26 000001", "CH B2345 26 000001 L",
     " CHB234526000001\r\n", "&/CHB234526000001", "&/CH B2345 26 000001"],
)  # fmt: skip
def test_parse_coi_accepts_typed_keyed_and_scanned_forms(text):
    assert parse_coi(text) == ChainOfIdentityIdentifier("B2345", "26", "000001")


@pytest.mark.parametrize(
    ("text", "says"),
    [("CHB234526000001K", "check character K is wrong for chain of identity identifier "
                          "CH B2345 26 000001"),
     ("CHB23452600000", "expected CH and 13 characters"),
     ("XXB234526000001", "must start with CH, got 'XX'"),
     ("&/CHB234526000001L", "expected 15 characters after '&/', got 16"),
     ("&/XXB234526000001", "must start with CH"),
     ("CHO234526000001", "FIN 'O2345'"),
     ("", "chain of identity identifier is empty")],
)  # fmt: skip
def test_parse_coi_errors(text, says):
    with pytest.raises(ValueError, match=says):
        parse_coi(text)


def test_wrong_coi_check_character_does_not_reveal_the_right_one():
    with pytest.raises(ValueError) as caught:
        parse_coi("CHB234526000001K")
    assert "L" not in str(caught.value)


# --- raw structures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "identifier", "length"),
    [(ContainerManufacturerAndCatalogNumber, "=)", 10), (ContainerLotNumber, "&)", 10),
     (DonorIdentificationNumber, "=;", 21), (StaffIdentificationNumber, "='", 11),
     (FlexibleDateAndTime, "=(", 16), (MphoLotNumber, "&,1", 18),
     (MphoSupplementalIdentificationNumber, "&,2", 18),
     (GlobalRegistrationIdentifierForDonors, "&:", 19)],
)  # fmt: skip
def test_raw_structures_are_length_checked(cls, identifier, length):
    raw = ("A1" * 20)[:length]
    structure = cls(raw)
    assert structure.barcode_text == identifier + raw
    assert parse(identifier + raw) == structure
    with pytest.raises(ValueError, match=f"expected {length} characters, got {length - 1}"):
        cls(raw[:-1])
    with pytest.raises(ValueError, match=f"expected {length} characters after"):
        parse(identifier + raw + "9")
    with pytest.raises(ValueError, match="character ' ' is not allowed"):
        cls(" " + raw[1:])


def test_lengths_table_covers_every_structure():
    assert LENGTHS["="] == 15
    assert LENGTHS["&#"] is None and LENGTHS["=+"] is None
    assert LENGTHS["&,4"] == 40 and LENGTHS["&/"] == 15 and LENGTHS["=/"] == 16
    assert len(LENGTHS) == len(isbt128.STRUCTURE_CLASSES) == 25


# --- compound message ------------------------------------------------------------------------


def _label_structures() -> tuple[Structure, ...]:
    return (
        Din("A9999", "21", "123456"),
        ProductCode("S1393", "1", "00"),
        ExpirationDateTime(dt.datetime(2026, 3, 17, 14, 30)),
        PatientIdentificationNumber("00", "=<S1234100&#"),  # identifiers inside the value
        PatientDateOfBirth("00", dt.date(1980, 2, 29)),
        ChainOfIdentityIdentifier("B2345", "26", "000001"),
        ContainerLotNumber("0000LOT123"),
        MphoLotNumber("000000000000LOT123"),
        CollectionDateTime(dt.datetime(2026, 3, 1, 8, 5)),
    )


def test_full_label_compound_message_round_trips():
    message = CompoundMessage(_label_structures())
    assert message.barcode_text.startswith("=+09000=A99992112345600=<S1393100&>0260761430")
    assert parse(message.barcode_text) == message
    assert parse(message.barcode_text + "\r\n") == message


def test_compound_message_accepts_a_list_and_a_defined_sequence():
    message = CompoundMessage([Din("A9999", "21", "123456")], "007")  # type: ignore[arg-type]
    assert message.structures == (Din("A9999", "21", "123456"),)
    assert message.has_defined_order is True
    assert message.barcode_text == "=+01007=A99992112345600"


@pytest.mark.parametrize(
    ("scan", "says"),
    [("=+04000=/A9997XYZ100T0479=A99991712345600=,000012",
      "compound message says 4 structures, found 3"),
     ("=+02000=/A9997XYZ100T0479=A99991712345600=,000012",
      "compound message says 2 structures, found 3"),
     ("=+00000", "compound message must hold 1-99 structures, got 0"),
     ("=+01000", "compound message says 1 structures, found 0"),
     ("=+0100", "header '0100' must be 5 digits"),
     ("=+01000=A9999171234", "compound message structure 1: DIN: expected 15 characters "
                            "after '=', got 11"),
     ("=+02000=A99991712345600&a123", "compound message structure 2: national or local data "
                                     "identifier '&a' may not appear inside a compound message"),
     ("=+02000=A99991712345600=Q", "structure 2: DIN: expected 15"),
     ("=+02000=A99991712345600=!123456", "structure 2: unknown data identifier '=!'"),
     ("=+02000=A99991712345600X", "structure 2: expected a data identifier"),
     ("=+02000=A99991712345600=+01000=A99991712345600", "may not hold another compound"),
     ("=+01000=>019400", "compound message structure 1: expiration date: day 400"),
     ("=+01000&#00", "structure 1: patient identification number: length field ''")],
)  # fmt: skip
def test_compound_message_errors(scan, says):
    with pytest.raises(ValueError, match=says):
        parse(scan)


def test_compound_message_count_error_text_is_exact():
    with pytest.raises(ValueError) as caught:
        parse("=+04000=/A9997XYZ100T0479=A99991712345600=,000012")
    assert str(caught.value) == "compound message says 4 structures, found 3"


@pytest.mark.parametrize(
    ("build", "says"),
    [(lambda: CompoundMessage(()), "must hold 1-99 structures, got 0"),
     (lambda: CompoundMessage((Din("A9999", "21", "123456"),) * 100), "got 100"),
     (lambda: CompoundMessage(("=A99992112345600",)), "structure 1 must be a data structure"),
     (lambda: CompoundMessage((CompoundMessage((Din("A9999", "21", "123456"),)),)),
      "cannot hold another"),
     (lambda: CompoundMessage((Din("A9999", "21", "123456"),), "00"), "sequence code '00'"),
     (lambda: CompoundMessage("=A99992112345600"), "must be a tuple")],
)  # fmt: skip
def test_compound_message_constructor_errors(build, says):
    with pytest.raises(ValueError, match=says):
        build()


# --- parse -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scan", "says"),
    [("", "empty scan"), ("  \r\n", "empty scan"),
     ("=Q123", "DIN: expected 15 characters after '=', got 4"),
     ("=A99992112345", "DIN: expected 15 characters after '=', got 12"),
     ("=O99992112345600", "unknown data identifier '=O'"),
     ("=0999921123456", "unknown data identifier '=0'"),
     ("&Q1234", "unknown data identifier '&Q'"),
     ("&,3" + "0" * 18, "unknown data identifier '&,3'"),
     ("&a1234", "national or local data identifier '&a' is not supported"),
     ("=", "incomplete data identifier '='"),
     ("A99992112345600", "expected a data identifier \\('=' or '&'\\) at position 1, got 'A'"),
     ("=G12341765432171", "bad check character"),
     ("=<S1234200", "product code: collection type '2'")],
)  # fmt: skip
def test_parse_errors_say_what_is_wrong(scan, says):
    with pytest.raises(ValueError, match=says):
        parse(scan)


def test_parse_strips_keyboard_wedge_enter_and_spaces():
    assert parse("  =A99992112345600\r\n") == Din("A9999", "21", "123456")
    assert Din.parse("=A99992112345600\n") == Din("A9999", "21", "123456")


def test_structure_parse_refuses_another_identifier():
    with pytest.raises(ValueError, match="product code: expected data identifier '=<', got '=>'"):
        ProductCode.parse("=>019031")


def test_parse_refuses_non_text():
    with pytest.raises(ValueError, match="scan must be text"):
        parse(b"=A99992112345600")  # type: ignore[arg-type]


def test_standards_modules_import_no_django():
    for name in ("iso7064.py", "isbt128.py", "sec.py"):
        tree = ast.parse((SRC / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "django" for a in node.names), name
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "django", name


# --- hypothesis -----------------------------------------------------------------------------

_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
_MIDDLE = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"
_fins = st.builds(
    lambda *cs: "".join(cs),
    st.sampled_from(_FIRST),
    st.sampled_from(_MIDDLE),
    st.sampled_from(_MIDDLE),
    st.sampled_from(string.digits),
    st.sampled_from(string.digits),
)
_digits = lambda n: st.text(alphabet=string.digits, min_size=n, max_size=n)  # noqa: E731


@st.composite
def _dins(draw: st.DrawFn) -> Din:
    din = Din(draw(_fins), draw(_digits(2)), draw(_digits(6)))
    flags = draw(st.one_of(st.integers(0, 59).map(lambda n: f"{n:02d}"), st.just("type3")))
    return Din(din.fin, din.year, din.sequence, din.type3_flag if flags == "type3" else flags)


_product_codes = st.builds(
    ProductCode,
    st.builds(lambda d: "S" + d, _digits(4)),
    st.sampled_from(sorted(CELLULAR_THERAPY_COLLECTION_TYPES)),
    st.one_of(
        st.sampled_from(["00", "99"]),
        st.builds(
            lambda a, b: a + b,
            st.sampled_from(string.ascii_uppercase),
            st.sampled_from(string.ascii_lowercase),
        ),
    ),
)
_days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2999, 12, 31))
_minutes = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2999, 12, 31, 23, 59)
).map(lambda d: d.replace(second=0, microsecond=0))
_date_structures = st.one_of(
    st.builds(ExpirationDate, _days),
    st.builds(CollectionDate, _days),
    st.builds(ProductionDate, _days),
    st.builds(ExpirationDateTime, _minutes),
    st.builds(CollectionDateTime, _minutes),
    st.builds(ProductionDateTime, _minutes),
)
_locations = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=2, max_size=2)
_births = st.builds(PatientDateOfBirth, _locations, st.dates())
_cois = st.builds(ChainOfIdentityIdentifier, _fins, _digits(2), _digits(6))
_pins = st.builds(
    PatientIdentificationNumber,
    _locations,
    st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], min_size=1, max_size=99).filter(
        lambda v: v == v.strip()
    ),
)
_simple_structures = st.one_of(_dins(), _product_codes, _date_structures, _births, _cois, _pins)
_compounds = st.builds(
    CompoundMessage,
    st.lists(_simple_structures, min_size=1, max_size=8).map(tuple),
    _digits(3),
)


@given(st.one_of(_simple_structures, _compounds))
def test_build_barcode_text_parse_round_trips(structure):
    text = structure.barcode_text
    parsed = parse(text)
    assert parsed == structure
    assert type(parsed) is type(structure)
    assert parsed.barcode_text == text
    assert type(structure).parse(text) == structure


@given(_dins())
def test_din_check_character_and_type3_flag_agree(din):
    assert din.check_character == CHARSET[din.check_value] == mod37_2(din.din)
    assert int(din.type3_flag) == 60 + din.check_value
    assert parse_keyed_din(f"{din.eye_readable} {din.check_character}").din == din.din


@given(_dins(), st.integers(60, 96))
def test_only_the_matching_type3_flag_is_accepted(din, flag):
    if str(flag) == din.type3_flag:
        assert Din(din.fin, din.year, din.sequence, str(flag)).flags == str(flag)
    else:
        with pytest.raises(ValueError, match="bad check character"):
            Din(din.fin, din.year, din.sequence, str(flag))


@given(_cois)
def test_coi_keyed_with_its_check_character(coi):
    assert parse_coi(coi.text + coi.check_character) == coi
    assert parse_coi(coi.eye_readable) == coi
    wrong = next(c for c in CHARSET if c != coi.check_character)
    with pytest.raises(ValueError, match=f"check character {wrong} is wrong"):
        parse_coi(coi.text + wrong)


_scan_alphabet = "=&<>*}),;'+#(/%:0123456789ASCHXYZaz .-\r\n\t*"


@given(
    st.one_of(
        st.text(),
        st.text(alphabet=_scan_alphabet, max_size=60),
        st.sampled_from(["=", "&", "=+", "&#", "&,"]).flatmap(
            lambda head: st.text(alphabet=_scan_alphabet, max_size=60).map(lambda t: head + t)
        ),
    )
)
def test_parse_of_any_text_raises_only_value_error(text):
    try:
        result = parse(text)
    except ValueError as error:
        assert str(error)
    else:
        assert isinstance(result, Structure)
        assert result.barcode_text == text.strip()


@given(st.one_of(_simple_structures, _compounds), st.data())
def test_one_character_changed_in_a_valid_scan_never_crashes(structure, data):
    text = structure.barcode_text
    position = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters(exclude_categories=["Cs"]))
    assume(char != text[position])
    altered = text[:position] + char + text[position + 1 :]
    try:
        result = parse(altered)
    except ValueError:
        return
    assert isinstance(result, Structure)


def test_sec_structure_wraps_the_sec_module():
    sec = SingleEuropeanCode.parse("PL001499Z549917123456A00T041600320181231")
    structure = SingleEuropeanCodeStructure(sec)
    assert structure.barcode_text == "&,4PL001499Z549917123456A00T041600320181231"
    assert parse(structure.barcode_text) == structure
    with pytest.raises(ValueError, match="sec must be a SingleEuropeanCode"):
        SingleEuropeanCodeStructure("PL001499Z549917123456A00T041600320181231")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SEC: country 'XX'"):
        parse("&,4XX001499Z549917123456A00T041600320181231")


def test_a_wrong_check_character_is_its_own_kind_of_error() -> None:
    """Callers tell a misread identifier (a deviation) from text that is not one (a 400)."""
    with pytest.raises(isbt128.CheckCharacterError, match="check character 4 is wrong"):
        isbt128.parse_keyed_din("A9999 21 123456 4")
    with pytest.raises(isbt128.CheckCharacterError, match="Type 3 flag 71"):
        isbt128.parse("=G12341765432171")
    with pytest.raises(isbt128.CheckCharacterError):
        isbt128.parse_coi("CHB234526000001A")
    with pytest.raises(isbt128.CheckCharacterError, match="compound message structure 1"):
        isbt128.parse("=+02000=G12341765432171&/CHB234526000001")
    with pytest.raises(ValueError) as not_a_check:
        isbt128.parse("=A99992112345")
    assert not isinstance(not_a_check.value, isbt128.CheckCharacterError)

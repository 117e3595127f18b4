"""Flow cytometry through FlowKit (issue 12): every gate count of the Gating-ML 2.0 compliance
set (../shared/data/flow/gating_ml/expected_gate_counts.csv) reproduced exactly; FCS 2.0, 3.0
and 3.1 read as ../shared/data/flow/expected_fcs_parsing.json says; the non-compliant files and
every other bad input refused with FlowFileError naming the field (never a 500)."""

from __future__ import annotations

import csv
import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vein2vein.core.errors import DomainError
from vein2vein.qc.instruments import flow
from vein2vein.qc.instruments.flow import (
    FcsSummary,
    FlowFileError,
    GateCount,
    check_gating_ml,
    dot_plot_png,
    gate_and_plot,
    gate_fcs,
    read_fcs,
)

# Copies of ../shared/data (tests/data/README.md): the tests run wherever the repo is.
SHARED = Path(__file__).resolve().parents[1] / "data" / "flow"
GATING = SHARED / "gating_ml"


def _rows() -> list[dict[str, str]]:
    with (GATING / "expected_gate_counts.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


ROWS = _rows()
EXPECTED_FCS: dict[str, dict[str, object]] = json.loads(
    (SHARED / "expected_fcs_parsing.json").read_text(encoding="utf-8")
)
COMPLIANT = [name for name in EXPECTED_FCS if name.endswith(".fcs") and "noncompliant" not in name]
NONCOMPLIANT = [name for name in EXPECTED_FCS if "noncompliant" in name]


@cache
def _fcs(name: str = "gating_ml/data1.fcs") -> bytes:
    return (SHARED / name).read_bytes()


@cache
def _gml(name: str) -> bytes:
    return (GATING / "gml" / name).read_bytes()


@cache
def _gated(gml_name: str) -> dict[str, GateCount]:
    return gate_fcs(_fcs(), _gml(gml_name))


def _hundredths(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- gate counts


def test_the_compliance_set_is_all_there() -> None:
    assert len(ROWS) == 37
    assert {row["gml_file_used_in_flowkit_test"] for row in ROWS} <= {
        path.name for path in (GATING / "gml").glob("*.xml")
    }


@pytest.mark.parametrize("row", ROWS, ids=[row["gate_id_to_evaluate"] for row in ROWS])
def test_each_gate_count_is_reproduced_exactly(row: dict[str, str]) -> None:
    counts = _gated(row["gml_file_used_in_flowkit_test"])
    result = counts[row["gate_id_to_evaluate"]]
    assert result.count == int(row["events_in_gate"])
    assert result.percent_of_total == _hundredths(row["percent_of_total"])
    assert int(row["total_events"]) == 13367


@pytest.mark.parametrize("row", ROWS[:5], ids=[row["truth_file"] for row in ROWS[:5]])
def test_the_count_is_the_truth_files_count(row: dict[str, str]) -> None:
    """The expected counts are the per-event truth files summed (1 = in gate)."""
    truth = (GATING / "truth" / row["truth_file"]).read_text().split()
    assert sum(int(value) for value in truth) == int(row["events_in_gate"])
    assert len(truth) == int(row["total_events"])


def test_a_child_gate_counts_against_its_parent() -> None:
    counts = _gated("gml_parent_quadrant_rect_gate.xml")
    child = counts["ParRectangle1"]
    assert child.parent == "FL2P-FL4P"
    assert counts["FL2P-FL4P"].count == 620
    assert (child.count, child.percent_of_parent, child.percent_of_total) == (
        3,
        Decimal("0.48"),  # 3 / 620
        Decimal("0.02"),  # 3 / 13367
    )


def test_root_gates_and_quadrants_have_no_parent() -> None:
    quadrants = _gated("gml_quadrant1_gate.xml")
    assert set(quadrants) == {"FL2N-FL4N", "FL2N-FL4P", "FL2P-FL4N", "FL2P-FL4P"}
    assert {count.parent for count in quadrants.values()} == {None}
    assert sum(count.count for count in quadrants.values()) == 13367
    assert quadrants["FL2P-FL4N"].percent_of_parent == Decimal("55.07")
    boolean = _gated("gml_parent_range1_boolean_and3_gate.xml")
    assert boolean["ParAnd3"].parent == "Range1"
    assert boolean["ParAnd3"].percent_of_parent == Decimal("27.27")  # 120 / 440


@pytest.mark.parametrize("gml_name", sorted({row["gml_file_used_in_flowkit_test"] for row in ROWS}))
def test_check_gating_ml_lists_the_gates_that_gate_fcs_counts(gml_name: str) -> None:
    ids = check_gating_ml(_gml(gml_name))
    assert sorted(ids) == sorted(_gated(gml_name))
    assert len(ids) == len(set(ids))


def test_gate_counts_serialize_with_exact_percentages() -> None:
    as_json = _gated("gml_rect1_gate.xml")["Rectangle1"].as_json()
    assert as_json == {
        "gate_id": "Rectangle1",
        "parent": None,
        "count": 252,
        "percent_of_parent": "1.89",
        "percent_of_total": "1.89",
    }


# ---------------------------------------------------------------- reading FCS


@pytest.mark.parametrize("name", COMPLIANT)
def test_each_compliant_fcs_file_reads_as_expected(name: str) -> None:
    expected = EXPECTED_FCS[name]
    summary = read_fcs(_fcs(name))
    assert isinstance(summary, FcsSummary)
    assert summary.version == expected["version"]
    assert summary.cytometer == expected["$CYT"]
    assert summary.event_count == expected["$TOT"]
    assert len(summary.channels) == len(summary.markers) == expected["$PAR"]
    if "$DATATYPE" in expected:
        assert summary.data_type == expected["$DATATYPE"]
    assert summary.sha256 == hashlib.sha256(_fcs(name)).hexdigest()


def test_fcs_2_0_3_0_and_3_1_are_all_covered() -> None:
    versions = {read_fcs(_fcs(name)).version for name in COMPLIANT}
    assert versions == {"FCS2.0", "FCS3.0", "FCS3.1"}


def test_variable_integer_widths_give_the_published_events() -> None:
    expected = EXPECTED_FCS["fcs/variable_int_example.fcs"]["events_flat"]
    data = flow._flow_data(_fcs("fcs/variable_int_example.fcs"))
    assert [int(value) for value in data.events] == expected


def test_float_data_of_the_attune_parses() -> None:
    summary = read_fcs(_fcs("fcs/G11.fcs"))
    assert (summary.data_type, summary.event_count, summary.channels[0]) == ("F", 5785, "Time")
    assert "GFP-A" in summary.markers


@pytest.mark.parametrize("name", NONCOMPLIANT)
def test_noncompliant_fcs_files_are_refused_with_the_reason(name: str) -> None:
    where = "start" if "start" in name else "end"
    for call in (
        lambda: read_fcs(_fcs(name)),
        lambda: gate_fcs(_fcs(name), _gml("gml_rect1_gate.xml")),
    ):
        with pytest.raises(FlowFileError) as caught:
            call()
        error = caught.value
        assert error.field == "fcs"
        assert 400 <= error.status_code < 500
        assert "HEADER" in error.message and "TEXT" in error.message
        assert f"DATA {where} byte location" in error.message
        assert "InMemoryFile" not in error.message


def _refused(call, field: str) -> FlowFileError:  # type: ignore[no-untyped-def]
    with pytest.raises(FlowFileError) as caught:
        call()
    error = caught.value
    assert isinstance(error, DomainError)
    assert error.field == field
    assert 400 <= error.status_code < 500
    assert error.message
    return error


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"hello, this is a text file and not an FCS file at all, really" * 2, "not an FCS"),
        (b"FCS1.0" + b" " * 100, "FCS version '1.0' is not supported"),
        (b"FCS3.2" + b" " * 100, "FCS version '3.2' is not supported"),
    ],
)
def test_what_is_not_an_fcs_2_or_3_file_is_refused(content: bytes, words: str) -> None:
    error = _refused(lambda: read_fcs(content), "fcs")
    assert words in error.message


def test_a_truncated_fcs_file_is_refused() -> None:
    content = _fcs()
    error = _refused(lambda: read_fcs(content[: len(content) // 2]), "fcs")
    assert "non-compliant FCS file" in error.message


def test_a_corrupt_header_is_refused() -> None:
    content = bytearray(_fcs())
    content[10:18] = b"  abcdef"  # the TEXT start offset
    _refused(lambda: read_fcs(bytes(content)), "fcs")


def test_a_missing_required_keyword_is_refused() -> None:
    content = _fcs().replace(b"$TOT", b"$XOT", 1)
    error = _refused(lambda: read_fcs(content), "fcs")
    assert "$TOT" in error.message


@pytest.mark.parametrize(
    ("keyword", "value", "words"),
    [
        (b"$DATATYPE", b"A", "FCS $DATATYPE A is not supported"),
        (b"$DATATYPE", b"X", "FCS $DATATYPE X is not supported"),
        (b"$MODE", b"C", "FCS $MODE C (histogram data) is not supported"),
    ],
)
def test_ascii_data_and_histograms_are_refused_by_name(
    keyword: bytes, value: bytes, words: str
) -> None:
    content = _fcs()
    delimiter = content[content.index(b"$TOT") - 1 : content.index(b"$TOT")]
    start = content.index(delimiter + keyword + delimiter) + len(keyword) + 2
    changed = content[:start] + value + content[start + 1 :]
    for call in (lambda: read_fcs(changed), lambda: gate_fcs(changed, _gml("gml_rect1_gate.xml"))):
        error = _refused(call, "fcs")
        assert words in error.message


SMALL_FCS = SHARED / "fcs" / "variable_int_example.fcs"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2047), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
    cut=st.one_of(st.none(), st.integers(min_value=58, max_value=6188)),
)
def test_mangled_fcs_bytes_give_a_refusal_or_a_summary_never_another_error(
    edits: list[tuple[int, int]], cut: int | None
) -> None:
    """Bytes changed in the HEADER and TEXT (and the file cut short): whatever flowio makes of
    them, read_fcs answers a summary or a FlowFileError naming "fcs"."""
    content = bytearray(SMALL_FCS.read_bytes())
    for offset, value in edits:
        content[offset] = value
    data = bytes(content[:cut])
    try:
        summary = read_fcs(data)
    except FlowFileError as error:
        assert error.field == "fcs"
        assert error.message
    else:
        assert summary.event_count >= 0


@settings(max_examples=60, deadline=None)
@given(junk=st.binary(max_size=300), at=st.integers(min_value=0, max_value=2000))
def test_mangled_gating_ml_gives_a_refusal_never_another_error(junk: bytes, at: int) -> None:
    original = (GATING / "gml" / "gml_quadrant1_gate.xml").read_bytes()
    mangled = original[:at] + junk + original[at + len(junk) :]
    try:
        check_gating_ml(mangled)
    except FlowFileError as error:
        assert error.field == "gating_ml"


# ---------------------------------------------------------------- Gating-ML refusals


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<gating", "not well-formed XML"),
        (b"<root><child/></root>", "not a usable Gating-ML 2.0 strategy"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "Gating-ML 2.0"),
    ],
)
def test_bad_gating_ml_is_refused(content: bytes, words: str) -> None:
    error = _refused(lambda: check_gating_ml(content), "gating_ml")
    assert words in error.message


def test_a_dtd_or_entity_is_refused_before_flowkit_parses() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE g [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating">'
        b"&x;</gating:Gating-ML>"
    )
    error = _refused(lambda: check_gating_ml(xxe), "gating_ml")
    assert "DTD" in error.message
    assert "root:" not in error.message


def test_a_strategy_on_channels_the_file_lacks_is_refused_naming_them() -> None:
    error = _refused(
        lambda: gate_fcs(_fcs("fcs/G11.fcs"), _gml("gml_quadrant1_gate.xml")), "gating_ml"
    )
    assert "FL2-H, FL4-H" in error.message
    assert "BL1-A" in error.message  # the file's channels, so the analyst sees the mismatch


def test_a_gating_ml_upload_in_place_of_the_fcs_is_refused() -> None:
    _refused(lambda: gate_fcs(_gml("gml_rect1_gate.xml"), _gml("gml_rect1_gate.xml")), "fcs")


def test_a_strategy_without_gates_is_refused() -> None:
    empty = (
        b'<?xml version="1.0"?>'
        b'<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"/>'
    )
    _refused(lambda: check_gating_ml(empty), "gating_ml")


# ---------------------------------------------------------------- dot plot


@pytest.mark.parametrize(
    ("gml_name", "gate_id"),
    [
        ("gml_quadrant1_gate.xml", None),
        ("gml_quadrant1_gate.xml", "FL2P-FL4N"),
        ("gml_ellipse1_gate.xml", None),
        ("gml_poly3ns_gate.xml", None),
        ("gml_parent_quadrant_rect_gate.xml", "ParRectangle1"),
        ("gml_boolean_and1_gate.xml", "And1"),
        ("gml_range_gate.xml", None),  # one dimension: a histogram
        ("gml_ratio_range1_gate.xml", None),
        ("gml_matrix_transform_logicle_rect1_gate.xml", None),
    ],
)
def test_the_dot_plot_is_a_png(gml_name: str, gate_id: str | None) -> None:
    png = dot_plot_png(_fcs(), _gml(gml_name), gate_id=gate_id)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 5_000 < len(png) < 500_000


def test_the_dot_plot_of_an_unknown_gate_is_refused() -> None:
    error = _refused(
        lambda: dot_plot_png(_fcs(), _gml("gml_rect1_gate.xml"), gate_id="Nope"), "gate_id"
    )
    assert "Rectangle1" in error.message


def test_gate_and_plot_gives_both_from_one_gating() -> None:
    counts, png = gate_and_plot(_fcs(), _gml("gml_ellipse1_gate.xml"), gate_id="Ellipse1")
    assert counts == _gated("gml_ellipse1_gate.xml")
    assert png.startswith(b"\x89PNG")

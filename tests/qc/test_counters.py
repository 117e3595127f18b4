"""Cell-counter import through allotropy (issue 12): every row of
../shared/data/cell_counters/expected_cell_counts.csv reproduced, the UTF-16 Vi-CELL BLU export
included, and every bad input refused with InstrumentFileError naming the field (never a 500)."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from vein2vein.core.errors import DomainError
from vein2vein.qc.instruments.counters import (
    COUNTER_INSTRUMENTS,
    MAX_FILE_BYTES,
    CounterSample,
    InstrumentFileError,
    detect_encoding,
    parse_counter_file,
)

# Copies of ../shared/data (tests/data/README.md): the tests run wherever the repo is.
SHARED = Path(__file__).resolve().parents[1] / "data" / "cell_counters"
INSTRUMENT_BY_FOLDER = {"vi_cell_blu": "BECKMAN_VI_CELL_BLU", "nucleoview": "CHEMOMETEC_NUCLEOVIEW"}


def _expected_rows() -> list[dict[str, str]]:
    with (SHARED / "expected_cell_counts.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


ROWS = _expected_rows()


@cache
def _parsed(input_file: str) -> dict[str, CounterSample]:
    path = SHARED / input_file
    instrument = INSTRUMENT_BY_FOLDER[input_file.split("/")[0]]
    samples = parse_counter_file(path.read_bytes(), instrument=instrument, filename=path.name)
    by_id = {sample.sample_id: sample for sample in samples}
    assert len(by_id) == len(samples), "sample ids repeat within one file"
    return by_id


def _quantity(text: str, unit: str) -> Decimal | None:
    """'0.75 10^6 cells/mL' -> Decimal in the platform's unit; '' -> None."""
    if not text:
        return None
    value, _, given_unit = text.partition(" ")
    if given_unit == "10^6 cells/mL":
        return Decimal(value) * 10**6
    assert given_unit == unit, text
    return Decimal(value)


def _count(text: str) -> int | None:
    if not text:
        return None
    value, _, unit = text.partition(" ")
    assert unit == "cell", text
    return int(value)


def test_the_expected_file_lists_every_shared_export() -> None:
    files = {row["input_file"] for row in ROWS}
    on_disk = {
        f"{path.parent.name}/{path.name}"
        for path in SHARED.glob("*/*")
        if path.suffix.lower() == ".csv"
    }
    assert files == on_disk
    assert len(ROWS) == 30


@pytest.mark.parametrize(
    "row", ROWS, ids=[f"{row['input_file']}:{row['sample_identifier']}" for row in ROWS]
)
def test_each_expected_row_is_reproduced(row: dict[str, str]) -> None:
    sample = _parsed(row["input_file"])[row["sample_identifier"]]
    assert sample.viable_density_per_ml == _quantity(
        row["viable cell density (cell counter)"], "cells/mL"
    )
    assert sample.total_density_per_ml == _quantity(
        row["total cell density (cell counter)"], "cells/mL"
    )
    assert sample.dead_density_per_ml == _quantity(
        row["dead cell density (cell counter)"], "cells/mL"
    )
    assert sample.viability_percent == _quantity(row["viability (cell counter)"], "%")
    assert sample.mean_diameter_um == _quantity(row["average total cell diameter"], "µm")
    assert sample.total_cell_count == _count(row["total cell count"])
    assert sample.viable_cell_count == _count(row["viable cell count"])
    assert sample.measured_at == datetime.fromisoformat(row["measurement_time"])


def test_every_file_gives_exactly_the_expected_samples() -> None:
    expected: dict[str, list[str]] = {}
    for row in ROWS:
        expected.setdefault(row["input_file"], []).append(row["sample_identifier"])
    for input_file, sample_ids in expected.items():
        assert list(_parsed(input_file)) == sample_ids, input_file


def test_densities_are_exact_decimals_in_cells_per_ml() -> None:
    sample = _parsed("vi_cell_blu/Beckman_Vi-Cell-BLU_example01.csv")["CLB001"]
    assert sample.viable_density_per_ml == Decimal("750000")
    assert str(sample.viable_density_per_ml) == "750000"  # not 749999.99... from the float
    assert str(sample.viability_percent) == "96.9"
    assert str(sample.mean_viable_diameter_um) == "18.72"  # "Average viable diameter (μm)"
    nucleoview = _parsed("nucleoview/chemometec_nucleoview_example03.csv")["cellsABCD"]
    assert str(nucleoview.dead_density_per_ml) == "74600"


def test_the_utf16_export_needs_its_bom_detected() -> None:
    """allotropy alone refuses the UTF-16 Vi-CELL BLU export (it assumes UTF-8); with the
    encoding read from the byte-order mark it gives the same samples as the UTF-8 export."""
    from allotropy.exceptions import AllotropyError
    from allotropy.to_allotrope import allotrope_from_io

    path = SHARED / "vi_cell_blu" / "Beckman_Vi-Cell-BLU_example01_utf16.csv"
    content = path.read_bytes()
    assert content.startswith(codecs.BOM_UTF16_BE) or content.startswith(codecs.BOM_UTF16_LE)
    with pytest.raises((AllotropyError, UnicodeError)):
        allotrope_from_io(io.BytesIO(content), path.name, "BECKMAN_VI_CELL_BLU")
    utf16 = _parsed("vi_cell_blu/Beckman_Vi-Cell-BLU_example01_utf16.csv")
    utf8 = _parsed("vi_cell_blu/Beckman_Vi-Cell-BLU_example01.csv")
    assert list(utf16) == list(utf8)
    assert utf16["CLB002"] == utf8["CLB002"]


@pytest.mark.parametrize(
    ("prefix", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (b"Sample ID,", None),
    ],
)
def test_the_encoding_is_read_from_the_byte_order_mark(prefix: bytes, encoding: str) -> None:
    assert detect_encoding(prefix + b"x\x00y\x00") == encoding


def test_a_utf8_bom_export_imports_too() -> None:
    text = (SHARED / "vi_cell_blu" / "Beckman_Vi-Cell-BLU_example02.csv").read_bytes()
    samples = parse_counter_file(
        codecs.BOM_UTF8 + text, instrument="BECKMAN_VI_CELL_BLU", filename="export.csv"
    )
    assert [sample.sample_id for sample in samples][:2] == ["CLB001", "CLB002"]


def test_the_counters_are_every_allotropy_cell_counting_parser() -> None:
    """A new cell counter in a later allotropy shows up here, not as a silent omission."""
    from allotropy.parser_factory import Vendor

    counting = {vendor.value for vendor in Vendor if vendor.technique == "Cell Counting"}
    assert set(COUNTER_INSTRUMENTS) == counting
    for name in ("BECKMAN_VI_CELL_BLU", "BECKMAN_VI_CELL_XR", "CHEMOMETEC_NUCLEOVIEW"):
        assert name in COUNTER_INSTRUMENTS
    assert {"CHEMOMETEC_NC_VIEW", "ROCHE_CEDEX_HIRES"} <= set(COUNTER_INSTRUMENTS)


def _refusal(content: bytes, instrument: str, filename: str) -> InstrumentFileError:
    with pytest.raises(InstrumentFileError) as caught:
        parse_counter_file(content, instrument=instrument, filename=filename)
    error = caught.value
    assert isinstance(error, DomainError)
    assert 400 <= error.status_code < 500
    assert error.message
    return error


def test_an_unknown_instrument_is_refused_naming_the_instrument() -> None:
    error = _refusal(b"Sample ID\nA\n", "BECKMAN_VI_CELL_PURPLE", "export.csv")
    assert error.field == "instrument"
    assert "BECKMAN_VI_CELL_PURPLE" in error.message
    assert "BECKMAN_VI_CELL_BLU" in error.message  # says what is accepted


def test_a_non_counter_allotropy_parser_is_not_offered() -> None:
    assert _refusal(b"x", "AGILENT_GEN5", "plate.txt").field == "instrument"


def test_an_empty_file_is_refused() -> None:
    error = _refusal(b"", "BECKMAN_VI_CELL_BLU", "export.csv")
    assert (error.field, error.message) == ("file", "the file is empty")


def test_an_oversized_file_is_refused_before_parsing() -> None:
    error = _refusal(b"x" * (MAX_FILE_BYTES + 1), "BECKMAN_VI_CELL_BLU", "export.csv")
    assert error.field == "file"
    assert "larger than" in error.message


def test_another_counters_export_is_refused_with_allotropys_reason() -> None:
    content = (SHARED / "nucleoview" / "chemometec_nucleoview_example01.csv").read_bytes()
    error = _refusal(content, "BECKMAN_VI_CELL_BLU", "chemometec_nucleoview_example01.csv")
    assert error.field == "file"
    assert "chemometec_nucleoview_example01.csv is not a readable BECKMAN_VI_CELL_BLU" in (
        error.message
    )


def test_a_wrong_extension_is_refused() -> None:
    content = (SHARED / "vi_cell_blu" / "Beckman_Vi-Cell-BLU_example01.csv").read_bytes()
    error = _refusal(content, "BECKMAN_VI_CELL_BLU", "export.pdf")
    assert error.field == "file"
    assert "extension" in error.message


def test_the_path_of_the_filename_is_not_echoed() -> None:
    error = _refusal(b"garbage", "BECKMAN_VI_CELL_BLU", "C:\\Users\\lab\\secret\\export.csv")
    assert "secret" not in error.message
    assert "export.csv" in error.message


EXTENSIONS = {
    "BECKMAN_VI_CELL_BLU": "csv",
    "BECKMAN_VI_CELL_XR": "xlsx",
    "CHEMOMETEC_NC_VIEW": "csv",
    "CHEMOMETEC_NUCLEOVIEW": "csv",
    "REVVITY_MATRIX": "csv",
    "ROCHE_CEDEX_HIRES": "csv",
}
GARBAGE = {
    "binary": bytes(range(256)) * 8,
    "text": b"Sample ID,Viability\nA,not a number\n",
    "utf16 without data": codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le"),
}


@pytest.mark.parametrize("instrument", COUNTER_INSTRUMENTS)
@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_is_refused_by_every_counter(instrument: str, kind: str) -> None:
    """Whatever the parser raises on bad bytes becomes InstrumentFileError(field="file")."""
    error = _refusal(GARBAGE[kind], instrument, f"export.{EXTENSIONS[instrument]}")
    assert error.field == "file"
    assert "export." in error.message
    assert "Traceback" not in error.message


def test_every_counter_takes_its_own_extension() -> None:
    from allotropy.parser_factory import Vendor

    for instrument, extension in EXTENSIONS.items():
        assert extension in Vendor(instrument).supported_extensions

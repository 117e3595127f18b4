"""Cell-counter exports read with allotropy into the Allotrope Simple Model (cell counting).

allotropy does the parsing; this module only picks the instrument, detects a byte-order mark
(allotropy assumes UTF-8 unless told, and refuses the UTF-16 Vi-CELL BLU export otherwise) and
reads the ASM document's cell-counting fields into `CounterSample`s in cells/mL, %, µm.
"""

from __future__ import annotations

import codecs
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import PureWindowsPath
from typing import Any

from allotropy.exceptions import AllotropyError
from allotropy.to_allotrope import allotrope_from_io

from vein2vein.core.errors import DomainError

# allotropy's Vendor keys whose technique is cell counting (the ASM cell-counting manifest).
# tests/qc/test_counters.py checks this against allotropy's own list, so a new counter in a
# later allotropy shows up as a failing test rather than silently missing.
COUNTER_INSTRUMENTS: tuple[str, ...] = (
    "BECKMAN_VI_CELL_BLU",
    "BECKMAN_VI_CELL_XR",
    "CHEMOMETEC_NC_VIEW",
    "CHEMOMETEC_NUCLEOVIEW",
    "REVVITY_MATRIX",
    "ROCHE_CEDEX_HIRES",
)

# Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# ASM cell-counting density units -> cells/mL multiplier.
_DENSITY_UNITS: dict[str, Decimal] = {
    "10^6 cells/mL": Decimal(10) ** 6,
    "cells/mL": Decimal(1),
    "cell/mL": Decimal(1),
}
_PERCENT_UNITS = frozenset({"%"})
_DIAMETER_UNITS = frozenset({"µm", "μm", "um"})  # micro sign, Greek mu, ASCII
_COUNT_UNITS = frozenset({"cell", "cells", "#", "(unitless)"})

MAX_FILE_BYTES = 20 * 1024 * 1024


class InstrumentFileError(DomainError):
    """An instrument file (or the instrument named for it) that cannot be imported."""

    status_code = 400


@dataclass(frozen=True)
class CounterSample:
    """One measurement of an export, in the platform's units."""

    sample_id: str
    viable_density_per_ml: Decimal | None  # cells/mL
    total_density_per_ml: Decimal | None  # cells/mL
    viability_percent: Decimal | None  # %
    mean_diameter_um: Decimal | None  # µm, average diameter of all cells
    measured_at: datetime | None
    dead_density_per_ml: Decimal | None = None  # cells/mL
    total_cell_count: int | None = None  # cells counted
    viable_cell_count: int | None = None
    # µm, average diameter of the viable cells (the only diameter some counters, e.g. the
    # Cedex HiRes, report: allotropy maps it here, never to the mean of all cells)
    mean_viable_diameter_um: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: Decimals as strings (no binary rounding), the time in ISO 8601."""
        return {
            "sample_id": self.sample_id,
            "viable_density_per_ml": _text(self.viable_density_per_ml),
            "total_density_per_ml": _text(self.total_density_per_ml),
            "dead_density_per_ml": _text(self.dead_density_per_ml),
            "viability_percent": _text(self.viability_percent),
            "mean_diameter_um": _text(self.mean_diameter_um),
            "mean_viable_diameter_um": _text(self.mean_viable_diameter_um),
            "total_cell_count": self.total_cell_count,
            "viable_cell_count": self.viable_cell_count,
            "measured_at": self.measured_at.isoformat() if self.measured_at else None,
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def detect_encoding(content: bytes) -> str | None:
    """The text encoding a byte-order mark declares, or None (allotropy then assumes UTF-8)."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return encoding
    return None


def parse_counter_file(content: bytes, *, instrument: str, filename: str) -> list[CounterSample]:
    """Every sample of a cell-counter export, parsed by allotropy's parser for `instrument`.

    `filename` is the uploaded name: allotropy checks its extension (and some parsers read it).
    Unknown instrument -> InstrumentFileError(field="instrument"); an empty, oversized or
    unreadable file -> InstrumentFileError(field="file").
    """
    if instrument not in COUNTER_INSTRUMENTS:
        raise InstrumentFileError(
            f"unknown cell counter {instrument!r}; one of: {', '.join(COUNTER_INSTRUMENTS)}",
            field="instrument",
        )
    if not content:
        raise InstrumentFileError("the file is empty", field="file")
    if len(content) > MAX_FILE_BYTES:
        raise InstrumentFileError(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", field="file"
        )
    name = PureWindowsPath(filename or "upload").name
    try:
        with warnings.catch_warnings():  # pandas/dateutil warnings on odd rows: not ours to log
            warnings.simplefilter("ignore")
            document = allotrope_from_io(
                io.BytesIO(content), name, instrument, encoding=detect_encoding(content)
            )
    except AllotropyError as exc:
        raise InstrumentFileError(
            f"{name} is not a readable {instrument} export: {_short(exc)}", field="file"
        ) from None
    except Exception as exc:  # a third-party parser on untrusted bytes: a refusal, never a 500
        raise InstrumentFileError(
            f"{name} is not a readable {instrument} export ({type(exc).__name__}: {_short(exc)})",
            field="file",
        ) from None
    samples = _samples(document, name)
    if not samples:
        raise InstrumentFileError(f"{name} holds no measurement", field="file")
    return samples


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _samples(document: dict[str, Any], name: str) -> list[CounterSample]:
    aggregate = document.get("cell counting aggregate document") or {}
    samples: list[CounterSample] = []
    for counting in aggregate.get("cell counting document") or []:
        measurements = (counting.get("measurement aggregate document") or {}).get(
            "measurement document"
        ) or []
        for measurement in measurements:
            samples.append(_sample(measurement, name))
    return samples


def _sample(measurement: dict[str, Any], name: str) -> CounterSample:
    sample_id = str((measurement.get("sample document") or {}).get("sample identifier") or "")
    processed = (measurement.get("processed data aggregate document") or {}).get(
        "processed data document"
    ) or [{}]
    data: dict[str, Any] = processed[0]
    where = f"{name}, sample {sample_id or '?'}"
    return CounterSample(
        sample_id=sample_id,
        viable_density_per_ml=_density(data.get("viable cell density (cell counter)"), where),
        total_density_per_ml=_density(data.get("total cell density (cell counter)"), where),
        viability_percent=_quantity(data.get("viability (cell counter)"), _PERCENT_UNITS, where),
        mean_diameter_um=_quantity(data.get("average total cell diameter"), _DIAMETER_UNITS, where),
        measured_at=_time(measurement.get("measurement time"), where),
        dead_density_per_ml=_density(data.get("dead cell density (cell counter)"), where),
        total_cell_count=_count(data.get("total cell count"), where),
        viable_cell_count=_count(data.get("viable cell count"), where),
        mean_viable_diameter_um=_quantity(
            data.get("average live cell diameter (cell counter)"), _DIAMETER_UNITS, where
        ),
    )


def _number(field: dict[str, Any], where: str) -> Decimal | None:
    value = field.get("value")
    if value is None or isinstance(value, bool):
        return None
    try:
        # str() first: 0.75 stays 0.75, not the binary float's 0.7500000000000000111...
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InstrumentFileError(f"{where}: {value!r} is not a number", field="file") from None
    return number if number.is_finite() else None


def _density(field: Any, where: str) -> Decimal | None:
    if not isinstance(field, dict):
        return None
    number = _number(field, where)
    if number is None:
        return None
    unit = str(field.get("unit"))
    factor = _DENSITY_UNITS.get(unit)
    if factor is None:
        raise InstrumentFileError(f"{where}: unexpected density unit {unit!r}", field="file")
    scaled = number * factor
    return scaled.quantize(Decimal(1)) if scaled == scaled.to_integral_value() else scaled


def _quantity(field: Any, units: frozenset[str], where: str) -> Decimal | None:
    if not isinstance(field, dict):
        return None
    unit = str(field.get("unit"))
    if unit not in units:
        raise InstrumentFileError(f"{where}: unexpected unit {unit!r}", field="file")
    return _number(field, where)


def _count(field: Any, where: str) -> int | None:
    if not isinstance(field, dict):
        return None
    number = _number(field, where)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise InstrumentFileError(f"{where}: cell count {number} is not whole", field="file")
    return int(number)


def _time(value: Any, where: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InstrumentFileError(
            f"{where}: measurement time {value!r} is not ISO 8601", field="file"
        ) from None

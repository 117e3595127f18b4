"""`vein2vein instruments list` and `vein2vein instruments parse FILE --instrument NAME`.

`list` prints the cell counters allotropy reads, one Vendor key a line (e.g. BECKMAN_VI_CELL_BLU).
`parse` prints the file's samples as JSON: sample id, viable and total density in cells/mL,
viability in %, mean diameter in µm (and the dead density, mean viable diameter, counts and
measurement time where the export has them). Reads only: nothing is written, so no audit event.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def number(value: Decimal | None) -> int | float | None:
    """A Decimal as a JSON number: whole values as integers (750000, not 750000.0)."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise CommandError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


class Command(BaseCommand):
    help = (
        "Instrument import. `list` prints the cell counters supported; "
        "`parse FILE --instrument NAME` prints the file's samples as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="the cell counters supported (allotropy Vendor keys)")
        parse = actions.add_parser("parse", help="parse a cell-counter export, print JSON")
        parse.add_argument("file", help="the instrument's export file")
        parse.add_argument(
            "--instrument", required=True, help="an instrument from `vein2vein instruments list`"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from vein2vein.qc.instruments.counters import (
            COUNTER_INSTRUMENTS,
            InstrumentFileError,
            parse_counter_file,
        )

        if options["action"] == "list":
            for name in COUNTER_INSTRUMENTS:
                self.stdout.write(name)
            return
        content = read_file(options["file"])
        try:
            samples = parse_counter_file(
                content, instrument=options["instrument"], filename=options["file"]
            )
        except InstrumentFileError as exc:
            raise CommandError(exc.message) from None
        rows = [
            {
                "sample_id": sample.sample_id,
                "viable_density_per_ml": number(sample.viable_density_per_ml),
                "total_density_per_ml": number(sample.total_density_per_ml),
                "viability_percent": number(sample.viability_percent),
                "mean_diameter_um": number(sample.mean_diameter_um),
                "mean_viable_diameter_um": number(sample.mean_viable_diameter_um),
                "dead_density_per_ml": number(sample.dead_density_per_ml),
                "total_cell_count": sample.total_cell_count,
                "viable_cell_count": sample.viable_cell_count,
                "measured_at": sample.measured_at.isoformat() if sample.measured_at else None,
            }
            for sample in samples
        ]
        self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))

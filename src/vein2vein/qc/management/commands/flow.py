"""`vein2vein flow gate --fcs FILE --gating-ml FILE`: {gate id: event count} as JSON.

Also `flow read --fcs FILE` (the FCS file's version, event count, channels as JSON) and
`flow plot --fcs FILE --gating-ml FILE --out PNG [--gate ID]` (the dot plot of one gate).
A non-compliant FCS file or a bad Gating-ML document exits non-zero with the reason on stderr.
Reads only (the plot writes the PNG named): no GMP record, no audit event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.qc.management.commands.instruments import read_file


class Command(BaseCommand):
    help = (
        "Flow cytometry. `gate --fcs FILE --gating-ml FILE` prints {gate id: event count}; "
        "`read --fcs FILE` prints the file's header; `plot ... --out PNG` draws a gate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        gate = actions.add_parser("gate", help="apply a Gating-ML 2.0 strategy, print counts")
        gate.add_argument("--fcs", required=True, help="FCS 2.0, 3.0 or 3.1 file")
        gate.add_argument("--gating-ml", required=True, help="Gating-ML 2.0 file")
        gate.add_argument(
            "--detail",
            action="store_true",
            help="print parent, count and percentages per gate instead of the count alone",
        )
        read = actions.add_parser("read", help="print the FCS file's version and channels")
        read.add_argument("--fcs", required=True, help="FCS 2.0, 3.0 or 3.1 file")
        plot = actions.add_parser("plot", help="write the dot plot of one gate as a PNG")
        plot.add_argument("--fcs", required=True, help="FCS 2.0, 3.0 or 3.1 file")
        plot.add_argument("--gating-ml", required=True, help="Gating-ML 2.0 file")
        plot.add_argument("--gate", default=None, help="gate id (default: the first 2-D gate)")
        plot.add_argument("--out", required=True, help="PNG file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        from vein2vein.qc.instruments.flow import FlowFileError, dot_plot_png, gate_fcs, read_fcs

        fcs = read_file(options["fcs"])
        try:
            if options["action"] == "read":
                output: Any = read_fcs(fcs).as_json()
            elif options["action"] == "gate":
                counts = gate_fcs(fcs, read_file(options["gating_ml"]))
                output = (
                    {gate_id: count.as_json() for gate_id, count in counts.items()}
                    if options["detail"]
                    else {gate_id: count.count for gate_id, count in counts.items()}
                )
            else:
                png = dot_plot_png(fcs, read_file(options["gating_ml"]), gate_id=options["gate"])
                try:
                    Path(options["out"]).write_bytes(png)
                except OSError as exc:
                    raise CommandError(
                        f"cannot write {options['out']}: {exc.strerror or exc}"
                    ) from None
                self.stdout.write(f"{options['out']}: {len(png)} bytes")
                return
        except FlowFileError as exc:
            where = {"fcs": options["fcs"], "gating_ml": options.get("gating_ml")}.get(
                exc.field or ""
            )
            raise CommandError(f"{where}: {exc.message}" if where else exc.message) from None
        self.stdout.write(json.dumps(output, indent=2, ensure_ascii=False))

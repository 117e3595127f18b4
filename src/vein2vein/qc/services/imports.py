"""Results from instrument files: a cell-counter export (allotropy) and an FCS file gated
with the flow method version's Gating-ML strategy (FlowKit). The parsing is
qc.instruments' (pure); here the rows become results through `enter_result`, each with the
file attached and its SHA-256."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile

from vein2vein.core.models import User

from ..choices import MethodCategory
from ..models import Sample, TestResult
from . import _common as c
from .master_data import current_version
from .results import criterion_for, enter_result

# Which counter reading feeds a cell-count criterion, by the criterion's unit.
_COUNTER_FIELDS: dict[str, str] = {
    "%": "viability_percent",
    "cells/mL": "viable_density_per_ml",
}


def counter_readings(sample: Sample) -> list[tuple[str, str]]:
    """(method code, counter field) for each cell-count criterion of the sample's spec."""
    from ..selectors import approved_specification
    from .results import _stage

    spec = approved_specification(sample.batch.master_record.product_id, _stage(sample))
    if spec is None:
        return []
    out = []
    for crit in spec.criteria.select_related("method").order_by("position"):
        if crit.method.category == MethodCategory.CELL_COUNT and crit.unit in _COUNTER_FIELDS:
            out.append((crit.method.code, _COUNTER_FIELDS[crit.unit]))
    return out


def import_counter_results(
    *,
    actor: User,
    instrument: str,
    content: bytes,
    filename: str,
    assignments: Mapping[int, int],
    equipment_id: str = "",
) -> list[TestResult]:
    """Parse the export and save, for each row assigned to a sample ({row index: sample id}),
    the sample's cell-count results (viability %, viable density) with the file attached."""
    from vein2vein.qc.instruments.counters import parse_counter_file

    rows = parse_counter_file(content, instrument=instrument, filename=filename)
    if not assignments:
        raise c.ValidationFailed("assign at least one row to a sample", field="assignments")
    planned: list[dict[str, Any]] = []
    for index, sample_id in sorted(assignments.items()):
        if not isinstance(index, int) or not 0 <= index < len(rows):
            raise c.ValidationFailed(f"row {index} is not in the file", field="assignments")
        row = rows[index]
        sample = c.fetch(
            Sample, sample_id, "assignments", related=("batch__site", "batch__master_record")
        )
        readings = counter_readings(sample)
        if not readings:
            raise c.Conflict(
                f"the specification of {sample.number} has no cell-count test in % or cells/mL",
                field="assignments",
            )
        for code, attr in readings:
            value: Decimal | None = getattr(row, attr)
            if value is None:
                raise c.ValidationFailed(
                    f"row {index} ({row.sample_id}) has no {attr.replace('_', ' ')}",
                    field="assignments",
                )
            planned.append(
                {
                    "sample_id": sample.pk,
                    "method": code,
                    "value": value,
                    "details": {"instrument": instrument, "row": index, **row.as_json()},
                    "comment": f"{instrument} export {filename}, row {index + 1} ({row.sample_id})",
                }
            )
    # Every row checked first; each result then passes the gates and is saved on its own.
    return [
        enter_result(
            actor=actor,
            equipment_id=equipment_id,
            file=ContentFile(content, name=filename),
            **call,
        )
        for call in planned
    ]


def import_flow_result(
    *,
    actor: User,
    sample_id: int,
    method: str,
    content: bytes,
    filename: str,
    gate: str,
    equipment_id: str,
) -> TestResult:
    """Gate the FCS file with the method version's Gating-ML strategy: the gate's % of parent
    is the result; every gate count is kept with it, and the file, and the dot plot."""
    from vein2vein.qc.instruments.flow import dot_plot_png, gate_fcs

    sample = c.fetch(
        Sample, sample_id, "sample_id", related=("batch__site", "batch__master_record")
    )
    crit = criterion_for(sample, method)
    version = current_version(crit.method)
    if not version.gating_ml:
        raise c.Conflict(
            f"{crit.method.name} v{version.version} has no Gating-ML strategy", field="method"
        )
    xml = version.gating_ml.encode("utf-8")
    counts = gate_fcs(content, xml)
    gate_id = c.text(gate, "gate", max_length=100)
    if gate_id not in counts:
        raise c.ValidationFailed(
            f"gate {gate_id!r} is not in the strategy; one of: {', '.join(counts)}", field="gate"
        )
    chosen = counts[gate_id]
    png = dot_plot_png(content, xml, gate_id=gate_id)
    details: dict[str, Any] = {
        "gate": gate_id,
        "gating_ml_sha256": version.gating_ml_sha256,
        "gates": {k: v.as_json() for k, v in counts.items()},
    }
    return enter_result(
        actor=actor,
        sample_id=sample.pk,
        method=crit.method.code,
        value=chosen.percent_of_parent,
        unit="%",
        equipment_id=equipment_id,
        file=ContentFile(content, name=filename),
        plot=ContentFile(png, name="plot.png"),
        details=details,
        comment=f"FCS {filename}: gate {gate_id} {chosen.count} events",
    )

"""The sample step: a numbered sample with its label text is drawn in the step's
transaction."""

from __future__ import annotations

from decimal import Decimal

from vein2vein.core import audit

from ...models import Batch, BatchSample, StepEntry
from .. import _common as c
from ._shared import Attempt, Prepared, StepHandler, StepInput


class SampleStep(StepHandler):
    def prepare(self, s: StepInput) -> Prepared:
        step = s.step
        p = Prepared(value_number=Decimal(step["quantity"]), unit=step.get("unit", ""))
        p.details.update({"sample_type": step["sample_type"], "tests": step["tests"]})
        return p

    def after_entry(self, a: Attempt, b: Batch, p: Prepared, entry: StepEntry) -> None:
        actor, step, at = a.actor, a.step, a.at
        n = BatchSample.objects.filter(batch=b).count() + 1
        number = f"{b.number}-S{n:02d}"
        label = " | ".join(
            [
                f"Sample {number}",
                f"{step['sample_type']}: {', '.join(step['tests'])}",
                f"COI {b.order.coi_eye_readable}"
                if b.order is not None
                else f"Donor lot {b.donor_lot}",
                f"Drawn {c.utc(at)}",
            ]
        )
        sample = BatchSample.objects.create(
            number=number,
            batch=b,
            entry=entry,
            sample_type=step["sample_type"],
            tests=list(step["tests"]),
            quantity=Decimal(step["quantity"]),
            unit=step.get("unit", ""),
            drawn_by=actor,
            drawn_at=at,
            label_text=label,
        )
        audit.append_event(
            actor=actor,
            action="manufacturing.sample.drawn",
            record=sample,
            changes=audit.created(audit.snapshot(sample, BatchSample.RECORD_FIELDS)),
        )
        entry.value_text = number
        entry.details = {**entry.details, "sample": number, "label": label}
        entry.save(update_fields=["value_text", "details"])

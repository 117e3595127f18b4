"""The label step: the label's text (product, batch, COI or donor lot) is the entry."""

from __future__ import annotations

from ...models import Batch
from ._shared import Prepared, StepHandler, StepInput


def _label_text(b: Batch) -> str:
    product = b.master_record.product
    lines = [
        f"{product.name} ({product.code})",
        f"Batch {b.number}",
    ]
    if b.order is not None:
        lines += [f"COI {b.order.coi_eye_readable}", "FOR AUTOLOGOUS USE ONLY"]
    else:
        lines.append(f"Donor lot {b.donor_lot}")
    return " | ".join(lines)


class LabelStep(StepHandler):
    def prepare(self, s: StepInput) -> Prepared:
        p = Prepared(value_text=_label_text(s.batch))
        p.details.update({"label_kind": s.step["label_kind"], "copies": s.step.get("copies", 1)})
        return p

"""The COI check: the scan must prove this batch's patient (or its donor lot). A mismatch is
refused and recorded, with an identity deviation (`chain.refuse_identity`); the stored scan
masks personal data."""

from __future__ import annotations

from vein2vein.chain.services import IdentityRefused, verify_identity
from vein2vein.chain.services.identity import mask_personal, refuse_identity

from .. import _common as c
from ._shared import ACTION, Attempt, Prepared, StepHandler, StepInput, scanned


def _matched(a: Attempt, scan: str) -> str:
    b = a.batch
    if b.order is None:
        if scan.strip().upper() != b.donor_lot.upper():
            raise c.refuse(
                actor=a.actor,
                action=ACTION,
                record=b,
                message=f"scanned {scan!r} is not this batch's donor lot {b.donor_lot}",
                field="scan",
                details={"step": a.step["key"]},
            )
        return "donor lot"
    try:
        return verify_identity(b.order, scan).summary
    except IdentityRefused as refusal:
        refuse_identity(
            actor=a.actor,
            o=b.order,
            action="manufacturing.step.coi_check",
            at_site=b.site,
            scanned=[scan],
            refusal=refusal,
            field="scan",
        )


class CoiCheckStep(StepHandler):
    def prepare(self, s: StepInput) -> Prepared:
        return Prepared(value_text=scanned(s.scan))

    def check(self, a: Attempt, p: Prepared) -> None:
        p.details["matched"] = _matched(a, p.value_text)
        p.value_text = mask_personal(p.value_text)

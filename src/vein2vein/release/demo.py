"""Demo release, made through the services after the QC demo. Idempotent.

LUH-1008's batch (completed by the manufacturing demo, every release test resulted, reviewed
and within specification by the QC demo) is reviewed by exception by Rita Reyes (QA reviewer)
where it still waits for that, then released by Amara Appiah (QA approver) with her signature
once its readiness checklist is met, and its certificate of analysis issued. LUH-1007's batch
(an endotoxin result out of specification, its OOS investigation open) is left not ready.
"""

from __future__ import annotations

from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.models import User
from vein2vein.manufacturing import services as mfg_services
from vein2vein.manufacturing.choices import BatchStatus
from vein2vein.manufacturing.selectors import batches_for

from . import selectors, services

PATIENT = "LUH-1008"


def load_demo() -> None:
    users = {u.username: u for u in User.objects.filter(username__in=("qa", "qa_approver"))}
    if len(users) < 2:
        return
    approver = users["qa_approver"]
    b = batches_for(approver).filter(order__patient__site_patient_id=PATIENT).first()
    if b is None:
        return
    if b.status == BatchStatus.COMPLETED:
        b = mfg_services.review_batch(
            actor=users["qa"],
            batch_id=b.pk,
            password=DEMO_PASSWORD,
            comment="Reviewed by exception: each exception explained in the record.",
        )
    if b.status != BatchStatus.REVIEWED:
        return
    if selectors.current_disposition(b.pk) is None:
        if not selectors.readiness(b.pk).ready:
            return  # the demo does not fake readiness: the checklist says what is missing
        services.dispose(
            actor=approver,
            batch_id=b.pk,
            decision="release",
            reason="Every release criterion met; batch record reviewed; identity verified.",
            password=DEMO_PASSWORD,
        )
    if selectors.is_shippable(b.pk) and not selectors.certificates_of(b.pk):
        services.generate_certificate(actor=approver, batch_id=b.pk)

"""A batch review signature binds the batch record as reviewed, not the batch's status; an
order's signature binds whose therapy it is, not where it is in the chain."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import PASSWORD
from tests.manufacturing.conftest import Mfg, run
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature, User
from vein2vein.core.signing import is_valid, signed_content
from vein2vein.manufacturing import services
from vein2vein.manufacturing.models import Batch, StepEntry


def test_a_review_signature_stays_valid_as_the_batch_moves_on_and_breaks_on_an_edited_entry(
    mfg: Mfg, batch: Batch, make_user: Callable[..., User]
) -> None:
    run(mfg, batch)
    services.complete_batch(actor=mfg.operator, batch_id=batch.pk)
    reviewer = make_user(Role.QA_REVIEWER, mfg.w.mfg, username="qa-sc", full_name="Quinn QA")
    services.review_batch(
        actor=reviewer, batch_id=batch.pk, password=PASSWORD, comment="No open issues"
    )
    sig = Signature.objects.get(record_type="manufacturing.batch", meaning="reviewed")
    assert is_valid(sig)
    # The coming disposition and release move the status on: the review still stands.
    Batch.objects.filter(pk=batch.pk).update(status="aborted")
    assert "status" not in signed_content(Batch.objects.get(pk=batch.pk))
    assert is_valid(sig), "a later transition must not void the QA review signature"
    # An attested value edited behind the record's back voids it.
    entry = StepEntry.objects.filter(batch=batch, value_number__isnull=False).first()
    assert entry is not None
    StepEntry.objects.filter(pk=entry.pk).update(value_number=entry.value_number + 1)
    assert not is_valid(sig)


def test_an_orders_signed_content_leaves_out_its_status(batch: Batch) -> None:
    order = batch.order
    assert order is not None
    before = signed_content(order)
    TherapyOrder.objects.filter(pk=order.pk).update(status="rejected")
    assert signed_content(TherapyOrder.objects.get(pk=order.pk)) == before
    TherapyOrder.objects.filter(pk=order.pk).update(treating_physician="Dr Someone Else")
    assert signed_content(TherapyOrder.objects.get(pk=order.pk)) != before

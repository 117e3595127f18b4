"""The start-batch interlock reads the receipt (issue 10): material received outside its
temperature range is quarantined and starts no batch until QA accepts it; rejected, it
never does."""

from __future__ import annotations

import pytest

from tests.chain.conftest import bag_label
from tests.manufacturing.conftest import PASSWORD, Mfg
from vein2vein.chain import services as chain
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.errors import Conflict, InterlockBlocked
from vein2vein.core.models import AuditEvent
from vein2vein.manufacturing import services
from vein2vein.manufacturing.models import Batch

pytestmark = pytest.mark.django_db


def _warm_bag(mfg: Mfg, walk) -> TherapyOrder:  # type: ignore[no-untyped-def]
    o: TherapyOrder = walk("in_transit")
    receipt = chain.receive_collection(
        actor=mfg.w.operator, order_id=o.pk, scans=bag_label(o), arrival_temperature_c="12.5"
    )
    assert receipt.decision == "quarantine"
    return o


def _disposition(mfg: Mfg, o: TherapyOrder, decision: str) -> None:
    chain.disposition_receipt(
        actor=mfg.approver,
        order_id=o.pk,
        decision=decision,
        reason="Logger trace and cell counts assessed",
        password=PASSWORD,
    )


def test_a_quarantined_receipt_starts_no_batch(mfg: Mfg, walk) -> None:  # type: ignore[no-untyped-def]
    o = _warm_bag(mfg, walk)
    with pytest.raises(InterlockBlocked) as caught:
        services.start_batch(actor=mfg.operator, order_id=o.pk)
    assert caught.value.field == "order_id" and caught.value.status_code == 409
    assert "receipt is quarantined" in caught.value.message
    assert not Batch.objects.exists()
    o.refresh_from_db()
    assert o.status == "received"
    blocked = AuditEvent.objects.get(action="manufacturing.batch.start.blocked")
    assert blocked.record_id == str(o.pk) and "quarantined" in blocked.reason


def test_qa_acceptance_lets_the_batch_start(mfg: Mfg, walk) -> None:  # type: ignore[no-untyped-def]
    o = _warm_bag(mfg, walk)
    _disposition(mfg, o, "accepted")
    b = services.start_batch(actor=mfg.operator, order_id=o.pk)
    o.refresh_from_db()
    assert (b.order_id, o.status) == (o.pk, "in_manufacturing")


def test_a_rejected_receipt_never_starts_a_batch(mfg: Mfg, walk) -> None:  # type: ignore[no-untyped-def]
    o = _warm_bag(mfg, walk)
    _disposition(mfg, o, "rejected")
    with pytest.raises(Conflict) as caught:
        services.start_batch(actor=mfg.operator, order_id=o.pk)
    assert caught.value.field == "order_id" and "rejected" in caught.value.message
    assert not Batch.objects.exists()


def test_a_quarantined_order_is_not_offered_to_start(mfg: Mfg, walk) -> None:  # type: ignore[no-untyped-def]
    from vein2vein.manufacturing.selectors import startable_orders

    o = _warm_bag(mfg, walk)
    assert o not in startable_orders(mfg.operator)
    _disposition(mfg, o, "accepted")
    assert o in startable_orders(mfg.operator)

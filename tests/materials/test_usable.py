"""The materials gate: check_material_usable (pure), require_material_usable (records the
refusal), consume_lot (re-checks with the lot locked), and first-expiry-first-out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import InterlockBlocked
from vein2vein.core.models import AuditEvent
from vein2vein.materials import selectors
from vein2vein.materials.choices import LotStatus
from vein2vein.materials.models import InventoryTransaction, Lot
from vein2vein.materials.services import check_material_usable, consume_lot, require_material_usable

from .conftest import MATERIALS_MODELS
from .factories import LotFactory, MaterialFactory

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")  # the test site's zone


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), MADRID)


@pytest.fixture
def lot(material) -> Lot:  # type: ignore[no-untyped-def]
    return LotFactory(material=material, supplier=material.suppliers.get(), unit="vial")


def test_a_released_unexpired_lot_with_stock_is_usable(lot):
    result = check_material_usable(lot, lot.material, "10")
    assert result.ok and result.reasons == [] and "is usable" in result.message


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (LotStatus.QUARANTINE, "quarantine"),
        (LotStatus.REJECTED, "rejected"),
        (LotStatus.ON_HOLD, "on_hold"),
    ],
)
def test_status_refuses(lot, status, reason):
    Lot.objects.filter(pk=lot.pk).update(status=status, hold_reason="CoA query")
    lot.refresh_from_db()
    result = check_material_usable(lot, lot.material, 1)
    assert not result.ok and result.reasons == [reason]


def test_expiry_is_judged_at_the_moment_of_use(lot):
    today = dt.date(2026, 3, 10)
    Lot.objects.filter(pk=lot.pk).update(expiry_date=today)
    lot.refresh_from_db()
    # Expiring today: usable all day in the site's zone, refused from the next midnight.
    assert check_material_usable(lot, lot.material, 1, at=_noon(today)).ok
    late = dt.datetime.combine(today, dt.time(23, 59), MADRID)
    assert check_material_usable(lot, lot.material, 1, at=late).ok
    result = check_material_usable(lot, lot.material, 1, at=_noon(today + dt.timedelta(days=1)))
    assert result.reasons == ["expired"] and "expired on 2026-03-10" in result.message


def test_a_lot_that_expired_yesterday_is_refused_now(lot):
    Lot.objects.filter(pk=lot.pk).update(
        expiry_date=dt.datetime.now(MADRID).date() - dt.timedelta(days=1)
    )
    lot.refresh_from_db()
    assert check_material_usable(lot, lot.material, 1).reasons == ["expired"]


def test_wrong_part_refuses(lot):
    other = MaterialFactory(part_number="MAT-0099")
    result = check_material_usable(lot, other, 1)
    assert result.reasons == ["wrong_part"]
    assert check_material_usable(lot, "MAT-0099", 1).reasons == ["wrong_part"]


@pytest.mark.parametrize("quantity", ["100.001", "0", "-1", "abc", None])
def test_not_enough_or_bad_quantity_refuses(lot, quantity):
    assert check_material_usable(lot, lot.material, quantity).reasons == ["insufficient_quantity"]


def test_every_reason_is_listed_at_once(lot):
    Lot.objects.filter(pk=lot.pk).update(
        status=LotStatus.QUARANTINE, expiry_date=dt.date(2020, 1, 1)
    )
    lot.refresh_from_db()
    result = check_material_usable(lot, "MAT-OTHER", 500)
    assert result.reasons == ["quarantine", "expired", "wrong_part", "insufficient_quantity"]


def test_require_records_the_blocked_attempt_and_changes_nothing_else(lot, operator):
    Lot.objects.filter(pk=lot.pk).update(status=LotStatus.QUARANTINE)
    lot.refresh_from_db()
    before = {m.__name__: m._default_manager.count() for m in MATERIALS_MODELS}
    with pytest.raises(InterlockBlocked, match="in quarantine"):
        require_material_usable(
            actor=operator,
            lot=lot,
            part=lot.material,
            quantity=1,
            action="manufacturing.step.material",
            record=("manufacturing.step", "7"),
        )
    event = AuditEvent.objects.get(action="manufacturing.step.material.blocked")
    assert event.record_id == "7" and event.changes["reasons"]["new"] == ["quarantine"]
    assert {m.__name__: m._default_manager.count() for m in MATERIALS_MODELS} == before
    assert verify_chain().ok


def test_require_refuses_to_run_inside_a_transaction(lot, operator):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        require_material_usable(
            actor=operator, lot=lot, part=None, quantity=1, action="x", record=lot
        )


def test_consume_takes_from_the_ledger(lot, operator):
    row = consume_lot(
        actor=operator, lot_id=lot.pk, quantity="2.5", reference="B-0001 step 4", part="MAT-0001"
    )
    lot.refresh_from_db()
    assert row.quantity == Decimal("-2.5") and row.balance_after == lot.on_hand == Decimal("97.5")
    assert AuditEvent.objects.filter(action="materials.lot.consumption").count() == 1


@pytest.mark.parametrize(
    ("change", "quantity", "part", "reason"),
    [
        ({"status": LotStatus.QUARANTINE}, 1, None, "quarantine"),
        ({"status": LotStatus.REJECTED}, 1, None, "rejected"),
        ({"status": LotStatus.ON_HOLD}, 1, None, "on_hold"),
        ({"expiry_date": dt.date(2020, 1, 1)}, 1, None, "expired"),
        ({}, 1, "MAT-0999", "wrong_part"),
        ({}, 101, None, "insufficient_quantity"),
    ],
)
def test_consume_refuses_records_and_changes_nothing(lot, operator, change, quantity, part, reason):
    Lot.objects.filter(pk=lot.pk).update(**change)
    on_hand = Lot.objects.get(pk=lot.pk).on_hand
    rows = InventoryTransaction.objects.count()
    with pytest.raises(InterlockBlocked):
        consume_lot(actor=operator, lot_id=lot.pk, quantity=quantity, part=part, reference="B-1")
    assert Lot.objects.get(pk=lot.pk).on_hand == on_hand
    assert InventoryTransaction.objects.count() == rows
    blocked = AuditEvent.objects.get(action="materials.lot.consume.blocked")
    assert blocked.changes["reasons"]["new"] == [reason]
    assert verify_chain().ok


def test_fefo_orders_by_expiry_then_receipt_and_skips_unusable(material, site):
    supplier = material.suppliers.get()
    today = dt.datetime.now(MADRID).date()

    def make(days: int, **kw: object) -> Lot:
        return LotFactory(
            material=material,
            supplier=supplier,
            expiry_date=today + dt.timedelta(days=days),
            **kw,
        )

    late = make(90)
    soon = make(10)
    same_day_later = make(10)
    make(-1)  # expired
    make(5, status=LotStatus.QUARANTINE)
    make(3, status=LotStatus.ON_HOLD)
    make(4, on_hand=Decimal("0"), quantity_received=Decimal("5"))
    expires_today = make(0)
    LotFactory(material=MaterialFactory(part_number="MAT-0777"), supplier=supplier)
    assert selectors.fefo(material) == [expires_today, soon, same_day_later, late]
    assert selectors.fefo("MAT-0001", site=site)[0] == expires_today

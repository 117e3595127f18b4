"""The ledger never loses quantity; adjustments need a reason; kits take from released lots
and are usable only while every component lot is; stock reports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from vein2vein.core.errors import Conflict, InterlockBlocked, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.materials import selectors
from vein2vein.materials.choices import LotStatus
from vein2vein.materials.models import Kit, Lot
from vein2vein.materials.services import adjust_lot, assemble_kit, check_kit_usable, consume_lot

from .conftest import unchanged
from .factories import LotFactory, MaterialFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lot(material) -> Lot:  # type: ignore[no-untyped-def]
    return LotFactory(material=material, supplier=material.suppliers.get(), unit="vial")


def test_the_ledger_sum_is_always_the_quantity_on_hand(lot, operator):
    consume_lot(actor=operator, lot_id=lot.pk, quantity="12.5", reference="B-0001 step 2")
    adjust_lot(actor=operator, lot_id=lot.pk, quantity="-0.5", reason="Vial broken at thaw")
    adjust_lot(actor=operator, lot_id=lot.pk, quantity="3", reason="Cycle count found 3 more")
    consume_lot(actor=operator, lot_id=lot.pk, quantity="90", reference="B-0002 step 2")
    lot.refresh_from_db()
    assert lot.on_hand == Decimal("0") == selectors.ledger_sum(lot)
    rows = list(selectors.ledger(lot))
    assert [r.balance_after for r in rows] == [Decimal(x) for x in ("100", "87.5", "87", "90", "0")]
    assert all(a.balance_after + b.quantity == b.balance_after for a, b in pairwise(rows))


def test_an_adjustment_may_not_go_below_zero(lot, operator):
    with unchanged(), pytest.raises(Conflict) as exc:
        adjust_lot(actor=operator, lot_id=lot.pk, quantity="-100.001", reason="count")
    assert exc.value.field == "quantity"


@pytest.mark.parametrize(
    ("quantity", "reason", "field"),
    [("0", "count", "quantity"), ("x", "count", "quantity"), ("1", "", "reason")],
)
def test_an_adjustment_needs_a_quantity_and_a_reason(lot, operator, quantity, reason, field):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        adjust_lot(actor=operator, lot_id=lot.pk, quantity=quantity, reason=reason)
    assert exc.value.field == field


def test_inventory_moves_need_a_stock_role(lot, qa_reviewer, inspector):
    for person in (qa_reviewer, inspector):
        with unchanged(), pytest.raises(PermissionRefused):
            adjust_lot(actor=person, lot_id=lot.pk, quantity="1", reason="count")
        with unchanged(), pytest.raises(PermissionRefused):
            consume_lot(actor=person, lot_id=lot.pk, quantity="1", reference="B-1")


def test_consume_needs_a_reference(lot, operator):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        consume_lot(actor=operator, lot_id=lot.pk, quantity="1", reference="")
    assert exc.value.field == "reference"


def test_a_kit_takes_its_components_from_released_lots(lot, operator, site):
    other = LotFactory(material=MaterialFactory(part_number="BAG-0001"), supplier=lot.supplier)
    kit = assemble_kit(
        actor=operator,
        site_id=site.pk,
        name="Activation kit, patient run",
        location="Kit cart 1",
        components=[{"lot_id": lot.pk, "quantity": "4"}, {"lot_id": other.pk, "quantity": 1}],
    )
    assert kit.kit_number.startswith("KIT-") and kit.components.count() == 2
    lot.refresh_from_db()
    assert lot.on_hand == Decimal("96") == selectors.ledger_sum(lot)
    assert lot.transactions.last().kit == kit  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(action="materials.kit.assembled").count() == 1
    assert check_kit_usable(kit).ok
    # The kit stops being usable when any component lot does.
    Lot.objects.filter(pk=other.pk).update(status=LotStatus.ON_HOLD, hold_reason="recall")
    result = check_kit_usable(kit)
    assert result.reasons == ["on_hold"] and other.lot_number in result.message
    tomorrow = dt.datetime.now(ZoneInfo("Europe/Madrid")) + dt.timedelta(days=1)
    Lot.objects.filter(pk=other.pk).update(status=LotStatus.RELEASED, expiry_date=tomorrow.date())
    assert check_kit_usable(kit).ok
    assert check_kit_usable(kit, at=tomorrow + dt.timedelta(days=1)).reasons == ["expired"]


def test_a_kit_refuses_an_unusable_component_and_takes_nothing(lot, operator, site):
    held = LotFactory(material=lot.material, supplier=lot.supplier, status=LotStatus.QUARANTINE)
    on_hand = lot.on_hand
    with pytest.raises(InterlockBlocked, match="quarantine"):
        assemble_kit(
            actor=operator,
            site_id=site.pk,
            name="Kit",
            location="Cart",
            components=[{"lot_id": lot.pk, "quantity": "1"}, {"lot_id": held.pk, "quantity": 1}],
        )
    assert Kit.objects.count() == 0 and Lot.objects.get(pk=lot.pk).on_hand == on_hand
    assert AuditEvent.objects.filter(action="materials.kit.assemble.blocked").count() == 1


@pytest.mark.parametrize(
    ("components", "field"),
    [([], "components"), ([{"lot_id": "x", "quantity": 1}], "components.1.lot_id")],
)
def test_bad_kit_input_names_the_field(lot, operator, site, components, field):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        assemble_kit(actor=operator, site_id=site.pk, name="K", location="C", components=components)
    assert exc.value.field == field


def test_low_stock_and_expiring_lists(material, site):
    supplier = material.suppliers.get()
    material.reorder_level = Decimal("50")
    material.save()
    today = dt.datetime.now(ZoneInfo("Europe/Madrid")).date()
    soon = LotFactory(
        material=material,
        supplier=supplier,
        on_hand=Decimal("30"),
        expiry_date=today + dt.timedelta(days=20),
    )
    gone = LotFactory(
        material=material, supplier=supplier, expiry_date=today - dt.timedelta(days=2)
    )
    LotFactory(material=material, supplier=supplier, status=LotStatus.QUARANTINE)
    LotFactory(
        material=material,
        supplier=supplier,
        status=LotStatus.REJECTED,
        expiry_date=today + dt.timedelta(days=1),
    )
    [line] = selectors.low_stock(site=site)
    assert line.material == material and line.usable == Decimal("30")
    assert line.quarantine == Decimal("100") and line.short_by == Decimal("20")
    assert selectors.expiring(days=30) == [(gone, True), (soon, False)]
    assert selectors.expiring(days=10) == [(gone, True)]
    material.reorder_level = Decimal("0")
    material.save()
    assert selectors.low_stock() == []

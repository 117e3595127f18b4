"""Receipt into quarantine, release and rejection with an e-signature, hold and off hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import PASSWORD
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.files import stored_sha256
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import is_valid, signatures_for
from vein2vein.materials.choices import LotStatus, SupplierStatus
from vein2vein.materials.models import InventoryTransaction, Lot, MaterialSupplier
from vein2vein.materials.services import (
    hold_lot,
    receive_lot,
    reject_lot,
    release_hold,
    release_lot,
)

from .conftest import INSPECTION_OK, pdf, unchanged
from .factories import LotFactory, MaterialFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def _receive(actor, site, material, supplier=None, **kw):  # type: ignore[no-untyped-def]
    args = {
        "site_id": site.pk,
        "material_id": material.pk,
        "supplier_id": (supplier or material.suppliers.get()).pk,
        "supplier_lot": "6201234",
        "quantity": "20",
        "expiry_date": dt.date.today() + dt.timedelta(days=365),
        "location": "Fridge F-02, shelf 3",
        "inspection": INSPECTION_OK,
        "coa_file": pdf(),
    }
    args.update(kw)
    return receive_lot(actor=actor, **args)


@pytest.fixture
def quarantined(operator, site, material) -> Lot:  # type: ignore[no-untyped-def]
    return _receive(operator, site, material)


# --- receipt --------------------------------------------------------------------------------
def test_receipt_starts_in_quarantine_with_its_coa_inspection_and_ledger(operator, site, material):
    lot = _receive(operator, site, material, attributes={"note": "shipped on dry ice"})
    year = dt.date.today().year
    assert lot.lot_number == f"LOT-{year}-0001" and lot.status == LotStatus.QUARANTINE
    assert lot.on_hand == lot.quantity_received == Decimal("20") and lot.unit == "vial"
    assert lot.coa_file_name == "coa.pdf" and stored_sha256(lot.coa_file.name) == lot.coa_sha256
    assert lot.inspection_passed and lot.received_by == operator
    [row] = lot.transactions.all()
    assert row.kind == "receipt" and row.quantity == row.balance_after == Decimal("20")
    event = AuditEvent.objects.get(action="materials.lot.received")
    assert event.changes["status"]["new"] == "quarantine"
    assert _receive(operator, site, material).lot_number == f"LOT-{year}-0002"


def test_any_supplier_may_deliver_into_quarantine(operator, site, material):
    stranger = SupplierFactory(name="Unknown Trading", status=SupplierStatus.DISQUALIFIED)
    assert _receive(operator, site, material, supplier=stranger).status == LotStatus.QUARANTINE


@pytest.mark.parametrize("role", [Role.QA_APPROVER, Role.INSPECTOR, Role.ADMIN, Role.CLINICAL_SITE])
def test_receipt_needs_a_stock_role(make_user, site, material, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused):
        _receive(actor, site, material)


def test_receipt_needs_the_role_at_that_site(make_user, make_site, material):
    other = make_site(code="MFG-OTHER")
    actor = make_user(Role.OPERATOR)
    with unchanged(), pytest.raises(PermissionRefused, match="at MFG-OTHER"):
        _receive(actor, other, material)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-3"}, "quantity"),
        ({"quantity": "1.0001"}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"expiry_date": "2026-13-01"}, "expiry_date"),
        ({"expiry_date": ""}, "expiry_date"),
        ({"supplier_lot": " "}, "supplier_lot"),
        ({"location": ""}, "location"),
        ({"unit": "mL"}, "unit"),
        ({"inspection": {"packaging_intact": True}}, "labels_match"),
        ({"inspection": "yes"}, "inspection"),
        ({"coa_file": SimpleUploadedFile("coa.pdf", b"not a pdf")}, "coa_file"),
        ({"coa_file": SimpleUploadedFile("coa.txt", b"%PDF-1.4")}, "coa_file"),
        ({"attributes": {"titer": ["x"]}}, "attributes"),
    ],
)
def test_bad_receipt_input_names_the_field(operator, site, material, change, field):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        _receive(operator, site, material, **change)
    assert exc.value.field == field


@pytest.mark.parametrize("key", ["material_id", "supplier_id", "site_id"])
def test_unknown_references_are_404(operator, site, material, key):
    with unchanged(), pytest.raises(NotFound) as exc:
        _receive(operator, site, material, **{key: 99999})
    assert exc.value.field == key


# --- release --------------------------------------------------------------------------------
def test_qc_releases_with_a_signature(quarantined, qc):
    lot = release_lot(actor=qc, lot_id=quarantined.pk, password=PASSWORD, reason="CoA reviewed")
    assert lot.status == LotStatus.RELEASED and lot.disposition_by == qc
    [sig] = signatures_for(lot)
    assert sig.meaning == "released" and sig.signer == qc and is_valid(sig, lot)
    assert AuditEvent.objects.filter(action="materials.lot.released").count() == 1
    # Consumption changes the quantity on hand, not what was signed.
    from vein2vein.materials.services import consume_lot

    consume_lot(actor=quarantined.received_by, lot_id=lot.pk, quantity=1, reference="B-1")
    assert is_valid(sig)


@pytest.mark.parametrize("role", [Role.QA_REVIEWER, Role.QA_APPROVER])
def test_qa_may_release_too(quarantined, make_user, role):
    assert release_lot(actor=make_user(role), lot_id=quarantined.pk, password=PASSWORD).status == (
        LotStatus.RELEASED
    )


def _lot_changes(lot: Lot):  # type: ignore[no-untyped-def]
    return Lot.objects.filter(pk=lot.pk).values_list("status", "disposition_by")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.LOGISTICS, Role.SUPERVISOR, Role.INSPECTOR])
def test_release_needs_qc_or_qa(quarantined, make_user, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused):
        release_lot(actor=actor, lot_id=quarantined.pk, password=PASSWORD)


def test_a_supervisor_may_release_a_material_without_qc_release(operator, site, supervisor):
    bags = MaterialFactory(
        part_number="BAG-0001", kind="bag", unit="each", qc_release_required=False
    )
    bags.supplier_links.create(
        supplier=SupplierFactory(name="Bag Co"),
        added_by=supervisor,
        added_at=dt.datetime.now(dt.UTC),
    )
    lot = _receive(operator, site, bags, coa_file=None)
    assert release_lot(actor=supervisor, lot_id=lot.pk, password=PASSWORD).status == "released"


def test_the_receiver_may_not_release_their_own_receipt(make_user, site, material):
    qc_receiver = make_user(Role.QC_ANALYST, username="qc-goods-in")
    lot = _receive(qc_receiver, site, material)
    with unchanged(), pytest.raises(SignatureRefused, match="second person"):
        release_lot(actor=qc_receiver, lot_id=lot.pk, password=PASSWORD)


def test_a_wrong_password_refuses_and_counts_toward_lockout(quarantined, qc):
    with unchanged(), pytest.raises(SignatureRefused) as exc:
        release_lot(actor=qc, lot_id=quarantined.pk, password="wrong")
    assert exc.value.field == "password"
    assert AccessAttempt.objects.get(username=qc.username).failures_since_start == 1


def test_a_missing_password_names_the_field(quarantined, qc):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        release_lot(actor=qc, lot_id=quarantined.pk, password="")
    assert exc.value.field == "password"


def _blocked_release(lot: Lot, actor, match: str) -> None:  # type: ignore[no-untyped-def]
    before = list(_lot_changes(lot))
    signatures = Signature.objects.count()
    with pytest.raises(InterlockBlocked, match=match):
        release_lot(actor=actor, lot_id=lot.pk, password=PASSWORD)
    assert list(_lot_changes(lot)) == before and Signature.objects.count() == signatures
    assert AuditEvent.objects.filter(action="materials.lot.release.blocked").exists()
    assert verify_chain().ok
    assert not AccessAttempt.objects.filter(username=actor.username).exists()


@pytest.mark.parametrize("status", [SupplierStatus.DISQUALIFIED, SupplierStatus.CONDITIONAL])
def test_a_supplier_that_is_not_approved_blocks_release(quarantined, qc, status):
    quarantined.supplier.__class__.objects.filter(pk=quarantined.supplier_id).update(status=status)
    _blocked_release(quarantined, qc, f"is {status}, not approved")


def test_a_supplier_not_approved_for_the_material_blocks_release(quarantined, qc):
    MaterialSupplier.objects.update(removed_at=dt.datetime.now(dt.UTC))
    _blocked_release(quarantined, qc, "not approved for MAT-0001")


def test_an_expired_lot_cannot_be_released(operator, site, material, qc):
    lot = _receive(operator, site, material, expiry_date=dt.date(2024, 1, 31))
    _blocked_release(lot, qc, "expired on 2024-01-31")


def test_a_failed_inspection_blocks_release(operator, site, material, qc):
    lot = _receive(operator, site, material, inspection=INSPECTION_OK | {"temperature_ok": False})
    _blocked_release(lot, qc, "inspection failed: Temperature on arrival OK")


def test_a_material_needing_qc_release_needs_its_coa(operator, site, material, qc):
    lot = _receive(operator, site, material, coa_file=None)
    _blocked_release(lot, qc, "no certificate of analysis")


def test_only_a_quarantined_lot_is_released(quarantined, qc, qa_approver):
    release_lot(actor=qc, lot_id=quarantined.pk, password=PASSWORD)
    with unchanged(), pytest.raises(Conflict, match="released: it cannot be released"):
        release_lot(actor=qa_approver, lot_id=quarantined.pk, password=PASSWORD)


# --- reject, hold ---------------------------------------------------------------------------
def test_rejection_is_signed_and_final(quarantined, qc, qa_approver):
    lot = reject_lot(actor=qc, lot_id=quarantined.pk, password=PASSWORD, reason="Label damaged")
    assert lot.status == LotStatus.REJECTED
    assert [s.meaning for s in signatures_for(lot)] == ["rejected"]
    with unchanged(), pytest.raises(Conflict):
        release_lot(actor=qa_approver, lot_id=lot.pk, password=PASSWORD)
    with unchanged(), pytest.raises(Conflict):
        hold_lot(actor=qa_approver, lot_id=lot.pk, reason="x")


def test_rejection_needs_a_reason(quarantined, qc):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        reject_lot(actor=qc, lot_id=quarantined.pk, password=PASSWORD, reason=" ")
    assert exc.value.field == "reason"


def test_hold_and_off_hold_return_to_the_previous_status(material, qc, supervisor):
    lot = LotFactory(material=material, supplier=material.suppliers.get())
    held = hold_lot(actor=supervisor, lot_id=lot.pk, reason="Supplier notification 24-17")
    assert held.status == LotStatus.ON_HOLD and held.hold_reason.startswith("Supplier")
    with unchanged(), pytest.raises(Conflict):
        hold_lot(actor=supervisor, lot_id=lot.pk, reason="again")
    back = release_hold(actor=qc, lot_id=lot.pk, reason="Notification does not affect this lot")
    assert back.status == LotStatus.RELEASED and back.hold_reason == ""
    with unchanged(), pytest.raises(Conflict, match="not on hold"):
        release_hold(actor=qc, lot_id=lot.pk, reason="x")
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions[-2:] == ["materials.lot.held", "materials.lot.hold_released"]


def test_hold_needs_a_role_and_a_reason(quarantined, operator, qc):
    with unchanged(), pytest.raises(PermissionRefused):
        hold_lot(actor=operator, lot_id=quarantined.pk, reason="x")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        hold_lot(actor=qc, lot_id=quarantined.pk, reason="")
    assert exc.value.field == "reason"


def test_nothing_was_ever_deleted(quarantined, qc):
    release_lot(actor=qc, lot_id=quarantined.pk, password=PASSWORD)
    assert InventoryTransaction.objects.count() == 1 and verify_chain().ok

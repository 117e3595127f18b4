"""Suppliers (status changes audited with a reason) and the material master."""

from __future__ import annotations

import pytest

from vein2vein.core.errors import Conflict, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.materials.services import (
    approve_supplier_for_material,
    create_material,
    create_supplier,
    remove_supplier_from_material,
    set_supplier_status,
    update_material,
    update_supplier,
)

from .conftest import unchanged

pytestmark = pytest.mark.django_db

MATERIAL = {
    "part_number": "MAT-0100",
    "name": "TexMACS GMP Medium",
    "kind": "medium",
    "unit": "bag",
    "storage_condition": "2_8c",
    "qc_release_required": True,
    "reorder_level": "4",
}


def test_supplier_lifecycle_is_audited_with_reasons(supervisor):
    s = create_supplier(
        actor=supervisor,
        name="Miltenyi Biotec",
        status="approved",
        qualification_date="2025-03-01",
        reevaluation_due="2027-03-01",
    )
    s = set_supplier_status(
        actor=supervisor, supplier_id=s.pk, status="conditional", reason="Audit finding F-12"
    )
    assert s.status == "conditional"
    event = AuditEvent.objects.get(action="materials.supplier.status_changed")
    assert event.changes == {"status": {"old": "approved", "new": "conditional"}}
    assert event.reason == "Audit finding F-12"
    s = update_supplier(actor=supervisor, supplier_id=s.pk, reason="New QA contact", contact="qa@x")
    assert s.contact == "qa@x"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"status": "maybe"}, "status"),
        ({"qualification_date": "yesterday"}, "qualification_date"),
        (
            {"qualification_date": "2026-01-01", "reevaluation_due": "2025-01-01"},
            "reevaluation_due",
        ),
    ],
)
def test_bad_supplier_input_names_the_field(supervisor, change, field):
    args = {"name": "Lonza", "status": "approved"} | change
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        create_supplier(actor=supervisor, **args)
    assert exc.value.field == field


def test_status_change_needs_a_reason_and_the_role(supervisor, operator, supplier):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        set_supplier_status(
            actor=supervisor, supplier_id=supplier.pk, status="disqualified", reason=""
        )
    assert exc.value.field == "reason"
    with unchanged(), pytest.raises(PermissionRefused):
        set_supplier_status(
            actor=operator, supplier_id=supplier.pk, status="disqualified", reason="x"
        )
    with unchanged(), pytest.raises(Conflict):
        set_supplier_status(
            actor=supervisor, supplier_id=supplier.pk, status="approved", reason="x"
        )


def test_material_master_and_its_approved_suppliers(qa_reviewer, supplier):
    m = create_material(actor=qa_reviewer, **MATERIAL)
    assert m.reorder_level == 4 and m.kind == "medium"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        create_material(actor=qa_reviewer, **MATERIAL)
    assert exc.value.field == "part_number"
    approve_supplier_for_material(actor=qa_reviewer, material_id=m.pk, supplier_id=supplier.pk)
    with unchanged(), pytest.raises(Conflict):
        approve_supplier_for_material(actor=qa_reviewer, material_id=m.pk, supplier_id=supplier.pk)
    link = remove_supplier_from_material(
        actor=qa_reviewer, material_id=m.pk, supplier_id=supplier.pk, reason="Discontinued"
    )
    assert link.removed_at is not None and m.supplier_links.count() == 1
    m = update_material(actor=qa_reviewer, material_id=m.pk, reason="Re-sized", reorder_level="6")
    assert m.reorder_level == 6
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        update_material(actor=qa_reviewer, material_id=m.pk, reason="x", part_number="X")
    assert exc.value.field == "part_number"


def test_a_disqualified_supplier_cannot_be_approved_for_a_material(qa_reviewer, supplier, material):
    set_supplier_status(
        actor=qa_reviewer, supplier_id=supplier.pk, status="disqualified", reason="x"
    )
    m = create_material(actor=qa_reviewer, **MATERIAL)
    with unchanged(), pytest.raises(Conflict, match="disqualified"):
        approve_supplier_for_material(actor=qa_reviewer, material_id=m.pk, supplier_id=supplier.pk)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "potion"}, "kind"),
        ({"storage_condition": "cold"}, "storage_condition"),
        ({"part_number": "bad part!"}, "part_number"),
        ({"unit": ""}, "unit"),
        ({"reorder_level": "-1"}, "reorder_level"),
        ({"qc_release_required": "yes"}, "qc_release_required"),
    ],
)
def test_bad_material_input_names_the_field(qa_reviewer, change, field):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        create_material(actor=qa_reviewer, **(MATERIAL | change))
    assert exc.value.field == field


def test_master_data_needs_a_master_role(operator, qc, inspector):
    for person in (operator, qc, inspector):
        with unchanged(), pytest.raises(PermissionRefused):
            create_material(actor=person, **MATERIAL)

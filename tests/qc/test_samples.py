"""Samples: taken in from a drawn sample or registered for a batch; aliquots never exceed
the parent; custody to a lab (shipment, receipt with condition)."""

from __future__ import annotations

import pytest

from tests.qc.conftest import Lab, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.qc import services


def test_aliquots_never_hold_more_than_the_parent(lab: Lab) -> None:
    a = services.make_aliquot(actor=lab.analyst, sample_id=lab.sample.pk, volume="6")
    b = services.make_aliquot(actor=lab.analyst, sample_id=lab.sample.pk, volume="4")
    assert (a.parent, a.number, b.number) == (
        lab.sample,
        f"{lab.sample.number}-01",
        f"{lab.sample.number}-02",
    )
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.make_aliquot(actor=lab.analyst, sample_id=lab.sample.pk, volume="0.001")
    assert exc.value.field == "volume"
    assert "0.000 of 10.000 mL" in exc.value.message
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.make_aliquot(actor=lab.analyst, sample_id=a.pk, volume="-1")
    assert exc.value.field == "volume"


def test_a_drawn_sample_of_another_batch_is_refused(lab: Lab) -> None:
    with unchanged(), pytest.raises(NotFound) as exc:
        services.register_sample(
            actor=lab.analyst,
            batch_id=lab.batch.pk,
            purpose="release",
            volume="1",
            unit="mL",
            batch_sample_number="NOPE-1",
        )
    assert exc.value.field == "batch_sample_number"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.register_sample(
            actor=lab.analyst, batch_id=lab.batch.pk, purpose="spare", volume="1", unit="mL"
        )
    assert exc.value.field == "purpose"


def test_custody_to_an_external_lab_and_back(lab: Lab) -> None:
    shipment = services.ship_sample(
        actor=lab.analyst,
        sample_id=lab.sample.pk,
        lab_kind="external",
        lab_name="Contract lab",
        packet="Dry ice, waybill 123",
    )
    lab.sample.refresh_from_db()
    assert lab.sample.status == "in_transit"
    with unchanged(), pytest.raises(Conflict):
        services.enter_result(
            actor=lab.analyst, sample_id=lab.sample.pk, method="ENDO", value="0.1"
        )
    shipment = services.receive_sample(
        actor=lab.analyst,
        shipment_id=shipment.pk,
        received_by="J. Doe, contract lab",
        condition_on_arrival="Frozen, intact, logger in range",
    )
    lab.sample.refresh_from_db()
    assert (lab.sample.status, lab.sample.lab_kind, lab.sample.lab_name) == (
        "available",
        "external",
        "Contract lab",
    )
    assert shipment.condition_on_arrival.startswith("Frozen")
    with unchanged(), pytest.raises(Conflict):
        services.receive_sample(
            actor=lab.analyst, shipment_id=shipment.pk, received_by="x", condition_on_arrival="y"
        )
    assert verify_chain().ok


def test_a_clinician_may_not_register_samples(lab: Lab) -> None:
    with unchanged(), pytest.raises(PermissionRefused):
        services.register_sample(
            actor=lab.m.w.clinician, batch_id=lab.batch.pk, purpose="release", volume="1", unit="mL"
        )


def test_the_specification_is_approved_by_signature_and_supersedes(lab: Lab) -> None:
    from tests.conftest import PASSWORD
    from tests.qc.conftest import CRITERIA
    from vein2vein.core.models import Signature

    assert Signature.objects.filter(record_type="qc.specification", meaning="approved").count() == 1
    v2 = services.create_specification(
        actor=lab.m.w.supervisor,
        product_id=lab.spec.product_id,
        stage="release",
        title="Test release spec",
        criteria=CRITERIA,
    )
    assert v2.version == 2
    with pytest.raises(PermissionRefused):
        services.approve_specification(actor=lab.analyst, specification_id=v2.pk, password=PASSWORD)
    services.approve_specification(actor=lab.qa, specification_id=v2.pk, password=PASSWORD)
    lab.spec.refresh_from_db()
    assert lab.spec.status == "superseded"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.create_specification(
            actor=lab.m.w.supervisor,
            product_id=lab.spec.product_id,
            stage="release",
            title="Bad",
            criteria=[{"method": "ENDO", "kind": "at_most", "unit": "EU/mL"}],
        )
    assert exc.value.field == "criteria" and "high" in exc.value.message


def test_the_worklist_of_an_analyst_sorted_by_due_date(lab: Lab) -> None:
    import datetime as dt

    from vein2vein.qc import selectors

    today = lab.m.w.today()
    late = services.register_sample(
        actor=lab.analyst,
        batch_id=lab.batch.pk,
        purpose="release",
        volume="1",
        unit="mL",
        assigned_to_id=lab.analyst.pk,
        due_date=today + dt.timedelta(days=5),
    )
    soon = services.register_sample(
        actor=lab.analyst,
        batch_id=lab.batch.pk,
        purpose="release",
        volume="1",
        unit="mL",
        assigned_to_id=lab.analyst.pk,
        due_date=today + dt.timedelta(days=1),
    )
    r = services.enter_result(actor=lab.analyst, sample_id=soon.pk, method="ENDO", value="0.1")
    mine = selectors.worklist(lab.analyst)
    assert [i.sample.number for i in mine][:5] == [soon.number] * 5  # ENDO is done
    assert {i.test for i in mine if i.sample == soon} == {
        "Appearance",
        "Cell viability",
        "CAR expression",
        "Sterility (rapid)",
        "Vector copy number",
    }
    assert {i.sample for i in mine} == {soon, late}
    assert all(i.kind == "test" for i in mine)  # never their own result to review
    theirs = selectors.worklist(lab.analyst2)
    assert [(i.kind, i.result) for i in theirs] == [("review", r)]
    with pytest.raises(ValidationFailed) as exc:
        services.register_sample(
            actor=lab.analyst,
            batch_id=lab.batch.pk,
            purpose="release",
            volume="1",
            unit="mL",
            assigned_to_id=lab.m.operator.pk,
        )
    assert exc.value.field == "assigned_to_id"

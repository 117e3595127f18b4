"""Every interlock of the batch record refuses, names what is wrong, and writes nothing but
the record of the attempt (DESIGN.md rule 6): lot not usable, equipment not usable or of the
wrong kind, operator not qualified, COI mismatch, verifier is the performer, step out of
order, timer limits broken, batch on hold."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from tests.chain.conftest import refusal_recorded
from tests.equipment import factories as eq
from tests.manufacturing.conftest import (
    MFG_MODELS,
    PASSWORD,
    TEST_MBR,
    Mfg,
    ago,
    blocked,
    make_effective_mbr,
    run,
    unchanged,
)
from tests.materials.factories import LotFactory
from vein2vein.chain import services as chain
from vein2vein.chain.models import Patient, TherapyOrder
from vein2vein.core.errors import InterlockBlocked, ValidationFailed
from vein2vein.equipment import services as equipment
from vein2vein.equipment.models import Usage
from vein2vein.manufacturing import selectors, services
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.materials.models import Lot
from vein2vein.quality.models import Deviation

Walk = Callable[..., TherapyOrder]


def other_order(
    mfg: Mfg, walk: Callable[..., TherapyOrder], stage: str = "received"
) -> TherapyOrder:
    """An order of another patient (one open order per patient and product)."""
    w = mfg.w
    patient = chain.enroll_patient(
        actor=w.clinician,
        site_id=w.clinic.pk,
        site_patient_id=f"LUH-{Patient.objects.count() + 900:06d}",
        given_name="Other",
        family_name="Patient",
        date_of_birth="1980-05-06",
        weight_kg="80",
        diagnosis="Relapsed diffuse large B-cell lymphoma",
        consent_status="consented",
        consent_date="2026-01-10",
    )
    return walk(stage, patient=patient)


def record(mfg: Mfg, b: Batch, step: str, **kw: Any) -> StepEntry:
    actor = kw.pop("actor", mfg.operator)
    return services.record_step(actor=actor, batch_id=b.pk, step_key=step, **kw)


def refused(
    b: Batch,
    call: Callable[[], object],
    *,
    message: str,
    field: str | None,
    action: str = "manufacturing.step.execute",
) -> InterlockBlocked:
    """The call is blocked: InterlockBlocked naming `field`, with `message` in its text, and
    exactly one `<action>.blocked` audit event, filed under the batch, written."""
    with blocked(b, action) as events, pytest.raises(InterlockBlocked) as caught:
        call()
    assert message in caught.value.message, caught.value.message
    assert caught.value.field == field, (caught.value.field, caught.value.message)
    assert (events[0].record_type, events[0].record_id) == ("manufacturing.batch", str(b.pk))
    assert events[0].reason == caught.value.message
    return caught.value


# --- lot not usable --------------------------------------------------------------------------

LOTS: list[Any] = [
    pytest.param({"status": "quarantine"}, "in quarantine", id="quarantined"),
    pytest.param(
        {"expiry_date": dt.date.today() - dt.timedelta(days=2)}, "expired on", id="expired"
    ),
    pytest.param(
        {"status": "on_hold", "hold_reason": "CoA query"}, "on hold (CoA query)", id="on-hold"
    ),
    pytest.param({"on_hand": 1}, "not enough quantity: 1", id="too-little"),
    pytest.param(None, "wrong part: the lot is MAT-T02, not MAT-T01", id="wrong-part"),
]


@pytest.mark.parametrize(("lot", "message"), LOTS)
def test_a_lot_that_is_not_usable_is_refused(
    mfg: Mfg, batch: Batch, lot: dict[str, Any] | None, message: str
) -> None:
    run(mfg, batch, until="reagent")
    if lot is None:
        number = mfg.vector.lot_number  # the vector, scanned where the reagent is asked for
    else:
        made: Lot = LotFactory(material=mfg.reagent.material, site=mfg.w.mfg, unit="vial", **lot)
        number = made.lot_number
    refused(
        batch,
        lambda: record(mfg, batch, "reagent", scan=number),
        message=message,
        field="scan",
    )
    assert "reagent" in services.open_steps(batch)
    # A usable lot goes through, and its stock is taken.
    entry = record(mfg, batch, "reagent", scan=mfg.reagent.lot_number)
    assert entry.value_text == mfg.reagent.lot_number
    mfg.reagent.refresh_from_db()
    assert mfg.reagent.on_hand == mfg.reagent.quantity_received - 2


# --- equipment not usable --------------------------------------------------------------------


def _out_of_calibration(mfg: Mfg, walk: Walk) -> str:
    """A second cabinet, qualified, calibrated 60 days ago on a 30-day plan."""
    w = mfg.w
    unit = eq.register(w.supervisor, w.mfg, "BSC-02", kind="biosafety_cabinet")
    eq.qualify(unit, w.supervisor, w.qa_approver, eq.effective_document("FRM-BSC-02", "IQOQPQ"))
    plan = equipment.add_plan(
        actor=w.supervisor,
        equipment_id="BSC-02",
        kind="calibration",
        title="Airflow",
        interval_days=30,
    )
    eq.record(w.supervisor, plan, at=ago(days=60))
    equipment.change_status(
        actor=w.supervisor, equipment_id="BSC-02", status="in_service", reason="OK"
    )
    return "BSC-02"


def _out_of_service(mfg: Mfg, walk: Walk) -> str:
    equipment.change_status(
        actor=mfg.w.supervisor, equipment_id="BSC-01", status="out_of_service", reason="HEPA leak"
    )
    return "BSC-01"


def _wrong_kind(mfg: Mfg, walk: Walk) -> str:
    return "cen-01"  # the centrifuge, as a scanner in lower case might type it


def _in_use(mfg: Mfg, walk: Walk) -> str:
    """Another batch took BSC-01 and its receipt operation is still open."""
    other = services.start_batch(actor=mfg.operator, order_id=other_order(mfg, walk).pk)
    run(mfg, other, until="reagent")
    assert Usage.objects.filter(equipment=mfg.bsc, ended_at__isnull=True).count() == 1
    return "BSC-01"


EQUIPMENT: list[Any] = [
    pytest.param(_out_of_calibration, "calibration 'Airflow' overdue", id="out-of-calibration"),
    pytest.param(_out_of_service, "status is out of service", id="out-of-service"),
    pytest.param(
        _wrong_kind, "CEN-01 is a centrifuge; step 'bsc' needs a biosafety cabinet", id="wrong-kind"
    ),
    pytest.param(_in_use, "in use by batch B-", id="in-use-by-another-batch"),
]


@pytest.mark.parametrize(("make", "message"), EQUIPMENT)
def test_equipment_that_is_not_usable_is_refused(
    mfg: Mfg,
    batch: Batch,
    walk: Walk,
    make: Callable[[Mfg, Walk], str],
    message: str,
) -> None:
    tag = make(mfg, walk)
    run(mfg, batch, until="bsc")
    field = "scan"
    refused(batch, lambda: record(mfg, batch, "bsc", scan=tag), message=message, field=field)
    assert "bsc" in services.open_steps(batch)


def test_scan_refusals_name_the_scan_field(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="reagent")
    quarantined = LotFactory(material=mfg.reagent.material, site=mfg.w.mfg, status="quarantine")
    with pytest.raises(InterlockBlocked) as caught:
        record(mfg, batch, "reagent", scan=quarantined.lot_number)
    assert caught.value.field == "scan"


def test_the_equipment_is_released_when_its_operation_is_done(
    mfg: Mfg, batch: Batch, walk: Walk
) -> None:
    run(mfg, batch, until="vector")  # the receipt operation (coi_in .. cells) is done
    usage = Usage.objects.get(equipment=mfg.bsc)
    assert usage.ended_at is not None
    other = services.start_batch(actor=mfg.operator, order_id=other_order(mfg, walk).pk)
    entries = run(mfg, other, until="reagent")
    assert entries["bsc"].value_text == "BSC-01"


# --- operator not qualified ------------------------------------------------------------------


def test_an_operator_not_qualified_for_the_step_is_refused(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    error = refused(
        batch,
        lambda: record(mfg, batch, "cells", value="120000000", actor=mfg.operator2),
        message="is not qualified: Aseptic process simulation not held",
        field=None,
    )
    assert error.message.startswith(mfg.operator2.printed_name)
    # The qualified operator records it.
    assert record(mfg, batch, "cells", value="120000000").status == "awaiting_verification"


# --- chain of identity -----------------------------------------------------------------------


@contextmanager
def mfg_rows_unchanged() -> Iterator[None]:
    rows = {m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in MFG_MODELS}
    yield
    after = {m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in MFG_MODELS}
    assert after == rows


def test_another_patients_coi_identifier_is_refused_with_an_identity_deviation(
    mfg: Mfg, batch: Batch, walk: Walk
) -> None:
    other = other_order(mfg, walk, "ordered")
    assert batch.order is not None
    with (
        mfg_rows_unchanged(),
        refusal_recorded(batch.order, "manufacturing.step.coi_check", deviation=True) as rec,
        pytest.raises(InterlockBlocked) as caught,
    ):
        record(mfg, batch, "coi_in", scan=f"&/{other.coi}")
    assert caught.value.field == "scan"
    assert "another patient's material" in caught.value.message
    assert rec.deviation is not None
    assert f"deviation {rec.deviation.number} raised" in caught.value.message
    assert rec.events[0].record_type == "chain.therapyorder"
    # The review of the batch shows the identity deviation raised about its order.
    kinds = {(x.kind, x.deviation) for x in selectors.review_exceptions(batch)}
    assert ("deviation", rec.deviation) in kinds


def test_a_malformed_scan_is_refused_without_a_deviation(mfg: Mfg, batch: Batch) -> None:
    assert batch.order is not None
    with (
        mfg_rows_unchanged(),
        refusal_recorded(batch.order, "manufacturing.step.coi_check", deviation=False),
        pytest.raises(ValidationFailed) as caught,
    ):
        record(mfg, batch, "coi_in", scan="hello world")
    assert caught.value.status_code == 400
    assert caught.value.field == "scan"
    assert "not an ISBT 128 barcode" in caught.value.message


# --- verifier is the performer ---------------------------------------------------------------


def test_the_performer_cannot_verify_their_own_entry(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    entry = record(mfg, batch, "cells", value="120000000")
    refused(
        batch,
        lambda: services.verify_entry(actor=mfg.operator, entry_id=entry.pk, password=PASSWORD),
        message="cannot verify their own entry",
        field="password",
        action="manufacturing.step.verify",
    )
    entry.refresh_from_db()
    assert (entry.status, entry.verified_by) == ("awaiting_verification", None)


def test_the_database_refuses_a_verifier_who_is_the_performer(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    entry = record(mfg, batch, "cells", value="120000000")
    entry.verified_by = entry.performed_by
    entry.verified_at = entry.performed_at
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save(update_fields=["verified_by", "verified_at"])
    assert StepEntry.objects.get(pk=entry.pk).verified_by is None


# --- step out of order -----------------------------------------------------------------------


def test_a_step_before_its_predecessor_is_refused(mfg: Mfg, batch: Batch) -> None:
    refused(
        batch,
        lambda: record(mfg, batch, "bsc", scan="BSC-01"),
        message="step 'bsc' is out of order: first finish 'coi_in'",
        field="step_key",
    )
    assert not Usage.objects.exists()


def test_a_step_waits_for_the_verification_of_the_one_before(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    entry = record(mfg, batch, "cells", value="120000000")
    refused(
        batch,
        lambda: record(mfg, batch, "vector", scan=mfg.vector.lot_number),
        message="first finish 'cells' (awaiting verification)",
        field="step_key",
    )
    services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD)
    assert record(mfg, batch, "vector", scan=mfg.vector.lot_number).status == "done"


def test_parallel_branches_may_go_in_any_order_and_the_join_waits_for_both(
    mfg: Mfg, batch: Batch
) -> None:
    run(mfg, batch, until="branch_a")
    assert [s.key for s in selectors.next_steps(batch)] == ["branch_a", "branch_b"]
    record(mfg, batch, "branch_b")  # the second branch first
    refused(
        batch,
        lambda: record(mfg, batch, "dose"),
        message="step 'dose' is out of order: first finish 'branch_a'",
        field="step_key",
    )
    record(mfg, batch, "branch_a", value="all well")
    assert [s.key for s in selectors.next_steps(batch)] == ["dose"]
    assert record(mfg, batch, "dose").value_number is not None


# --- timer limits ----------------------------------------------------------------------------


def test_a_timer_past_its_maximum_needs_a_comment_and_raises_a_deviation(
    mfg: Mfg, batch: Batch
) -> None:
    run(mfg, batch, until="rest")
    # Set-up, not the code under test: the vector was thawed 11 hours ago (a queryset update
    # stands in for waiting; the services never change an entry).
    StepEntry.objects.filter(batch=batch, step_key="vector").update(performed_at=ago(hours=11))
    refused(
        batch,
        lambda: record(mfg, batch, "rest"),
        message="660 min since 'vector' exceeds the maximum of 600 min: a comment is required",
        field="comment",
    )
    entry = record(mfg, batch, "rest", comment="Incubator alarm; vector held at 4 °C")
    assert (entry.flag, entry.value_number, entry.unit) == ("timer", Decimal(660), "min")
    assert entry.details["timer"]["max_minutes"] == 600
    dev = Deviation.objects.get(number=entry.deviation)
    assert (dev.source_type, dev.source_id) == ("manufacturing.batch", str(batch.pk))
    assert "above the maximum of 600 min" in dev.description
    assert "timer" in {x.kind for x in selectors.review_exceptions(batch)}


def test_a_timer_before_its_minimum_is_refused(mfg: Mfg, walk: Walk) -> None:
    variant = TEST_MBR.replace("min_minutes: 0", "min_minutes: 60")
    assert variant != TEST_MBR
    mr = make_effective_mbr(mfg.w, variant, mfg.qa)
    b = services.start_batch(
        actor=mfg.operator, order_id=other_order(mfg, walk).pk, master_record_id=mr.pk
    )
    assert b.master_record_id == mr.pk
    run(mfg, b, until="rest")
    refused(
        b,
        lambda: record(mfg, b, "rest", comment="ready early"),
        message="the minimum is 60 min (wait 60 min more)",
        field="step_key",
    )
    # Once the hour has passed (set-up: the vector entry moved back by a queryset update).
    StepEntry.objects.filter(batch=b, step_key="vector").update(performed_at=ago(minutes=61))
    entry = record(mfg, b, "rest")
    assert (entry.flag, entry.deviation, entry.value_number) == ("", "", Decimal(61))


# --- batch on hold ---------------------------------------------------------------------------


def test_a_batch_on_hold_records_no_step_and_resumes_with_a_reason(mfg: Mfg, batch: Batch) -> None:
    services.hold_batch(actor=mfg.w.supervisor, batch_id=batch.pk, reason="Cleanroom excursion")
    refused(
        batch,
        lambda: record(mfg, batch, "coi_in", scan=f"&/{batch.coi}"),
        message="is on hold (Cleanroom excursion): no step can be recorded",
        field="batch_id",
    )
    for reason in ("", "   "):
        with unchanged(), pytest.raises(ValidationFailed) as caught:
            services.resume_batch(actor=mfg.w.supervisor, batch_id=batch.pk, reason=reason)
        assert caught.value.field == "reason"
    b = services.resume_batch(actor=mfg.w.supervisor, batch_id=batch.pk, reason="Cleared by QA")
    assert (b.status, b.hold_reason) == ("in_progress", "")
    assert record(mfg, batch, "coi_in", scan=f"&/{batch.coi}").status == "done"

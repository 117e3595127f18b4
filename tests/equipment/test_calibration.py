"""Calibration and maintenance: plans, signed records, due dates, and what a failed
calibration does — out of service at once, a deviation, and an impact list naming exactly
the batches that used the unit since its last passing calibration."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.core.helpers import nothing_written
from tests.equipment.factories import (
    EQUIPMENT_MODELS,
    ago,
    certificate,
    in_service,
    record,
    register,
    use,
)
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import Signature
from vein2vein.core.signing import signatures_for
from vein2vein.equipment import selectors, services
from vein2vein.equipment.models import ServiceRecord
from vein2vein.quality.models import Deviation


@pytest.fixture
def ready(site, supervisor, qa_approver, protocol):  # type: ignore[no-untyped-def]
    return in_service(site, supervisor, qa_approver, protocol, calibrated_at=ago(days=40))


def _fail(actor, plan, **kw):  # type: ignore[no-untyped-def]
    return record(actor, plan, result="fail", at=kw.pop("at", ago(hours=1)), **kw)


# --- plans and passing records ----------------------------------------------------------------
def test_a_passing_record_moves_the_due_date_and_is_signed_performed(ready, qc, site):
    _unit, plan = ready
    rec = record(qc, plan, at=ago(days=2))
    plan.refresh_from_db()
    assert plan.last_done == selectors.local_day(ago(days=2), site)
    assert plan.next_due == plan.last_done + dt.timedelta(days=365)
    assert rec.next_due_after == plan.next_due
    assert rec.certificate_sha256 and rec.certificate_name == "cert.pdf"
    (sig,) = signatures_for(rec)
    assert sig.meaning == "performed" and sig.signer == qc


def test_plan_needs_the_manage_role_and_valid_input(site, supervisor, qc, operator):
    unit = register(supervisor, site)
    with nothing_written(*EQUIPMENT_MODELS):
        with pytest.raises(PermissionRefused):
            services.add_plan(
                actor=qc,
                equipment_id=unit.equipment_id,
                kind="calibration",
                title="T",
                interval_days=30,
            )
        with pytest.raises(ValidationFailed) as bad:
            services.add_plan(
                actor=supervisor,
                equipment_id=unit.equipment_id,
                kind="calibration",
                title="T",
                interval_days=0,
            )
        assert bad.value.field == "interval_days"
        with pytest.raises(ValidationFailed) as bad:
            services.add_plan(
                actor=supervisor,
                equipment_id=unit.equipment_id,
                kind="weekly",
                title="T",
                interval_days=7,
            )
        assert bad.value.field == "kind"


def test_change_interval_recomputes_the_due_date(ready, supervisor):
    _unit, plan = ready
    done = plan.last_done
    plan = services.change_interval(
        actor=supervisor, plan_id=plan.pk, interval_days=180, reason="Risk assessment RA-7"
    )
    assert plan.next_due == done + dt.timedelta(days=180)


# --- refusals of a record ---------------------------------------------------------------------
def test_wrong_role_is_refused(ready, operator):
    _, plan = ready
    with nothing_written(*EQUIPMENT_MODELS, Deviation), pytest.raises(PermissionRefused):
        record(operator, plan)


def test_wrong_password_is_refused_counts_toward_lockout_and_writes_nothing(ready, qc):
    _, plan = ready
    with nothing_written(*EQUIPMENT_MODELS, Deviation), pytest.raises(SignatureRefused) as err:
        record(qc, plan, result="fail", remarks="Off", password="wrong")
    assert err.value.field == "password"
    assert AccessAttempt.objects.get(username=qc.username).failures_since_start == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"performed_at": "yesterday"}, "performed_at"),
        ({"performed_at": dt.datetime(2026, 1, 1, 10)}, "performed_at"),  # no zone
        ({"performed_at": ago(days=-1)}, "performed_at"),  # in the future
        ({"performed_at": ago(days=41)}, "performed_at"),  # before the last record
        ({"result": "ok"}, "result"),
        ({"result": "fail", "remarks": ""}, "remarks"),
        ({"certificate": None}, "certificate"),
        ({"certificate": SimpleUploadedFile("c.pdf", b"not a pdf")}, "certificate"),
        ({"certificate": SimpleUploadedFile("c.txt", b"%PDF-1.4")}, "certificate"),
        ({"password": ""}, "password"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(ready, qc, change, field):
    _, plan = ready
    with nothing_written(*EQUIPMENT_MODELS, Deviation), pytest.raises(ValidationFailed) as bad:
        record(qc, plan, **change)
    assert bad.value.field == field, bad.value.message


def test_maintenance_needs_no_certificate(ready, supervisor, qc):
    unit, _ = ready
    plan = services.add_plan(
        actor=supervisor,
        equipment_id=unit.equipment_id,
        kind="maintenance",
        title="Rotor inspection",
        interval_days=90,
    )
    rec = record(qc, plan)
    assert rec.certificate_sha256 == "" and rec.result == "pass"


# --- the failed calibration -------------------------------------------------------------------
def test_failed_calibration_takes_the_unit_out_of_service_and_raises_a_deviation(ready, qc):
    unit, plan = ready
    rec = _fail(qc, plan)
    unit.refresh_from_db()
    assert unit.status == "out_of_service"
    assert "failed" in unit.status_reason
    dev = Deviation.objects.get()
    assert dev.category == "equipment"
    assert (dev.source_type, dev.source_id) == ("equipment.equipment", str(unit.pk))
    assert rec.deviation_number == dev.number and rec.deviation_id == str(dev.pk)
    assert "CEN-01" in dev.title
    assert not selectors.check_equipment_usable(unit).ok
    assert Signature.objects.filter(record_id=str(rec.pk), meaning="performed").count() == 1


def test_impact_list_names_exactly_the_batches_used_since_the_last_passing_calibration(
    ready, supervisor, qc
):
    unit, plan = ready  # first passing calibration 40 days ago
    use(supervisor, unit, "B-0001", ago(days=30), ago(days=29))  # before the last pass: out
    use(supervisor, unit, "B-0005", ago(days=21), ago(days=19))  # spans the last pass: in
    record(qc, plan, at=ago(days=20))  # the last passing calibration
    use(supervisor, unit, "B-0002", ago(days=15), ago(days=14))  # after it: in
    use(supervisor, unit, "B-0003", ago(days=5), ago(days=4))  # after it: in
    use(supervisor, unit, "B-0004", ago(days=1))  # still in use: in
    rec = _fail(qc, plan)
    assert selectors.impact_batches(rec) == ["B-0005", "B-0002", "B-0003", "B-0004"]
    items = list(selectors.impact_items(rec))
    assert items[-1].ended_at is None  # the open use is named as still in use
    assert (
        rec.impact_window_start
        == ServiceRecord.objects.filter(plan=plan, result="pass")
        .order_by("-performed_at")[0]
        .performed_at
    )
    dev = Deviation.objects.get()
    assert "B-0002, B-0003, B-0004, B-0005" in dev.description
    assert "B-0001" not in dev.description


def test_impact_list_with_no_passing_calibration_ever_names_every_use(
    site, supervisor, qa_approver, qc, protocol
):
    unit, _plan = in_service(site, supervisor, qa_approver, protocol, calibrated_at=ago(days=10))
    use(supervisor, unit, "B-0100", ago(days=5), ago(days=4))
    # The plan's only passing record counts as the last pass: a second plan never passed.
    other = services.add_plan(
        actor=supervisor,
        equipment_id=unit.equipment_id,
        kind="calibration",
        title="Temperature probe",
        interval_days=365,
    )
    rec = _fail(qc, other)
    assert rec.impact_window_start is None
    assert selectors.impact_batches(rec) == ["B-0100"]


def test_return_to_service_after_a_failed_calibration_needs_a_passing_one(ready, supervisor, qc):
    unit, plan = ready
    _fail(qc, plan)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(Conflict, match="record a passing"):
        services.change_status(
            actor=supervisor, equipment_id=unit.equipment_id, status="in_service", reason="Fixed"
        )
    record(qc, plan, at=ago(minutes=5))
    unit = services.change_status(
        actor=supervisor, equipment_id=unit.equipment_id, status="in_service", reason="Recalibrated"
    )
    assert unit.status == "in_service"
    assert selectors.check_equipment_usable(unit).ok


def test_starting_a_usage_on_the_failed_unit_is_refused_and_recorded(ready, supervisor, qc):
    unit, plan = ready
    _fail(qc, plan)
    with pytest.raises(InterlockBlocked, match="status is out of service"):
        use(supervisor, unit, "B-0009", ago(minutes=1))


def test_certificate_is_stored_with_its_sha256(ready, qc):
    import hashlib

    _, plan = ready
    body = certificate().read()
    rec = record(qc, plan, certificate=certificate(content=body))
    assert rec.certificate_sha256 == hashlib.sha256(body).hexdigest()
    with rec.certificate.open("rb") as fh:
        assert fh.read() == body

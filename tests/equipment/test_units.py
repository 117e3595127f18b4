"""Units and their qualification: register, correct, move status (audited, retired is final),
IQ/OQ/PQ recorded against an effective controlled document and approved by a QA approver
with a signature; entering service refused until all three are approved."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.equipment.factories import EQUIPMENT_MODELS, in_service, qualify, register
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent
from vein2vein.core.signing import signatures_for
from vein2vein.documents.models import Document
from vein2vein.equipment import services
from vein2vein.equipment.models import Equipment


def _record(actor, unit, **kw):  # type: ignore[no-untyped-def]
    values = {
        "equipment_id": unit.equipment_id,
        "stage": "IQ",
        "document": "FRM-0101",
        "result": "pass",
        "performed_on": dt.date.today() - dt.timedelta(days=3),
    }
    values.update(kw)
    return services.record_qualification(actor=actor, **values)


# --- register and correct ---------------------------------------------------------------------
def test_register_starts_in_qualification_and_is_audited(site, supervisor):
    unit = register(supervisor, site, "bsc-01", kind="biosafety_cabinet")
    assert unit.equipment_id == "BSC-01" and unit.status == "in_qualification"
    event = AuditEvent.objects.get(action="equipment.unit.registered")
    assert event.changes["equipment_id"]["new"] == "BSC-01"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"equipment_id": "b"}, "equipment_id"),
        ({"equipment_id": "BSC 01"}, "equipment_id"),
        ({"name": ""}, "name"),
        ({"kind": "toaster"}, "kind"),
        ({"location": ""}, "location"),
        ({"serial_number": "x" * 101}, "serial_number"),
        ({"site_id": "one"}, "site_id"),
        ({"name": "bad\x00name"}, "name"),
    ],
)
def test_register_bad_input_names_the_field(site, supervisor, change, field):
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(ValidationFailed) as bad:
        register(supervisor, site, **change)
    assert bad.value.field == field


def test_register_duplicate_tag_is_refused(site, supervisor):
    register(supervisor, site)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(ValidationFailed) as bad:
        register(supervisor, site, "cen-01")
    assert bad.value.field == "equipment_id"


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.QC_ANALYST, Role.INSPECTOR, Role.ADMIN])
def test_register_wrong_role_is_refused(site, make_user, role):
    user = make_user(role)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(PermissionRefused):
        register(user, site)


def test_register_at_another_site_needs_a_role_there(site, supervisor, make_site):
    other = make_site(code="MFG-OTHER")
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(PermissionRefused):
        register(supervisor, other)


def test_correct_details_with_reason(site, supervisor):
    unit = register(supervisor, site)
    unit = services.update_equipment(
        actor=supervisor, equipment_id="CEN-01", reason="Moved", location="Suite 2"
    )
    assert unit.location == "Suite 2"
    event = AuditEvent.objects.get(action="equipment.unit.updated")
    assert event.changes == {"location": {"old": "Suite 1", "new": "Suite 2"}}
    assert event.reason == "Moved"
    with nothing_written(*EQUIPMENT_MODELS):
        with pytest.raises(ValidationFailed) as bad:
            services.update_equipment(actor=supervisor, equipment_id="CEN-01", reason="", name="X")
        assert bad.value.field == "reason"
        with pytest.raises(ValidationFailed) as bad:
            services.update_equipment(
                actor=supervisor, equipment_id="CEN-01", reason="r", kind="incubator"
            )
        assert bad.value.field == "kind"
        with pytest.raises(NotFound):
            services.update_equipment(actor=supervisor, equipment_id="NOPE-1", reason="r", name="X")


# --- status -----------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["IQ", "OQ", "PQ"])
def test_enter_service_is_refused_without_each_stage(
    site, supervisor, qa_approver, protocol, missing
):
    unit = register(supervisor, site)
    qualify(
        unit,
        supervisor,
        qa_approver,
        protocol,
        stages=tuple(s for s in ["IQ", "OQ", "PQ"] if s != missing),
    )
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(Conflict) as err:
        services.change_status(
            actor=supervisor, equipment_id=unit.equipment_id, status="in_service", reason="Go"
        )
    assert f"{missing} not approved" in err.value.message


def test_a_pending_or_failed_stage_does_not_qualify(site, supervisor, qa_approver, protocol):
    unit = register(supervisor, site)
    qualify(unit, supervisor, qa_approver, protocol, stages=("IQ", "OQ"))
    _record(supervisor, unit, stage="PQ")  # recorded, not approved
    failed = _record(supervisor, unit, stage="PQ", result="fail")
    services.approve_qualification(actor=qa_approver, record_id=failed.pk, password=PASSWORD)
    assert services.entry_gaps(unit) == ["PQ not approved"]


def test_status_moves_are_audited_with_reason_and_retired_is_final(
    site, supervisor, qa_approver, protocol
):
    _unit, _ = in_service(site, supervisor, qa_approver, protocol)
    services.change_status(
        actor=supervisor, equipment_id="CEN-01", status="out_of_service", reason="Noisy rotor"
    )
    event = AuditEvent.objects.filter(action="equipment.unit.out_of_service").get()
    assert event.reason == "Noisy rotor"
    assert event.changes == {"status": {"old": "in_service", "new": "out_of_service"}}
    services.change_status(actor=supervisor, equipment_id="CEN-01", status="retired", reason="Old")
    for target in ("in_service", "out_of_service", "in_qualification"):
        with nothing_written(*EQUIPMENT_MODELS), pytest.raises(Conflict):
            services.change_status(
                actor=supervisor, equipment_id="CEN-01", status=target, reason="Again"
            )


def test_status_refusals(site, supervisor, qa_approver, operator):
    register(supervisor, site)
    with nothing_written(*EQUIPMENT_MODELS):
        with pytest.raises(PermissionRefused):
            services.change_status(
                actor=operator, equipment_id="CEN-01", status="retired", reason="r"
            )
        with pytest.raises(ValidationFailed) as bad:
            services.change_status(
                actor=supervisor, equipment_id="CEN-01", status="broken", reason="r"
            )
        assert bad.value.field == "status"
        with pytest.raises(ValidationFailed) as bad:
            services.change_status(
                actor=supervisor, equipment_id="CEN-01", status="retired", reason=" "
            )
        assert bad.value.field == "reason"
        with pytest.raises(Conflict):
            services.change_status(
                actor=supervisor, equipment_id="CEN-01", status="in_qualification", reason="r"
            )


# --- qualification records ----------------------------------------------------------------------
def test_qualification_is_recorded_against_the_effective_version_and_approved_with_signature(
    site, supervisor, qa_approver, protocol
):
    unit = register(supervisor, site)
    rec = _record(supervisor, unit)
    assert rec.status == "pending_approval" and rec.document_version == 1
    rec = services.approve_qualification(
        actor=qa_approver, record_id=rec.pk, password=PASSWORD, reason="Protocol complete"
    )
    assert rec.status == "approved" and rec.approved_by == qa_approver
    (sig,) = signatures_for(rec)
    assert sig.meaning == "approved" and sig.signer == qa_approver
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(Conflict):
        services.approve_qualification(actor=qa_approver, record_id=rec.pk, password=PASSWORD)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stage": "DQ"}, "stage"),
        ({"result": "maybe"}, "result"),
        ({"performed_on": dt.date.today() + dt.timedelta(days=2)}, "performed_on"),
        ({"performed_on": "2026-01-01"}, "performed_on"),
        ({"document": "FRM-9999"}, "document"),
        ({"document": "not a number"}, "document"),
        ({"remarks": 5}, "remarks"),
    ],
)
def test_qualification_bad_input_names_the_field(site, supervisor, protocol, change, field):
    unit = register(supervisor, site)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises((ValidationFailed, NotFound)) as bad:
        _record(supervisor, unit, **change)
    assert bad.value.field == field


def test_a_document_without_an_effective_version_is_refused(site, supervisor, protocol):
    unit = register(supervisor, site)
    Document.objects.create(
        number="FRM-0200",
        title="Draft only",
        kind="form",
        owner=supervisor,
        created_at=protocol.created_at,
    )
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(ValidationFailed, match="no effective"):
        _record(supervisor, unit, document="FRM-0200")


def test_approval_refusals(site, supervisor, qa_approver, make_user, protocol):
    unit = register(supervisor, site)
    rec = _record(supervisor, unit)
    with nothing_written(*EQUIPMENT_MODELS):
        with pytest.raises(PermissionRefused):  # a supervisor records but does not approve
            services.approve_qualification(actor=supervisor, record_id=rec.pk, password=PASSWORD)
        with pytest.raises(SignatureRefused) as err:
            services.approve_qualification(actor=qa_approver, record_id=rec.pk, password="nope")
        assert err.value.field == "password"
    assert AccessAttempt.objects.get(username=qa_approver.username).failures_since_start == 1


def test_the_recorder_cannot_approve_their_own_record(site, make_user, protocol):
    both = make_user(Role.QA_APPROVER, username="both")
    unit = register(both, site)
    rec = _record(both, unit)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(SignatureRefused, match="performer"):
        services.approve_qualification(actor=both, record_id=rec.pk, password=PASSWORD)


def test_retired_units_take_no_new_records(site, supervisor, protocol):
    unit = register(supervisor, site)
    services.change_status(actor=supervisor, equipment_id="CEN-01", status="retired", reason="r")
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(Conflict, match="retired"):
        _record(supervisor, unit)
    assert Equipment.objects.get().status == "retired"

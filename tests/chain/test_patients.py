"""Patients: enrolled and corrected by the clinical site only, every bad field named, and
visible (with their personal data) only to the clinical users of their own site."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.chain.conftest import World, refused, refused_roles, unchanged
from vein2vein.chain import selectors, services
from vein2vein.chain.models import Patient
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, RoleAssignment, User
from vein2vein.core.time import now

pytestmark = pytest.mark.django_db


def _enroll(world: World, actor: User | None = None, **over: Any) -> Patient:
    values: dict[str, Any] = {
        "site_id": world.clinic.pk,
        "site_patient_id": "LUH-000999",
        "given_name": "Jon",
        "family_name": "Berg",
        "date_of_birth": "1980-06-01",
        "weight_kg": "81.2",
        "diagnosis": "Relapsed B-ALL",
        "consent_status": "consented",
        "consent_date": str(world.today(world.clinic)),
    }
    values.update(over)
    return services.enroll_patient(actor=actor or world.clinician, **values)


def _other_clinic(world: World, make_site, make_user) -> tuple[Any, User]:  # type: ignore[no-untyped-def]
    other = make_site(code="CLIN-X", kind="clinical", time_zone="Europe/Madrid", fin="")
    return other, make_user(Role.CLINICAL_SITE, other, username="clin-x", full_name="Xavi Other")


# --- enrolment -------------------------------------------------------------------------------


def test_a_clinical_user_enrolls_a_patient_with_an_audit_record(world: World) -> None:
    p = _enroll(world)
    assert (p.site, p.site_patient_id, p.family_name) == (world.clinic, "LUH-000999", "Berg")
    assert p.date_of_birth == dt.date(1980, 6, 1)
    assert str(p.weight_kg) == "81.2"
    assert p.consent_status == "consented"
    assert p.enrolled_by == world.clinician
    event = AuditEvent.objects.get(action="chain.patient.enrolled", record_id=str(p.pk))
    assert event.changes["site_patient_id"] == {"old": None, "new": "LUH-000999"}


def test_a_patient_not_yet_consented_is_enrolled_without_a_consent_date(world: World) -> None:
    p = _enroll(world, consent_status="not_consented", consent_date=None)
    assert (p.consent_status, p.consent_date) == ("not_consented", None)


def test_only_the_clinical_role_enrolls(world: World, everyone) -> None:  # type: ignore[no-untyped-def]
    for role in refused_roles({Role.CLINICAL_SITE}):
        with refused(
            PermissionRefused,
            field=None,
            message="chain.patient.manage needs one of these roles at CLIN-C: clinical_site",
        ):
            _enroll(world, everyone[role])


def test_a_clinical_user_of_another_site_cannot_enroll_here(world: World) -> None:
    with refused(PermissionRefused, field=None, message="at CLIN-C: clinical_site"):
        _enroll(world, world.collector)  # clinical_site at APH-D only


BAD_FIELDS: list[tuple[dict[str, Any], str, str]] = [
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "date_of_birth is in the future"),
    ({"date_of_birth": "1901-01-01"}, "date_of_birth", "more than 120 years ago"),
    ({"date_of_birth": "14/03/1971"}, "date_of_birth", "not a date (14/03/1971); use YYYY-MM-DD"),
    ({"date_of_birth": ""}, "date_of_birth", "date_of_birth is required"),
    ({"weight_kg": "0"}, "weight_kg", "weight_kg must be from 0.5 to 400, not 0"),
    ({"weight_kg": "-70"}, "weight_kg", "weight_kg must be from 0.5 to 400"),
    ({"weight_kg": "400.1"}, "weight_kg", "weight_kg must be from 0.5 to 400, not 400.1"),
    ({"weight_kg": "68.55"}, "weight_kg", "at most 1 decimals"),
    ({"weight_kg": "heavy"}, "weight_kg", "weight_kg must be a number"),
    ({"weight_kg": None}, "weight_kg", "weight_kg is required"),
    ({"consent_status": "maybe"}, "consent_status", "consent_status must be one of"),
    ({"consent_date": None}, "consent_date", "consent_date is required when"),
    ({"consent_date": "2999-01-01"}, "consent_date", "consent_date is in the future"),
    ({"site_patient_id": ""}, "site_patient_id", "site_patient_id is required"),
    ({"site_patient_id": "LUH-Ø1"}, "site_patient_id", "printable ASCII"),
    ({"site_patient_id": "X" * 41}, "site_patient_id", "at most 40 characters"),
    ({"given_name": " "}, "given_name", "given_name is required"),
    ({"family_name": ""}, "family_name", "family_name is required"),
    ({"diagnosis": ""}, "diagnosis", "diagnosis is required"),
    ({"site_id": "abc"}, "site_id", "site_id must be a record id"),
]


def test_every_bad_field_is_named(world: World) -> None:
    for over, field, message in BAD_FIELDS:
        with refused(ValidationFailed, field=field, message=message):
            _enroll(world, **over)


def test_an_unknown_site_is_not_found(world: World) -> None:
    with refused(NotFound, field="site_id", message="does not exist or is inactive"):
        _enroll(world, site_id=999_999)


def test_a_site_patient_id_is_unique_per_site(world: World, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    with refused(
        Conflict, field="site_patient_id", message="CLIN-C already has a patient LUH-000123"
    ):
        _enroll(world, site_patient_id="LUH-000123")
    other, clinician = _other_clinic(world, make_site, make_user)
    p = _enroll(world, clinician, site_id=other.pk, site_patient_id="LUH-000123")
    assert p.site == other  # the same number at another hospital is another patient


# --- corrections -----------------------------------------------------------------------------


def test_a_correction_keeps_the_old_value_and_the_reason(world: World) -> None:
    p = services.correct_patient(
        actor=world.clinician, patient_id=world.patient.pk, reason="Weighed again", weight_kg="70"
    )
    p.refresh_from_db()
    assert str(p.weight_kg) == "70.0"
    event = AuditEvent.objects.get(action="chain.patient.corrected", record_id=str(p.pk))
    assert event.changes == {"weight_kg": {"old": "68.5", "new": "70.0"}}
    assert event.reason == "Weighed again"


BAD_CORRECTIONS: list[tuple[dict[str, Any], str | None, str]] = [
    ({"weight_kg": "70"}, "reason", "reason is required"),
    ({"weight_kg": "68.5", "reason": "same"}, None, "nothing to change"),
    ({"weight_kg": "68.50", "reason": "same"}, "weight_kg", "at most 1 decimals"),
    ({"weight_kg": "68.5"}, "reason", "reason is required"),
    ({"site": 3, "reason": "move"}, "site", "site cannot be changed"),
    ({"consent_date": None, "reason": "x"}, "consent_date", "required"),
    ({"weight_kg": "0", "reason": "x"}, "weight_kg", "from 0.5 to 400"),
]


def test_a_bad_correction_is_refused(world: World) -> None:
    for kwargs, field, message in BAD_CORRECTIONS:
        with refused(ValidationFailed, field=field, message=message):
            services.correct_patient(
                actor=world.clinician,
                patient_id=world.patient.pk,
                **{"reason": "", **kwargs},
            )


def test_a_correction_cannot_take_another_patients_id(world: World) -> None:
    other = _enroll(world)
    with refused(Conflict, field="site_patient_id", message="already has a patient LUH-000123"):
        services.correct_patient(
            actor=world.clinician,
            patient_id=other.pk,
            reason="typo",
            site_patient_id="LUH-000123",
        )


def test_only_the_clinical_role_corrects(world: World, everyone) -> None:  # type: ignore[no-untyped-def]
    for role in refused_roles({Role.CLINICAL_SITE}):
        with refused(PermissionRefused, field=None, message="chain.patient.manage"):
            services.correct_patient(
                actor=everyone[role], patient_id=world.patient.pk, reason="x", weight_kg="70"
            )


def test_the_apheresis_clinician_cannot_correct_the_clinics_patient(world: World) -> None:
    with refused(PermissionRefused, field=None, message="at CLIN-C"):
        services.correct_patient(
            actor=world.collector, patient_id=world.patient.pk, reason="x", weight_kg="70"
        )


# --- who sees whom -----------------------------------------------------------------------------


def test_patients_are_seen_by_their_own_clinical_site_only(
    world: World, everyone, make_site, make_user
) -> None:  # type: ignore[no-untyped-def]
    _other, stranger = _other_clinic(world, make_site, make_user)
    theirs = _enroll(world, stranger, site_id=_other.pk, site_patient_id="X-1")
    assert list(selectors.patients_for(world.clinician)) == [world.patient]
    assert list(selectors.patients_for(stranger)) == [theirs]
    for who in (world.collector, world.operator, world.qc, world.qa_approver, world.inspector):
        assert list(selectors.patients_for(who)) == []
    # Every other role, even held at the patient's own site, sees no patient.
    for role, user in everyone.items():
        expected = [world.patient] if role == Role.CLINICAL_SITE else []
        assert list(selectors.patients_for(user)) == expected, role


def test_identity_is_for_the_clinical_users_of_the_patients_sites(
    world: World, walk, make_site, make_user
) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    _other, stranger = _other_clinic(world, make_site, make_user)
    assert selectors.can_see_identity(world.clinician, o)
    assert selectors.can_see_identity(world.collector, o)  # collects from the patient
    for who in (stranger, world.operator, world.supervisor, world.qc, world.inspector):
        assert not selectors.can_see_identity(who, o)
    assert selectors.can_see_identity(world.clinician, patient=world.patient)
    assert not selectors.can_see_identity(world.collector, patient=world.patient)
    assert not selectors.can_see_identity(stranger, patient=world.patient)
    assert not selectors.can_see_identity(world.clinician)  # nothing asked: nothing shown


def test_reading_patients_writes_nothing(world: World) -> None:
    with unchanged():
        list(selectors.patients_for(world.clinician))
        selectors.can_see_identity(world.clinician, patient=world.patient)


def test_a_revoked_role_sees_and_enrolls_nobody(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("ordered")
    RoleAssignment.objects.filter(user=world.clinician).update(revoked_at=now())
    assert list(selectors.patients_for(world.clinician)) == []
    assert list(selectors.orders_for(world.clinician)) == []
    assert not selectors.can_see_identity(world.clinician, o)
    with refused(PermissionRefused, field=None, message="at CLIN-C: clinical_site"):
        _enroll(world)

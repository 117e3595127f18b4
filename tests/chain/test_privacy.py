"""Personal data in the audit trail is hidden from those who may not see it (core.privacy),
while the stored event and the chain stay untouched."""

from __future__ import annotations

import pytest
from django.test import Client

from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.core.privacy import HIDDEN, visible_changes

pytestmark = pytest.mark.django_db


def _enrolment(world) -> AuditEvent:  # type: ignore[no-untyped-def]
    return AuditEvent.objects.get(action="chain.patient.enrolled", record_id=str(world.patient.pk))


def test_the_clinical_user_reads_the_patients_name(world) -> None:  # type: ignore[no-untyped-def]
    changes = visible_changes(world.clinician, _enrolment(world))
    assert changes["family_name"] == {"old": None, "new": "Garcia"}
    assert changes["date_of_birth"]["new"] == "1971-03-14"


@pytest.mark.parametrize("who", ["operator", "qc", "qa_approver", "inspector", "collector"])
def test_everybody_else_reads_it_hidden(world, who) -> None:  # type: ignore[no-untyped-def]
    event = _enrolment(world)
    changes = visible_changes(getattr(world, who), event)
    for name in ("given_name", "family_name", "date_of_birth", "site_patient_id"):
        assert changes[name] == {"old": None, "new": HIDDEN}
    assert changes["diagnosis"]["new"] == "Relapsed diffuse large B-cell lymphoma"
    event.refresh_from_db()
    assert event.changes["family_name"]["new"] == "Garcia"  # stored as it was
    assert verify_chain().ok


def test_audit_pages_and_api_hide_it(world, client: Client) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import PASSWORD

    for user, shown in ((world.inspector, False), (world.clinician, True)):
        user.set_password(PASSWORD)
        user.save()
        client.force_login(user)
        page = client.get("/audit/", {"record_type": "chain.patient"}).content.decode()
        api = client.get("/api/v1/audit/events", {"record_type": "chain.patient"}).json()
        assert ("Garcia" in page) is shown
        assert ("Garcia" in str(api)) is shown
        assert (HIDDEN in page) is not shown

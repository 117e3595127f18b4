"""is_qualified and require_qualified: the question later apps ask before a user executes a step.

Acceptance: "A new effective version of a document makes is_qualified false for users who have
not read it, and true again once they sign."
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.training.conftest import TRAINING_MODELS
from tests.training.factories import DocumentFactory, make_effective
from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import InterlockBlocked
from vein2vein.core.models import AuditEvent
from vein2vein.training import services
from vein2vein.training.models import TrainingAssignment
from vein2vein.training.selectors import curriculum_status, is_qualified
from vein2vein.training.services._common import add_months

MADRID = ZoneInfo("Europe/Madrid")


def _sign(user, document, version=None):  # type: ignore[no-untyped-def]
    """The trainee signs the open assignment for `document` (its newest version)."""
    qs = TrainingAssignment.objects.filter(trainee=user, document_version__document=document)
    if version is not None:
        qs = qs.filter(document_version__version=version)
    assignment = qs.order_by("-document_version__version").first()
    return services.sign_assignment(actor=user, assignment_id=assignment.pk, password=PASSWORD)


def test_new_effective_version_makes_is_qualified_false_until_the_user_signs(
    operator, supervisor, sop4
):
    """The acceptance line, with the hook emitted the way the documents app emits it."""
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
    )
    assert not is_qualified(operator, ["SOP-0004"])
    _sign(operator, sop4)
    assert is_qualified(operator, ["SOP-0004"])

    version2 = make_effective(sop4, actor=supervisor)  # documents emits the hook
    result = is_qualified(operator, ["SOP-0004"])
    assert not result
    assert result.missing == ["SOP-0004 v2 not read"]
    assert TrainingAssignment.objects.filter(trainee=operator, document_version=version2).exists()

    _sign(operator, sop4, version=2)
    result = is_qualified(operator, [sop4])
    assert result.ok and bool(result) and result.missing == []


def test_messages_name_each_missing_item_exactly(operator, supervisor, curriculum, gowning):
    services.sync_assignments()
    at = timezone.now()
    result = is_qualified(operator, ["SOP-0001", "SOP-0004", "ASEPTIC-GOWNING", "APS"], at=at)
    assert result.missing == [
        "SOP-0001 v1 not read",
        "SOP-0004 v1 not read",
        "Aseptic gowning not held",
        "Aseptic process simulation not held",
    ]
    assert result.message == (
        "Olivia Operator is not qualified: SOP-0001 v1 not read; SOP-0004 v1 not read; "
        "Aseptic gowning not held; Aseptic process simulation not held"
    )
    assert str(result) == result.message


def test_trainer_led_read_waits_for_the_trainer(operator, supervisor, curriculum, sop1):
    services.sync_assignments()
    _sign(operator, sop1)
    assert is_qualified(operator, ["SOP-0001"]).missing == [
        "SOP-0001 v1 read, trainer sign-off missing"
    ]
    assignment = TrainingAssignment.objects.get(trainee=operator, document_version__document=sop1)
    services.sign_off_assignment(actor=supervisor, assignment_id=assignment.pk, password=PASSWORD)
    assert is_qualified(operator, ["SOP-0001"])


def test_expired_qualification_names_its_expiry_date(operator, supervisor, site, gowning):
    q = services.grant_qualification(
        actor=supervisor,
        user_id=operator.pk,
        qualification_code="ASEPTIC-GOWNING",
        site_id=site.pk,
        password=PASSWORD,
    )
    assert is_qualified(operator, ["ASEPTIC-GOWNING"])
    # It lapses by itself: no job runs, the check compares with the time of the check.
    assert q.expires_at.date() == add_months(q.granted_at, 12).date()
    later = q.expires_at + dt.timedelta(seconds=1)
    result = is_qualified(operator, [gowning], at=later)
    local_day = q.expires_at.astimezone(MADRID).date()  # the site's day, not UTC's
    assert result.missing == [f"Aseptic gowning expired {local_day.isoformat()}"]
    just_before = q.expires_at - dt.timedelta(seconds=1)
    assert is_qualified(operator, [gowning], at=just_before)


def test_expired_qualification_fails_now_without_any_job(operator, supervisor, site, gowning):
    q = services.grant_qualification(
        actor=supervisor,
        user_id=operator.pk,
        qualification_code="ASEPTIC-GOWNING",
        site_id=site.pk,
        password=PASSWORD,
    )
    # Time passes (set-up only: move the grant a year and a day into the past).
    year_ago = timezone.now() - dt.timedelta(days=367)
    type(q).objects.filter(pk=q.pk).update(
        granted_at=year_ago, expires_at=year_ago + dt.timedelta(days=365)
    )
    result = is_qualified(operator, ["ASEPTIC-GOWNING"])
    assert not result
    assert result.missing[0].startswith("Aseptic gowning expired ")


def test_revoked_qualification_names_the_revocation_date(operator, supervisor, site, gowning):
    q = services.grant_qualification(
        actor=supervisor,
        user_id=operator.pk,
        qualification_code="ASEPTIC-GOWNING",
        site_id=site.pk,
        password=PASSWORD,
    )
    before = timezone.now()
    services.revoke_qualification(
        actor=supervisor, qualification_id=q.pk, reason="Failed gowning assessment"
    )
    q.refresh_from_db()
    day = q.revoked_at.astimezone(MADRID).date()
    assert is_qualified(operator, ["ASEPTIC-GOWNING"]).missing == [
        f"Aseptic gowning revoked {day.isoformat()}"
    ]
    # Asked about a moment before the revocation, the answer is the one given then.
    assert is_qualified(operator, ["ASEPTIC-GOWNING"], at=before)


def test_history_is_answered_as_it_was(operator, supervisor, curriculum, sop4):
    services.sync_assignments()
    _sign(operator, sop4)
    signed = timezone.now()
    make_effective(sop4)
    assert is_qualified(operator, ["SOP-0004"], at=signed)
    assert is_qualified(operator, ["SOP-0004"]).missing == ["SOP-0004 v2 not read"]
    before_any = timezone.now() - dt.timedelta(days=30)
    assert is_qualified(operator, ["SOP-0004"], at=before_any).missing == [
        "SOP-0004 has no effective version"
    ]


def test_unknown_requirements_and_documents_without_effective_version_fail_closed(operator, db):
    DocumentFactory(number="SOP-0099")  # a draft only: never effective
    result = is_qualified(operator, ["SOP-0099", "NO-SUCH-THING", "sop-0099"])
    assert result.missing == [
        "SOP-0099 has no effective version",
        "NO-SUCH-THING: no such document or qualification",
    ]


def test_no_requirements_is_qualified(operator):
    assert is_qualified(operator, [])


def test_curriculum_status_covers_the_whole_curriculum(operator, supervisor, curriculum):
    services.sync_assignments()
    assert len(curriculum_status(operator).missing) == 4
    assert curriculum_status(supervisor).ok  # no curriculum for supervisors here


# --- require_qualified ----------------------------------------------------------------------
def test_require_qualified_raises_and_records_the_blocked_attempt(
    operator, supervisor, curriculum, sop4, site
):
    services.sync_assignments()
    with pytest.raises(InterlockBlocked) as exc:
        services.require_qualified(
            user=operator,
            requirements=["SOP-0004", "APS"],
            action="manufacturing.step.execute",
            record=site,
        )
    message = (
        "Olivia Operator is not qualified: SOP-0004 v1 not read; "
        "Aseptic process simulation not held"
    )
    assert exc.value.message == message
    assert exc.value.status_code == 409
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "manufacturing.step.execute.blocked"
    assert event.actor == operator
    assert (event.record_type, event.record_id) == ("core.site", str(site.pk))
    assert event.reason == message
    assert event.changes["missing"]["new"] == [
        "SOP-0004 v1 not read",
        "Aseptic process simulation not held",
    ]
    assert event.changes["requirements"]["new"] == ["SOP-0004", "APS"]
    assert verify_chain().ok


def test_require_qualified_changes_nothing_but_the_audit_trail(
    operator, supervisor, curriculum, site
):
    services.sync_assignments()
    from vein2vein.training.models import Qualification, TrainingAssignment

    rows = {m.__name__: list(m.objects.order_by("pk").values_list()) for m in TRAINING_MODELS}
    events = AuditEvent.objects.count()
    with pytest.raises(InterlockBlocked):
        services.require_qualified(
            user=operator, requirements=["APS"], action="x.step", record=site
        )
    assert AuditEvent.objects.count() == events + 1
    assert rows == {
        m.__name__: list(m.objects.order_by("pk").values_list()) for m in TRAINING_MODELS
    }
    assert Qualification.objects.count() == 0 and TrainingAssignment.objects.count() == 2


def test_require_qualified_passes_silently_when_qualified(operator, supervisor, site, gowning):
    services.grant_qualification(
        actor=supervisor,
        user_id=operator.pk,
        qualification_code="ASEPTIC-GOWNING",
        site_id=site.pk,
        password=PASSWORD,
    )
    events = AuditEvent.objects.count()
    result = services.require_qualified(
        user=operator, requirements=["ASEPTIC-GOWNING"], action="x.step", record=site
    )
    assert result.ok
    assert AuditEvent.objects.count() == events


def test_require_qualified_refuses_to_run_inside_a_transaction(operator, site):
    with pytest.raises(RuntimeError, match=r"before transaction\.atomic"), transaction.atomic():
        services.require_qualified(user=operator, requirements=["APS"], action="x", record=site)


def test_require_qualified_refuses_an_expired_qualification(operator, supervisor, site, aps):
    q = services.grant_qualification(
        actor=supervisor,
        user_id=operator.pk,
        qualification_code="APS",
        site_id=site.pk,
        password=PASSWORD,
    )
    later = q.expires_at + dt.timedelta(hours=1)
    with pytest.raises(InterlockBlocked, match="Aseptic process simulation expired"):
        services.require_qualified(
            user=operator, requirements=["APS"], action="qc.test.start", record=q, at=later
        )
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "qc.test.start.blocked"
    assert (event.record_type, event.record_id) == ("training.qualification", str(q.pk))

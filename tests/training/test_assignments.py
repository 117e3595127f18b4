"""Read-and-understood assignments: made by the documents hook and by sync (idempotently),
due dates, signing by the trainee, trainer sign-off, and every refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.core.factories import grant
from tests.core.helpers import nothing_written
from tests.training.conftest import TRAINING_MODELS
from tests.training.factories import DocumentFactory, make_effective
from vein2vein.core import hooks
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import is_valid, signatures_for
from vein2vein.training import receivers, selectors, services, tasks
from vein2vein.training.models import TrainingAssignment


def _assignment(user, document, version=1):  # type: ignore[no-untyped-def]
    return TrainingAssignment.objects.get(
        trainee=user, document_version__document=document, document_version__version=version
    )


# --- assignment -----------------------------------------------------------------------------
def test_receiver_is_registered_for_the_documents_hook():
    assert receivers.assign_read_and_understood in hooks.receivers(hooks.DOCUMENT_VERSION_EFFECTIVE)


def test_adding_a_document_assigns_its_effective_version_to_role_holders(
    operator, operator2, qa_reviewer, supervisor, curriculum, sop4
):
    a = _assignment(operator, sop4)
    assert (a.status, a.trainer_led, a.site.code) == ("assigned", False, "MFG-TEST")
    assert a.due_at - a.assigned_at == dt.timedelta(days=14)
    assert a.assigned_by == supervisor
    assert _assignment(operator2, sop4)
    assert not TrainingAssignment.objects.filter(trainee__in=[qa_reviewer, supervisor]).exists()
    event = AuditEvent.objects.filter(
        action="training.assignment.created", record_id=str(a.pk)
    ).get()
    assert event.changes["document_version"]["new"] == a.document_version_id
    assert "SOP-0004 v1 is effective" in event.reason


def test_new_effective_version_assigns_it_and_supersedes_open_older_ones(
    operator, supervisor, curriculum, sop4, qa_approver
):
    old = _assignment(operator, sop4)
    v2 = make_effective(sop4, actor=qa_approver)
    old.refresh_from_db()
    assert old.status == "superseded"
    assert old.superseded_reason == "v2 of SOP-0004 became effective"
    new = TrainingAssignment.objects.get(trainee=operator, document_version=v2)
    assert (new.status, new.assigned_by) == ("assigned", qa_approver)
    assert verify_chain().ok


def test_completed_record_keeps_the_version_read(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    make_effective(sop4)
    a.refresh_from_db()
    assert (a.status, a.document_version.version) == ("completed", 1)
    assert [r.document_version.version for r in selectors.completed_assignments(operator)] == [1]
    assert sorted(str(o.document_version) for o in selectors.open_assignments(operator)) == [
        "SOP-0001 v1",
        "SOP-0004 v2",
    ]


def test_emitting_twice_and_syncing_are_idempotent(operator, curriculum, sop4):
    version = sop4.versions.get(version=1)
    count, events = TrainingAssignment.objects.count(), AuditEvent.objects.count()
    hooks.emit(hooks.DOCUMENT_VERSION_EFFECTIVE, version=version, actor=None)
    assert services.sync_assignments() == []
    assert tasks.sync_training_assignments.delay().get() == {"created": 0}
    assert (TrainingAssignment.objects.count(), AuditEvent.objects.count()) == (count, events)


def test_sync_assigns_new_role_holders(curriculum, make_user, sop1, sop4, supervisor):
    newcomer = make_user(Role.OPERATOR, username="newcomer")
    assert not TrainingAssignment.objects.filter(trainee=newcomer).exists()
    created = services.sync_assignments(actor=supervisor)
    assert {a.document_version.document.number for a in created} == {"SOP-0001", "SOP-0004"}
    assert all(a.trainee == newcomer for a in created)
    assert _assignment(newcomer, sop1).trainer_led is True


def test_task_syncs_as_the_system(curriculum, make_user):
    make_user(Role.OPERATOR, username="newcomer")
    assert tasks.sync_training_assignments.delay().get() == {"created": 2}
    event = AuditEvent.objects.filter(action="training.assignment.created").last()
    assert event.actor is None and event.actor_username == "system"


def test_sync_refuses_roles_without_the_permission(operator, curriculum):
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.sync_assignments(actor=operator)


def test_revoked_roles_inactive_users_and_other_roles_get_nothing(
    make_user, supervisor, sop4, make_site
):
    gone = make_user(Role.OPERATOR, username="gone")
    gone.role_assignments.update(revoked_at=timezone.now())
    inactive = make_user(Role.OPERATOR, username="inactive", is_active=False)
    verifier = make_user(Role.VERIFIER, username="verifier1")
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    _, created = services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
    )
    assert created == []
    assert not TrainingAssignment.objects.filter(trainee__in=[gone, inactive, verifier]).exists()


def test_site_curriculum_reaches_only_that_sites_role_holders(
    make_user, make_site, supervisor, sop4
):
    other = make_site(code="MFG-TWO")
    here = make_user(Role.OPERATOR, username="here")
    there = make_user(Role.OPERATOR, username="there", at=other)
    grant(supervisor, Role.SUPERVISOR, other)
    c = services.create_curriculum(
        actor=supervisor, role="operator", name="Operators at MFG-TWO", site_id=other.pk
    )
    _, created = services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004", due_days=7
    )
    assert [(a.trainee, a.site) for a in created] == [(there, other)]
    assert created[0].due_at - created[0].assigned_at == dt.timedelta(days=7)
    assert not TrainingAssignment.objects.filter(trainee=here).exists()


def test_due_days_default_comes_from_the_environment(monkeypatch, operator, supervisor, sop4):
    monkeypatch.setenv("VEIN2VEIN_TRAINING_DUE_DAYS", "30")
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    item, created = services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
    )
    assert item.due_days == 30
    assert created[0].due_at - created[0].assigned_at == dt.timedelta(days=30)


def test_draft_versions_are_not_assigned(operator, curriculum, sop4):
    draft = sop4.versions.create(
        version=2, status="draft", created_by=sop4.owner, created_at=timezone.now()
    )
    assert services.assign_version(version=draft) == []


# --- due and overdue ------------------------------------------------------------------------
def test_overdue_is_computed_from_the_due_time(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    assert not a.is_overdue(timezone.now())
    assert a.is_overdue(a.due_at)
    assert list(selectors.assignments(overdue=True)) == []
    later = a.due_at + dt.timedelta(minutes=1)
    overdue = list(selectors.assignments(overdue=True, at=later))
    assert a in overdue and len(overdue) == 2  # SOP-0001 and SOP-0004
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    assert a not in list(selectors.assignments(overdue=True, at=later))
    row = next(r for r in selectors.matrix(at=later) if r.user == operator)
    assert (row.open_count, row.overdue_count) == (1, 1)


def test_assignment_filters(operator, operator2, curriculum, sop4, site):
    assert (
        selectors.assignments(document="sop-0004", trainee="OPERATOR2").get().trainee == operator2
    )
    assert selectors.assignments(status="completed").count() == 0
    assert selectors.assignments(site=site).count() == 4


# --- the trainee signs ----------------------------------------------------------------------
def test_trainee_signs_read_and_understood(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    done = services.sign_assignment(
        actor=operator, assignment_id=a.pk, password=PASSWORD, reason="Read in full"
    )
    assert done.status == "completed"
    assert done.completed_at == done.trainee_signed_at
    (sig,) = signatures_for(done)
    assert (sig.signer, sig.meaning, sig.reason) == (operator, "performed", "Read in full")
    assert sig.time_zone == "Europe/Madrid"
    assert is_valid(sig, done)
    event = AuditEvent.objects.get(action="training.assignment.signed")
    assert event.changes["status"] == {"old": "assigned", "new": "completed"}
    assert verify_chain().ok


def test_someone_else_cannot_sign_the_trainees_assignment(operator, operator2, curriculum, sop4):
    a = _assignment(operator, sop4)
    with (
        nothing_written(*TRAINING_MODELS),
        pytest.raises(PermissionRefused, match="only the trainee"),
    ):
        services.sign_assignment(actor=operator2, assignment_id=a.pk, password=PASSWORD)


def test_supervisor_cannot_sign_for_the_trainee(operator, supervisor, curriculum, sop4):
    a = _assignment(operator, sop4)
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.sign_assignment(actor=supervisor, assignment_id=a.pk, password=PASSWORD)


def test_wrong_password_refuses_and_counts_toward_lockout(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    for _ in range(5):
        with (
            nothing_written(*TRAINING_MODELS),
            pytest.raises(SignatureRefused, match="incorrect") as exc,
        ):
            services.sign_assignment(actor=operator, assignment_id=a.pk, password="wrong")
        assert exc.value.field == "password"
    with pytest.raises(SignatureRefused, match="now locked"):
        services.sign_assignment(actor=operator, assignment_id=a.pk, password="wrong")
    with nothing_written(*TRAINING_MODELS), pytest.raises(SignatureRefused, match="locked"):
        services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    a.refresh_from_db()
    assert a.status == "assigned"


def test_missing_password_names_the_field(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.sign_assignment(actor=operator, assignment_id=a.pk, password="")
    assert exc.value.field == "password"


def test_signing_twice_or_a_superseded_assignment_conflicts(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    with nothing_written(*TRAINING_MODELS), pytest.raises(Conflict, match="Completed"):
        services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    make_effective(sop4)
    make_effective(sop4)
    stale = _assignment(operator, sop4, version=2)
    assert stale.status == "superseded"
    with nothing_written(*TRAINING_MODELS), pytest.raises(Conflict, match="Superseded"):
        services.sign_assignment(actor=operator, assignment_id=stale.pk, password=PASSWORD)


def test_unknown_assignment_is_not_found(operator):
    with nothing_written(*TRAINING_MODELS), pytest.raises(NotFound) as exc:
        services.sign_assignment(actor=operator, assignment_id=999, password=PASSWORD)
    assert exc.value.field == "assignment_id"


def test_comment_is_validated(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.sign_assignment(
            actor=operator, assignment_id=a.pk, password=PASSWORD, reason="x" * 2001
        )
    assert exc.value.field == "reason"


def test_trainee_without_a_signing_role_at_the_site_is_refused(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    operator.role_assignments.update(revoked_at=timezone.now())
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="performed"):
        services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)


# --- trainer-led ----------------------------------------------------------------------------
def test_trainer_led_item_needs_the_trainers_signature(operator, supervisor, curriculum, sop1):
    a = _assignment(operator, sop1)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    a.refresh_from_db()
    assert (a.status, a.completed_at) == ("awaiting_trainer", None)
    assert a in selectors.awaiting_sign_off(supervisor)
    done = services.sign_off_assignment(
        actor=supervisor, assignment_id=a.pk, password=PASSWORD, reason="Gowning observed"
    )
    assert (done.status, done.trainer) == ("completed", supervisor)
    assert done.completed_at == done.trainer_signed_at
    sigs = signatures_for(done)
    assert [(s.signer, s.meaning) for s in sigs] == [
        (operator, "performed"),
        (supervisor, "verified"),
    ]
    assert all(is_valid(s, done) for s in sigs), (
        "the sign-off does not void the trainee's signature"
    )
    assert AuditEvent.objects.filter(action="training.assignment.signed_off").count() == 1


def test_trainer_cannot_sign_off_before_the_trainee_signs(operator, supervisor, curriculum, sop1):
    a = _assignment(operator, sop1)
    with nothing_written(*TRAINING_MODELS), pytest.raises(Conflict, match="To read"):
        services.sign_off_assignment(actor=supervisor, assignment_id=a.pk, password=PASSWORD)


def test_trainer_cannot_be_the_trainee(supervisor, supervisor2, sop1):
    c = services.create_curriculum(actor=supervisor, role="supervisor", name="Supervisors")
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0001", trainer_led=True
    )
    a = _assignment(supervisor, sop1)
    services.sign_assignment(actor=supervisor, assignment_id=a.pk, password=PASSWORD)
    with nothing_written(*TRAINING_MODELS), pytest.raises(SignatureRefused, match="another person"):
        services.sign_off_assignment(actor=supervisor, assignment_id=a.pk, password=PASSWORD)
    services.sign_off_assignment(actor=supervisor2, assignment_id=a.pk, password=PASSWORD)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.VERIFIER, Role.QC_ANALYST, Role.INSPECTOR])
def test_trainer_must_hold_supervisor_or_qa(make_user, operator, curriculum, sop1, role):
    a = _assignment(operator, sop1)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    trainer = make_user(role, username=f"t-{role}")
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="supervisor"):
        services.sign_off_assignment(actor=trainer, assignment_id=a.pk, password=PASSWORD)


def test_trainer_at_another_site_is_refused(make_user, make_site, operator, curriculum, sop1):
    a = _assignment(operator, sop1)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    elsewhere = make_user(Role.SUPERVISOR, username="far", at=make_site(code="FAR-AWAY"))
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="at MFG-TEST"):
        services.sign_off_assignment(actor=elsewhere, assignment_id=a.pk, password=PASSWORD)


def test_qa_may_be_the_trainer(operator, qa_approver, curriculum, sop1):
    a = _assignment(operator, sop1)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    done = services.sign_off_assignment(actor=qa_approver, assignment_id=a.pk, password=PASSWORD)
    assert done.trainer == qa_approver


def test_trainer_wrong_password_counts_and_changes_nothing(operator, supervisor, curriculum, sop1):
    a = _assignment(operator, sop1)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    with nothing_written(*TRAINING_MODELS), pytest.raises(SignatureRefused, match="incorrect"):
        services.sign_off_assignment(actor=supervisor, assignment_id=a.pk, password="nope")
    from axes.models import AccessAttempt

    assert (
        AccessAttempt.objects.filter(username=supervisor.username).get().failures_since_start == 1
    )


def test_a_read_only_item_has_no_trainer(operator, supervisor, curriculum, sop4):
    a = _assignment(operator, sop4)
    with nothing_written(*TRAINING_MODELS), pytest.raises(Conflict, match="not trainer-led"):
        services.sign_off_assignment(actor=supervisor, assignment_id=a.pk, password=PASSWORD)


def test_signatures_only_through_the_services(operator, curriculum, sop4):
    """The generic sign dialog cannot put a signature on an assignment."""
    from vein2vein.core.services import sign_record

    a = _assignment(operator, sop4)
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="own workflow"):
        sign_record(actor=operator, record=a, meaning="performed", password=PASSWORD)
    a.refresh_from_db()
    assert a.status == "assigned"
    assert not selectors.is_qualified(operator, ["SOP-0004"])
    assert Signature.objects.count() == 0


def test_untouched_document_outside_curricula(operator, db):
    doc = DocumentFactory(number="SOP-0777")
    make_effective(doc)
    assert not TrainingAssignment.objects.exists()


def test_the_strictest_curriculum_item_wins(make_user, supervisor, site):
    """An operator who is also a verifier: both curricula list SOP-0050; one is trainer-led."""
    both = make_user(Role.OPERATOR, username="both")
    grant(both, Role.VERIFIER, site)
    doc = DocumentFactory(number="SOP-0050")  # no effective version yet
    ops = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    ver = services.create_curriculum(actor=supervisor, role="verifier", name="Verifier")
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=ops.pk, document_number="SOP-0050", due_days=30
    )
    services.add_curriculum_document(
        actor=supervisor,
        curriculum_id=ver.pk,
        document_number="SOP-0050",
        trainer_led=True,
        due_days=20,
    )
    assert not TrainingAssignment.objects.exists()
    make_effective(doc)
    (a,) = TrainingAssignment.objects.filter(trainee=both)
    assert (a.trainer_led, a.due_at - a.assigned_at) == (True, dt.timedelta(days=20))
    assert a.curriculum_item.curriculum == ver

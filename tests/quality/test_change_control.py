"""Change control: draft → submitted → approved (every required role signs) → implementing →
closed, or rejected/cancelled with a reason; the requester never approves their own change."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from tests.conftest import PASSWORD
from tests.quality.factories import change_draft, in_days
from tests.quality.helpers import only_blocked, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import is_valid
from vein2vein.quality import selectors, services
from vein2vein.quality.models import ChangeApproval


def approve(actor, change, password=PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return services.approve_change(actor=actor, change_id=change.pk, password=password, **kw)


@pytest.fixture
def submitted(operator, site):  # type: ignore[no-untyped-def]
    change = change_draft(operator, site)
    return services.submit_change(actor=operator, change_id=change.pk)


@pytest.fixture
def approved(submitted, supervisor, qa_approver):  # type: ignore[no-untyped-def]
    approve(supervisor, submitted)
    approve(qa_approver, submitted)
    submitted.refresh_from_db()
    return submitted


def add_task(actor, change, owner):  # type: ignore[no-untyped-def]
    return services.add_task(
        actor=actor,
        change_id=change.pk,
        description="Revise SOP-0042 to program 7",
        owner_id=owner.pk,
        due_date=in_days(10),
    )


# --- request --------------------------------------------------------------------------------
def test_anyone_in_gmp_requests_a_change(operator, site):
    change = change_draft(
        operator, site, affected={"documents": ["SOP-0042", " ", "SOP-0042"], "products": "CAR-T"}
    )
    assert change.number.startswith("CC-") and change.number.endswith("-0001")
    assert (change.status, change.requested_by) == ("draft", operator)
    assert change.affected == {"documents": ["SOP-0042"], "products": ["CAR-T"]}
    event = AuditEvent.objects.get(action="quality.change.requested")
    assert event.changes["what"]["new"] == "Replace program 4 with program 7 on the Sepax"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INSPECTOR])
def test_admin_and_inspector_request_nothing(make_user, site, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.change\.request"):
        change_draft(actor, site)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("what", " "),
        ("why", ""),
        ("affected", {"rooms": ["A"]}),
        ("affected", ["SOP-1"]),
        ("affected", {"documents": 5}),
        ("validation_impact", "yes"),
        ("training_notes", "\x00"),
    ],
)
def test_bad_request_input_names_the_field(operator, site, field, value):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        change_draft(operator, site, **{field: value})
    assert exc.value.field == field


def test_draft_is_edited_by_its_requester_and_audited(operator, operator2, supervisor, site):
    change = change_draft(operator, site)
    with unchanged(), pytest.raises(PermissionRefused):
        services.update_change(actor=operator2, change_id=change.pk, title="Mine now")
    services.update_change(
        actor=operator,
        change_id=change.pk,
        regulatory_impact=True,
        regulatory_notes="Variation to the IND",
    )
    services.update_change(actor=supervisor, change_id=change.pk, title="Program 7 for cell wash")
    event = AuditEvent.objects.filter(action="quality.change.updated").last()
    assert event is not None
    assert event.changes["title"]["new"] == "Program 7 for cell wash"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.update_change(actor=operator, change_id=change.pk, status="closed")
    assert exc.value.field == "status"
    with unchanged(), pytest.raises(ValidationFailed, match="nothing to change"):
        services.update_change(actor=operator, change_id=change.pk, title="Program 7 for cell wash")


@pytest.mark.parametrize(
    ("blank", "field"),
    [
        ({"validation_impact": None}, "validation_impact"),
        ({"regulatory_impact": None}, "regulatory_impact"),
        ({"training_notes": ""}, "training_notes"),
    ],
)
def test_submission_needs_the_whole_impact_assessment(operator, site, blank, field):
    change = change_draft(operator, site, **blank)
    with unchanged(), pytest.raises(ValidationFailed, match="impact assessment") as exc:
        services.submit_change(actor=operator, change_id=change.pk)
    assert exc.value.field == field


def test_submission_fixes_the_required_roles(settings, operator, site):
    change = change_draft(operator, site)
    change = services.submit_change(actor=operator, change_id=change.pk)
    assert change.status == "submitted"
    assert change.required_roles == ["qa_approver", "supervisor"]
    settings.QUALITY_CHANGE_APPROVER_ROLES = ["qa_approver"]
    other = services.submit_change(actor=operator, change_id=change_draft(operator, site).pk)
    assert other.required_roles == ["qa_approver"]
    change.refresh_from_db()
    assert change.required_roles == ["qa_approver", "supervisor"]
    with unchanged(), pytest.raises(Conflict):
        services.update_change(actor=operator, change_id=change.pk, title="late edit")
    with unchanged(), pytest.raises(Conflict):
        services.submit_change(actor=operator, change_id=change.pk)


# --- approvals ------------------------------------------------------------------------------
def test_each_required_role_approves_by_signature(submitted, supervisor, qa_approver):
    first = approve(supervisor, submitted, reason="Process impact understood")
    submitted.refresh_from_db()
    assert (first.role, submitted.status) == ("supervisor", "submitted")
    assert services.pending_roles(submitted) == ["qa_approver"]
    second = approve(qa_approver, submitted)
    submitted.refresh_from_db()
    assert (second.role, submitted.status) == ("qa_approver", "approved")
    sigs = list(Signature.objects.order_by("pk"))
    assert [(s.signer, s.meaning) for s in sigs] == [
        (supervisor, "approved"),
        (qa_approver, "approved"),
    ]
    assert all(is_valid(s, submitted) for s in sigs), "status changes leave approvals valid"
    assert AuditEvent.objects.filter(action="quality.change.approved").count() == 1
    assert verify_chain().ok


def test_the_requester_cannot_approve_their_own_change(supervisor, qa_approver, site):
    change = change_draft(supervisor, site)
    change = services.submit_change(actor=supervisor, change_id=change.pk)
    with unchanged(), pytest.raises(SignatureRefused, match="you requested"):
        approve(supervisor, change)


@pytest.mark.parametrize(
    "role", [Role.OPERATOR, Role.QA_REVIEWER, Role.QC_ANALYST, Role.ADMIN, Role.INSPECTOR]
)
def test_roles_that_are_not_required_cannot_approve(make_user, submitted, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused):
        approve(actor, submitted)


def test_wrong_or_missing_password_approves_nothing(submitted, qa_approver):
    with unchanged(), pytest.raises(SignatureRefused, match="incorrect"):
        approve(qa_approver, submitted, password="guess")
    assert AccessAttempt.objects.get(username=qa_approver.username).failures_since_start == 1
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        approve(qa_approver, submitted, password="")
    assert exc.value.field == "password"


def test_one_approval_per_role_and_per_person(submitted, qa_approver, qa_approver2, make_user):
    approve(qa_approver, submitted)
    with unchanged(), pytest.raises(Conflict, match="already has the approval"):
        approve(qa_approver2, submitted)
    with unchanged(), pytest.raises(Conflict, match="already approved as qa_approver") as exc:
        approve(qa_approver2, submitted, role="qa_approver")
    assert exc.value.field == "role"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        approve(qa_approver2, submitted, role="operator")
    assert exc.value.field == "role"
    with unchanged(), pytest.raises(PermissionRefused) as exc:
        approve(qa_approver2, submitted, role="supervisor")
    assert exc.value.field == "role"
    # A person holding both roles fills one slot only.
    from tests.core.factories import grant

    grant(qa_approver, Role.SUPERVISOR, submitted.site)
    with unchanged(), pytest.raises(SignatureRefused, match="different person"):
        approve(qa_approver, submitted, role="supervisor")
    assert ChangeApproval.objects.count() == 1


def test_a_draft_is_not_approved(operator, qa_approver, site):
    change = change_draft(operator, site)
    with unchanged(), pytest.raises(Conflict, match="only a submitted change"):
        approve(qa_approver, change)


def test_rejection_needs_a_reason_and_an_approver_role(submitted, operator, qa_approver):
    with unchanged(), pytest.raises(PermissionRefused):
        services.reject_change(actor=operator, change_id=submitted.pk, reason="no")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.reject_change(actor=qa_approver, change_id=submitted.pk, reason="")
    assert exc.value.field == "reason"
    change = services.reject_change(
        actor=qa_approver, change_id=submitted.pk, reason="Validation plan missing"
    )
    assert (change.status, change.end_reason, change.ended_by) == (
        "rejected",
        "Validation plan missing",
        qa_approver,
    )
    with unchanged(), pytest.raises(Conflict):
        approve(qa_approver, change)


# --- implementation and closure -------------------------------------------------------------
def test_implementation_tasks_and_closure(approved, operator, supervisor, operator2):
    task = add_task(operator, approved, operator2)
    with unchanged(), pytest.raises(Conflict, match="during implementation"):
        services.complete_task(actor=operator2, task_id=task.pk, evidence="SOP revised")
    change = services.start_implementation(actor=operator, change_id=approved.pk)
    assert change.status == "implementing"
    with only_blocked("quality.change.close"), pytest.raises(InterlockBlocked, match="not done"):
        services.close_change(actor=supervisor, change_id=change.pk)
    with unchanged(), pytest.raises(PermissionRefused):
        services.complete_task(actor=operator, task_id=task.pk, evidence="not mine")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.complete_task(actor=operator2, task_id=task.pk, evidence="")
    assert exc.value.field == "evidence"
    task = services.complete_task(
        actor=operator2, task_id=task.pk, evidence="SOP-0042 v4 effective", evidence_ref="SOP-0042"
    )
    assert (task.status, task.completed_by) == ("done", operator2)
    with unchanged(), pytest.raises(PermissionRefused):
        services.close_change(actor=operator, change_id=change.pk)
    change = services.close_change(actor=supervisor, change_id=change.pk, comment="Implemented")
    assert (change.status, change.closed_by) == ("closed", supervisor)
    with unchanged(), pytest.raises(Conflict):
        services.cancel_change(actor=operator, change_id=change.pk, reason="late")
    assert verify_chain().ok


def test_a_change_without_a_done_task_does_not_close(approved, operator, supervisor):
    task = add_task(operator, approved, operator)
    services.start_implementation(actor=operator, change_id=approved.pk)
    services.cancel_task(actor=supervisor, task_id=task.pk, reason="Not needed after all")
    with only_blocked("quality.change.close"), pytest.raises(InterlockBlocked, match="no impl"):
        services.close_change(actor=supervisor, change_id=approved.pk)


def test_implementation_waits_for_every_approval(submitted, operator, supervisor):
    approve(supervisor, submitted)
    with unchanged(), pytest.raises(Conflict, match="cannot become implementing"):
        services.start_implementation(actor=operator, change_id=submitted.pk)


def test_cancel_needs_a_reason_and_works_until_closure(approved, operator, operator2):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.cancel_change(actor=operator, change_id=approved.pk, reason="")
    assert exc.value.field == "reason"
    with unchanged(), pytest.raises(PermissionRefused):
        services.cancel_change(actor=operator2, change_id=approved.pk, reason="not mine")
    services.start_implementation(actor=operator, change_id=approved.pk)
    change = services.cancel_change(
        actor=operator, change_id=approved.pk, reason="Vendor withdrew program 7"
    )
    assert change.status == "cancelled"


def test_task_input_and_cancel_rules(approved, operator, supervisor):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.add_task(
            actor=operator,
            change_id=approved.pk,
            description="d",
            owner_id=operator.pk,
            due_date=in_days(-3),
        )
    assert exc.value.field == "due_date"
    task = add_task(operator, approved, operator)
    with unchanged(), pytest.raises(PermissionRefused):
        services.cancel_task(actor=operator, task_id=task.pk, reason="r")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.cancel_task(actor=supervisor, task_id=task.pk, reason="")
    assert exc.value.field == "reason"


def test_change_list_filters_and_my_work(approved, operator, operator2, supervisor, qa_approver):
    task = add_task(operator, approved, operator2)
    assert [c.pk for c in selectors.change_controls(owner=operator2)] == [approved.pk]
    assert [c.pk for c in selectors.change_controls(status="approved")] == [approved.pk]
    assert [c.pk for c in selectors.change_controls(status="active")] == [approved.pk]
    assert list(selectors.change_controls(overdue=True)) == []
    assert [t.pk for t in selectors.my_open_actions(operator2).tasks] == [task.pk]
    other = services.submit_change(
        actor=operator, change_id=change_draft(operator, approved.site).pk
    )
    assert [c.pk for c in selectors.my_open_actions(supervisor).change_approvals] == [other.pk]
    approve(supervisor, other)
    assert selectors.my_open_actions(supervisor).change_approvals == []
    assert [c.pk for c in selectors.my_open_actions(qa_approver).change_approvals] == [other.pk]
    assert selectors.my_open_actions(operator).change_approvals == []

"""A version's lifecycle: every transition, every refusal, and what each one leaves behind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from tests.conftest import PASSWORD
from tests.documents.conftest import to_effective, unchanged
from tests.documents.factories import pdf_upload
from vein2vein.core import hooks
from vein2vein.core import services as core_services
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
from vein2vein.core.signing import is_valid
from vein2vein.documents import selectors, services
from vein2vein.documents.choices import TRANSITIONS, VersionStatus
from vein2vein.documents.models import DocumentVersion
from vein2vein.documents.services import _common


def _status(version: DocumentVersion) -> str:
    version.refresh_from_db()
    return version.status


def _actions(version: DocumentVersion) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            record_type="documents.documentversion", record_id=str(version.pk)
        )
        .order_by("seq")
        .values_list("action", flat=True)
    )


# --- the whole way through ------------------------------------------------------------------
def test_draft_to_effective_with_both_signatures(draft, author, reviewer, approver):
    assert (draft.status, draft.version, draft.document.number) == ("draft", 1, "SOP-0001")
    assert draft.file_name == "gowning.pdf" and len(draft.file_sha256) == 64

    services.submit_for_review(actor=author, version_id=draft.pk)
    assert _status(draft) == "in_review" and draft.submitted_at is not None

    services.review_version(
        actor=reviewer, version_id=draft.pk, password=PASSWORD, reason="Checked"
    )
    assert _status(draft) == "in_review", "review alone does not approve"

    services.approve_version(actor=approver, version_id=draft.pk, password=PASSWORD)
    draft.refresh_from_db()
    assert draft.status == "effective"
    assert draft.approved_at is not None and draft.effective_at is not None
    assert draft.next_review_due == _common.add_months(_common.today(), 24)
    assert selectors.effective_version(draft.document) == draft

    sigs = {
        s.meaning: s
        for s in Signature.objects.filter(
            record_type="documents.documentversion", record_id=str(draft.pk)
        )
    }
    assert set(sigs) == {"reviewed", "approved"}
    assert sigs["reviewed"].signer == reviewer and sigs["approved"].signer == approver
    assert all(is_valid(s, draft) for s in sigs.values()), "both still cover the content"
    assert _actions(draft) == [
        "documents.version.created",
        "documents.version.submitted",
        "signature.reviewed",
        "documents.version.approved",
        "signature.approved",
        "documents.version.effective",
    ]
    assert verify_chain().ok


def test_transitions_table_matches_the_lifecycle():
    assert TRANSITIONS[VersionStatus.IN_REVIEW] == {VersionStatus.APPROVED, VersionStatus.DRAFT}
    assert not TRANSITIONS[VersionStatus.SUPERSEDED] and not TRANSITIONS[VersionStatus.OBSOLETE]


def test_move_refuses_a_transition_not_in_the_table(draft):
    with pytest.raises(Conflict, match="cannot go from draft to effective"):
        _common.move(draft, VersionStatus.EFFECTIVE)


# --- drafting and submitting ----------------------------------------------------------------
def test_submit_needs_a_file(author):
    version = services.draft_new_document(
        actor=author, kind="sop", title="No file yet", change_summary="Initial issue"
    )
    with unchanged(), pytest.raises(ValidationFailed, match="no PDF") as exc:
        services.submit_for_review(actor=author, version_id=version.pk)
    assert exc.value.field == "file"


def test_only_the_author_submits_and_changes_the_draft(draft, make_user):
    other = make_user(Role.QC_ANALYST)  # an author role, not this version's author
    with unchanged(), pytest.raises(PermissionRefused, match="only the author"):
        services.submit_for_review(actor=other, version_id=draft.pk)
    with unchanged(), pytest.raises(PermissionRefused, match="only the author"):
        services.update_draft(actor=other, version_id=draft.pk, change_summary="Mine now")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("change_summary", "", "change_summary is required"),
        ("change_summary", "x" * 4001, "at most 4000"),
        ("effective_date", dt.date(2000, 1, 1), "in the past"),
        ("effective_date", "2030-01-01", "must be a date"),
        ("file", b"%PDF-raw bytes", "uploaded PDF"),
    ],
)
def test_new_version_bad_input_names_the_field(effective, author, field, value, message):
    args = {"change_summary": "Revision", field: value}
    with unchanged(), pytest.raises(ValidationFailed, match=message) as exc:
        services.create_version(actor=author, document=effective.document, **args)
    assert exc.value.field == field


def test_one_version_in_progress_at_a_time(draft, author):
    with unchanged(), pytest.raises(Conflict, match="v1 is draft"):
        services.create_version(
            actor=author, document=draft.document, change_summary="Another", file=pdf_upload()
        )


def test_update_draft_records_old_and_new(draft, author):
    day = _common.today() + dt.timedelta(days=10)
    services.update_draft(
        actor=author, version_id=draft.pk, change_summary="Typo fixed", effective_date=day
    )
    draft.refresh_from_db()
    assert (draft.change_summary, draft.effective_date) == ("Typo fixed", day)
    event = AuditEvent.objects.get(action="documents.version.updated")
    assert event.changes["change_summary"] == {"old": "Initial issue", "new": "Typo fixed"}
    with unchanged(), pytest.raises(ValidationFailed, match="nothing to change"):
        services.update_draft(actor=author, version_id=draft.pk, change_summary="Typo fixed")


def test_nothing_changes_once_submitted(in_review, author):
    with unchanged(), pytest.raises(Conflict, match="in review: only a version draft"):
        services.update_draft(actor=author, version_id=in_review.pk, change_summary="Late edit")
    with unchanged(), pytest.raises(Conflict):
        services.update_draft(actor=author, version_id=in_review.pk, file=pdf_upload("v2.pdf"))
    with unchanged(), pytest.raises(Conflict):
        services.submit_for_review(actor=author, version_id=in_review.pk)


def test_missing_version_is_not_found(author):
    with unchanged(), pytest.raises(NotFound) as exc:
        services.submit_for_review(actor=author, version_id=987654)
    assert exc.value.field == "version_id"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.submit_for_review(actor=author, version_id="1")  # type: ignore[arg-type]
    assert exc.value.field == "version_id"


# --- review ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "role", [Role.OPERATOR, Role.VERIFIER, Role.QC_ANALYST, Role.LOGISTICS, Role.INSPECTOR]
)
def test_review_needs_a_review_role(in_review, make_user, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match="qa_approver, qa_reviewer, super"):
        services.review_version(actor=actor, version_id=in_review.pk, password=PASSWORD)


@pytest.mark.parametrize("role", [Role.QA_REVIEWER, Role.QA_APPROVER, Role.SUPERVISOR])
def test_review_roles(in_review, make_user, role):
    services.review_version(actor=make_user(role), version_id=in_review.pk, password=PASSWORD)
    assert len(selectors.current_reviews(in_review)) == 1


def test_author_cannot_review_own_version(make_user, reviewer):
    qa_author = make_user(Role.QA_REVIEWER, username="qa_author")
    version = services.draft_new_document(
        actor=qa_author, kind="sop", title="X", change_summary="Initial", file=pdf_upload()
    )
    services.submit_for_review(actor=qa_author, version_id=version.pk)
    with unchanged(), pytest.raises(SignatureRefused, match="author of SOP-0001 v1 cannot review"):
        services.review_version(actor=qa_author, version_id=version.pk, password=PASSWORD)


def test_author_cannot_sign_own_version_through_the_generic_dialog(in_review, author):
    with unchanged(), pytest.raises(ValidationFailed, match="own workflow step") as exc:
        core_services.sign_record(
            actor=author, record=in_review, meaning="reviewed", password=PASSWORD
        )
    assert exc.value.field == "meaning"


@pytest.mark.parametrize("meaning", ["reviewed", "approved", "verified"])
def test_the_generic_sign_path_adds_nothing_to_a_version(in_review, make_user, meaning):
    """Review and approval go through the version's own steps, with their own role rules."""
    signer = make_user(Role.QA_APPROVER) if meaning == "approved" else make_user(Role.QC_ANALYST)
    with unchanged(), pytest.raises(ValidationFailed, match="own workflow step"):
        core_services.sign_record(
            actor=signer, record=in_review, meaning=meaning, password=PASSWORD
        )
    assert selectors.current_reviews(in_review) == []


def test_review_only_in_review(effective, author, reviewer):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="Rev 2", file=pdf_upload()
    )
    for version, status in ((v2, "draft"), (effective, "effective")):
        with unchanged(), pytest.raises(Conflict, match=f"is {status}: only a version in review"):
            services.review_version(actor=reviewer, version_id=version.pk, password=PASSWORD)


def test_same_reviewer_twice_is_refused(reviewed, reviewer):
    with unchanged(), pytest.raises(Conflict, match="already reviewed"):
        services.review_version(actor=reviewer, version_id=reviewed.pk, password=PASSWORD)


def test_wrong_password_is_refused_and_counts_toward_lockout(in_review, reviewer):
    for _ in range(5):
        with unchanged(), pytest.raises(SignatureRefused, match="incorrect") as exc:
            services.review_version(actor=reviewer, version_id=in_review.pk, password="nope")
        assert exc.value.field == "password"
    with pytest.raises(SignatureRefused, match="now locked"):
        services.review_version(actor=reviewer, version_id=in_review.pk, password="nope")
    with unchanged(), pytest.raises(SignatureRefused, match="locked"):
        services.review_version(actor=reviewer, version_id=in_review.pk, password=PASSWORD)
    assert not Signature.objects.exists()


def test_missing_password_names_the_field(in_review, reviewer):
    with unchanged(), pytest.raises(ValidationFailed, match="password is required") as exc:
        services.review_version(actor=reviewer, version_id=in_review.pk, password="")
    assert exc.value.field == "password"


# --- approval -------------------------------------------------------------------------------
def test_approval_without_review_is_refused(in_review, approver):
    with unchanged(), pytest.raises(Conflict, match="must be reviewed before approval"):
        services.approve_version(actor=approver, version_id=in_review.pk, password=PASSWORD)


def test_reviewer_may_not_also_approve(in_review, make_user):
    both = make_user(Role.QA_APPROVER, username="both")
    services.review_version(actor=both, version_id=in_review.pk, password=PASSWORD)
    with unchanged(), pytest.raises(SignatureRefused, match="you reviewed"):
        services.approve_version(actor=both, version_id=in_review.pk, password=PASSWORD)


def test_author_cannot_approve_own_version(make_user, reviewer):
    qa_author = make_user(Role.QA_APPROVER, username="approver_author")
    version = services.draft_new_document(
        actor=qa_author, kind="sop", title="X", change_summary="Initial", file=pdf_upload()
    )
    services.submit_for_review(actor=qa_author, version_id=version.pk)
    services.review_version(actor=reviewer, version_id=version.pk, password=PASSWORD)
    with unchanged(), pytest.raises(SignatureRefused, match="cannot approve"):
        services.approve_version(actor=qa_author, version_id=version.pk, password=PASSWORD)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.QA_REVIEWER, Role.OPERATOR])
def test_only_a_qa_approver_approves(reviewed, make_user, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match="qa_approver"):
        services.approve_version(actor=actor, version_id=reviewed.pk, password=PASSWORD)


def test_approval_wrong_password(reviewed, approver):
    with unchanged(), pytest.raises(SignatureRefused, match="incorrect"):
        services.approve_version(actor=approver, version_id=reviewed.pk, password="wrong")


def test_approval_cannot_change_the_reviewed_effective_date(reviewed, approver):
    later = _common.today() + dt.timedelta(days=30)
    with unchanged(), pytest.raises(ValidationFailed, match="reviewed as on approval") as exc:
        services.approve_version(
            actor=approver, version_id=reviewed.pk, password=PASSWORD, effective_date=later
        )
    assert exc.value.field == "effective_date"


def test_returned_version_needs_a_new_review(reviewed, author, reviewer, approver):
    services.return_to_draft(actor=reviewer, version_id=reviewed.pk, reason="Step 3 unclear")
    assert _status(reviewed) == "draft"
    event = AuditEvent.objects.get(action="documents.version.returned")
    assert event.reason == "Step 3 unclear" and event.actor == reviewer
    services.submit_for_review(actor=author, version_id=reviewed.pk)
    reviewed.refresh_from_db()
    assert selectors.current_reviews(reviewed) == [], "the old review no longer counts"
    with unchanged(), pytest.raises(Conflict, match="reviewed before approval"):
        services.approve_version(actor=approver, version_id=reviewed.pk, password=PASSWORD)


def test_return_to_draft_refusals(in_review, make_user):
    qa, qc = make_user(Role.QA_REVIEWER), make_user(Role.QC_ANALYST)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.return_to_draft(actor=qa, version_id=in_review.pk, reason="")
    assert exc.value.field == "reason"
    with unchanged(), pytest.raises(PermissionRefused, match="only the author or a reviewer"):
        services.return_to_draft(actor=qc, version_id=in_review.pk, reason="No")


def test_author_withdraws_own_submission(in_review, author):
    services.return_to_draft(actor=author, version_id=in_review.pk, reason="Forgot an annex")
    assert _status(in_review) == "draft" and in_review.submitted_at is None


def test_changed_draft_invalidates_the_old_review_signature(reviewed, author, reviewer):
    services.return_to_draft(actor=author, version_id=reviewed.pk, reason="Fix")
    services.update_draft(actor=author, version_id=reviewed.pk, change_summary="Fixed step 3")
    sig = Signature.objects.get(meaning="reviewed")
    assert not is_valid(sig), "the review covered the old change summary"


# --- effective, superseded ------------------------------------------------------------------
def test_effective_without_approval_is_refused(draft, in_review, approver, effective):
    for version in (in_review,):
        with unchanged(), pytest.raises(Conflict, match="only a version approved"):
            services.make_effective(actor=approver, version_id=version.pk)
    with unchanged(), pytest.raises(Conflict, match="effective: only a version approved"):
        services.make_effective(actor=approver, version_id=effective.pk)


def test_make_effective_needs_document_control(make_user, effective):
    supervisor = make_user(Role.SUPERVISOR)
    with unchanged(), pytest.raises(PermissionRefused, match=r"documents\.version\.control"):
        services.make_effective(actor=supervisor, version_id=effective.pk)


def test_new_effective_version_supersedes_the_first(effective, author, reviewer, approver):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="MOI 3", file=pdf_upload()
    )
    to_effective(v2, author, reviewer, approver)
    effective.refresh_from_db()
    v2.refresh_from_db()
    assert (effective.status, v2.status) == ("superseded", "effective")
    assert effective.retired_at == v2.effective_at or effective.retired_at <= v2.effective_at
    assert selectors.effective_version(effective.document) == v2
    superseded = AuditEvent.objects.get(action="documents.version.superseded")
    assert superseded.record_id == str(effective.pk)
    assert superseded.changes["status"] == {"old": "effective", "new": "superseded"}
    assert DocumentVersion.objects.filter(document=v2.document, status="effective").count() == 1


def test_the_database_refuses_two_effective_versions(effective, author, reviewer, approver):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="MOI 3", file=pdf_upload()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        DocumentVersion.objects.filter(pk=v2.pk).update(status="effective")


def test_effective_version_answers_history(effective, author, reviewer, approver):
    v1_at = effective.effective_at
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="MOI 3", file=pdf_upload()
    )
    to_effective(v2, author, reviewer, approver)
    v2.refresh_from_db()
    document = effective.document
    assert selectors.effective_version(document, at=v1_at - dt.timedelta(seconds=1)) is None
    assert selectors.effective_version(document, at=v1_at) == effective
    assert selectors.effective_version(document, at=v2.effective_at) == v2
    between = v1_at + (v2.effective_at - v1_at) / 2
    assert selectors.effective_version(document, at=between) == effective


def test_hook_is_emitted_with_the_version_inside_the_transaction(reviewed, approver):
    calls: list[dict[str, object]] = []

    def receiver(**kwargs: object) -> None:
        version = kwargs["version"]
        assert isinstance(version, DocumentVersion)
        # Inside the transaction, after the status change: the row already says effective.
        assert DocumentVersion.objects.get(pk=version.pk).status == "effective"
        calls.append(kwargs)

    hooks.on(hooks.DOCUMENT_VERSION_EFFECTIVE)(receiver)
    try:
        services.approve_version(actor=approver, version_id=reviewed.pk, password=PASSWORD)
    finally:
        hooks._receivers[hooks.DOCUMENT_VERSION_EFFECTIVE].remove(receiver)
    assert len(calls) == 1
    assert calls[0]["version"].pk == reviewed.pk  # type: ignore[attr-defined]
    assert calls[0]["actor"] == approver
    assert receiver not in hooks.receivers(hooks.DOCUMENT_VERSION_EFFECTIVE)


def test_a_failing_receiver_rolls_the_approval_back(reviewed, approver):
    def receiver(**kwargs: object) -> None:
        raise Conflict("training could not be assigned")

    hooks.on(hooks.DOCUMENT_VERSION_EFFECTIVE)(receiver)
    try:
        with pytest.raises(Conflict, match="training"):
            services.approve_version(actor=approver, version_id=reviewed.pk, password=PASSWORD)
    finally:
        hooks._receivers[hooks.DOCUMENT_VERSION_EFFECTIVE].remove(receiver)
    assert _status(reviewed) == "in_review"
    assert not Signature.objects.filter(meaning="approved").exists()
    assert verify_chain().ok


# --- effective date -------------------------------------------------------------------------
@pytest.fixture
def approved_for_later(author, reviewer, approver, received):  # type: ignore[no-untyped-def]
    later = _common.today() + dt.timedelta(days=14)
    version = services.draft_new_document(
        actor=author,
        kind="sop",
        title="Later",
        change_summary="Initial",
        file=pdf_upload(),
        effective_date=later,
    )
    to_effective(version, author, reviewer, approver)
    version.refresh_from_db()
    return version


def test_future_effective_date_waits_approved(approved_for_later, approver, received):
    version = approved_for_later
    assert version.status == "approved" and version.effective_at is None
    assert received == []
    assert selectors.effective_version(version.document) is None
    with unchanged(), pytest.raises(Conflict, match=f"effective from {version.effective_date}"):
        services.make_effective(actor=approver, version_id=version.pk)
    # The approver's signature covers the date the reviewer reviewed: both stay valid.
    assert all(is_valid(s, version) for s in Signature.objects.all())


def test_activate_due_makes_it_effective_on_its_date(approved_for_later, received):
    version = approved_for_later
    day_before = version.effective_date - dt.timedelta(days=1)
    assert services.activate_due_versions(today=day_before) == []
    activated = services.activate_due_versions(today=version.effective_date)
    assert [v.pk for v in activated] == [version.pk]
    version.refresh_from_db()
    assert version.status == "effective"
    assert version.next_review_due == _common.add_months(version.effective_date, 24)
    event = AuditEvent.objects.get(action="documents.version.effective")
    assert event.actor is None and event.actor_username == "system"
    assert [c["version"].pk for c in received] == [version.pk]  # type: ignore[attr-defined]


def test_effective_version_activates_lazily(approved_for_later, set_today, received):
    set_today(approved_for_later.effective_date)
    assert selectors.effective_version(approved_for_later.document) == approved_for_later
    assert len(received) == 1


def test_document_control_makes_it_effective_once_due(approved_for_later, approver, set_today):
    set_today(approved_for_later.effective_date)
    services.make_effective(actor=approver, version_id=approved_for_later.pk)
    assert _status(approved_for_later) == "effective"


def test_activation_by_a_person_needs_document_control(make_user):
    with pytest.raises(PermissionRefused):
        services.activate_due_versions(actor=make_user(Role.OPERATOR))


def test_management_command_and_task(approved_for_later, set_today):
    from io import StringIO

    from django.core.management import call_command

    from vein2vein.documents.tasks import activate_due

    set_today(approved_for_later.effective_date - dt.timedelta(days=1))
    assert activate_due.delay().get() == []
    set_today(approved_for_later.effective_date)
    out = StringIO()
    call_command("documents", "activate-due", stdout=out)
    assert "1 version(s) made effective" in out.getvalue()
    assert _status(approved_for_later) == "effective"
    assert activate_due.delay().get() == []


# --- obsolete -------------------------------------------------------------------------------
def test_author_abandons_own_draft(draft, author):
    services.obsolete_version(actor=author, version_id=draft.pk, reason="Not needed")
    draft.refresh_from_db()
    assert draft.status == "obsolete" and draft.retired_at is not None


def test_obsolete_version_refusals(in_review, make_user, approver):
    operator = make_user(Role.OPERATOR)
    with unchanged(), pytest.raises(Conflict, match="in review"):
        services.obsolete_version(actor=approver, version_id=in_review.pk, reason="Stop")
    with unchanged(), pytest.raises(PermissionRefused):
        services.obsolete_version(actor=operator, version_id=in_review.pk, reason="Stop")


def test_obsolete_effective_version_needs_qa_approver(effective, author, approver):
    with unchanged(), pytest.raises(PermissionRefused, match=r"documents\.document\.obsolete"):
        services.obsolete_version(actor=author, version_id=effective.pk, reason="Old")
    services.obsolete_version(actor=approver, version_id=effective.pk, reason="Process retired")
    assert _status(effective) == "obsolete"
    assert selectors.effective_version(effective.document) is None


def test_obsolete_document(effective, author, approver):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="Draft 2", file=pdf_upload()
    )
    with unchanged(), pytest.raises(PermissionRefused):
        services.obsolete_document(
            actor=author, document_id=effective.document_id, reason="Retired"
        )
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.obsolete_document(actor=approver, document_id=effective.document_id, reason="")
    assert exc.value.field == "reason"
    document = services.obsolete_document(
        actor=approver, document_id=effective.document_id, reason="Process retired"
    )
    assert document.obsoleted_at is not None
    assert {_status(effective), _status(v2)} == {"obsolete"}
    with unchanged(), pytest.raises(Conflict, match="already obsolete"):
        services.obsolete_document(actor=approver, document_id=document.pk, reason="Again")
    with unchanged(), pytest.raises(Conflict, match="obsolete: no new versions"):
        services.create_version(actor=author, document=document, change_summary="Revive")
    with unchanged(), pytest.raises(NotFound):
        services.obsolete_document(actor=approver, document_id=999999, reason="x")


def test_obsolete_document_with_a_version_in_review_is_refused(effective, author, approver):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="Draft 2", file=pdf_upload()
    )
    services.submit_for_review(actor=author, version_id=v2.pk)
    with unchanged(), pytest.raises(Conflict, match="v2 is in review"):
        services.obsolete_document(
            actor=approver, document_id=effective.document_id, reason="Retired"
        )

"""Periodic review: the due date, the overdue list, and the signed review that moves it on."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import PASSWORD
from tests.documents.conftest import to_effective, unchanged
from tests.documents.factories import pdf_upload
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, PermissionRefused, SignatureRefused
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import is_valid
from vein2vein.documents import selectors, services
from vein2vein.documents.models import PeriodicReview
from vein2vein.documents.services._common import add_months, today


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 11, 25), 24, dt.date(2028, 11, 25)),
        (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
        (dt.date(2028, 2, 29), 12, dt.date(2029, 2, 28)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


def test_review_period_is_per_document(author, reviewer, approver):
    version = services.draft_new_document(
        actor=author,
        kind="work_instruction",
        title="NC-200",
        change_summary="Initial",
        file=pdf_upload(),
        review_period_months=12,
    )
    to_effective(version, author, reviewer, approver)
    version.refresh_from_db()
    assert version.next_review_due == add_months(today(), 12)


def test_overdue_list(effective, set_today):
    due = effective.next_review_due
    set_today(due)
    assert list(selectors.overdue_reviews()) == [], "due today is not overdue yet"
    assert list(selectors.reviews_due_within(60)) == [effective]
    set_today(due + dt.timedelta(days=1))
    assert list(selectors.overdue_reviews()) == [effective]
    assert list(selectors.overdue_reviews(today=due)) == []


def test_superseded_versions_are_never_overdue(effective, author, reviewer, approver, set_today):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="Rev 2", file=pdf_upload()
    )
    to_effective(v2, author, reviewer, approver)
    v2.refresh_from_db()
    set_today(v2.next_review_due + dt.timedelta(days=1))
    assert list(selectors.overdue_reviews()) == [v2]


def test_periodic_review_by_signature_pushes_the_date(effective, reviewer, set_today):
    old_due = effective.next_review_due
    review_day = old_due + dt.timedelta(days=5)
    set_today(review_day)
    review = services.record_periodic_review(
        actor=reviewer, version_id=effective.pk, password=PASSWORD, reason="Still accurate"
    )
    effective.refresh_from_db()
    assert effective.next_review_due == add_months(review_day, 24)
    assert (review.previous_due, review.next_review_due) == (old_due, effective.next_review_due)
    assert review.reviewed_by == reviewer and review.comment == "Still accurate"
    sig = Signature.objects.get(record_type="documents.periodicreview")
    assert (sig.meaning, sig.signer) == ("reviewed", reviewer)
    assert is_valid(sig, review)
    event = AuditEvent.objects.get(action="documents.version.periodically_reviewed")
    assert event.changes["next_review_due"]["old"] == old_due.isoformat()
    assert list(selectors.overdue_reviews()) == []
    # The version's own approval signatures are untouched by the review.
    assert all(
        is_valid(s, effective)
        for s in Signature.objects.filter(
            record_type="documents.documentversion", record_id=str(effective.pk)
        )
    )


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.QC_ANALYST, Role.INSPECTOR, Role.ADMIN])
def test_periodic_review_roles(effective, make_user, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match="periodic_review"):
        services.record_periodic_review(actor=actor, version_id=effective.pk, password=PASSWORD)


def test_periodic_review_only_of_the_effective_version(in_review, reviewer):
    with unchanged(), pytest.raises(Conflict, match="only a version effective"):
        services.record_periodic_review(actor=reviewer, version_id=in_review.pk, password=PASSWORD)


def test_periodic_review_wrong_password(effective, reviewer):
    with unchanged(), pytest.raises(SignatureRefused, match="incorrect"):
        services.record_periodic_review(actor=reviewer, version_id=effective.pk, password="x")
    assert not PeriodicReview.objects.exists()


def test_two_periodic_reviews_by_the_same_person(effective, reviewer, set_today):
    services.record_periodic_review(actor=reviewer, version_id=effective.pk, password=PASSWORD)
    set_today(today() + dt.timedelta(days=700))
    services.record_periodic_review(actor=reviewer, version_id=effective.pk, password=PASSWORD)
    assert PeriodicReview.objects.count() == 2

"""Reads: the document list per reader, the signature queues, get_document."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.documents.factories import pdf_upload
from vein2vein.core.choices import Role
from vein2vein.documents import selectors, services


def test_get_document(effective):
    assert selectors.get_document("SOP-0001") == effective.document
    assert selectors.get_document(" sop-0001 ") == effective.document
    assert selectors.get_document("SOP-0999") is None
    assert selectors.get_document(None) is None  # type: ignore[arg-type]


def test_readers_see_effective_documents_only(effective, draft, author, operator, inspector):
    draft_only = services.draft_new_document(
        actor=author, kind="form", title="Checklist", change_summary="Initial"
    )
    numbers = [r.document.number for r in selectors.documents(operator)]
    assert numbers == ["SOP-0001"]
    assert [r.pending for r in selectors.documents(operator)] == [None]
    for reader in (author, inspector):
        assert [r.document.number for r in selectors.documents(reader)] == [
            draft_only.document.number,
            "SOP-0001",
        ]


def test_filters(effective, author):
    services.draft_new_document(
        actor=author, kind="form", title="Batch record checklist", change_summary="Initial"
    )
    find = lambda **kw: [r.document.number for r in selectors.documents(author, **kw)]  # noqa: E731
    assert find(kind="form") == ["FRM-0001"]
    assert find(status="effective") == ["SOP-0001"]
    assert find(status="draft") == ["FRM-0001"]
    assert find(text="gown") == ["SOP-0001"]
    assert find(text="frm-") == ["FRM-0001"]
    assert find(overdue=True) == []


def test_signature_queues(in_review, author, reviewer, approver, make_user):
    supervisor2 = make_user(Role.SUPERVISOR, username="sup2")
    assert selectors.awaiting_my_review(reviewer) == [in_review]
    assert selectors.awaiting_my_review(supervisor2) == [in_review]
    assert selectors.awaiting_my_review(author) == [], "never one's own"
    assert selectors.awaiting_my_approval(approver) == [], "not reviewed yet"
    services.review_version(actor=reviewer, version_id=in_review.pk, password=PASSWORD)
    assert selectors.awaiting_my_review(reviewer) == []
    assert selectors.awaiting_my_approval(approver) == [in_review]
    assert selectors.awaiting_my_approval(reviewer) == [], "QA reviewers do not approve"
    assert list(selectors.my_drafts(author)) == []
    v = services.draft_new_document(
        actor=author, kind="sop", title="Other", change_summary="I", file=pdf_upload()
    )
    assert list(selectors.my_drafts(author)) == [v]

"""The pages: who sees what, each transition's form, and 4xx (never 5xx) for bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.documents.conftest import unchanged
from tests.documents.factories import pdf_bytes, pdf_upload
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature
from vein2vein.documents import services
from vein2vein.documents.models import Document, DocumentVersion
from vein2vein.documents.services._common import today


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_login(db):
    response = Client().get("/documents/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_admin_reads_no_documents(admin_user, effective):
    assert client_for(admin_user).get("/documents/").status_code == 403
    assert client_for(admin_user).get("/documents/SOP-0001/").status_code == 403


def test_operator_sees_effective_only(operator, effective, author):
    v2 = services.create_version(
        actor=author, document=effective.document, change_summary="Rev 2", file=pdf_upload()
    )
    client = client_for(operator)
    page = client.get("/documents/").content.decode()
    assert "SOP-0001" in page and "Aseptic gowning" in page and "In progress" not in page
    detail = client.get("/documents/SOP-0001/").content.decode()
    assert f"/documents/versions/{effective.pk}/" in detail
    assert f"/documents/versions/{v2.pk}/" not in detail
    assert client.get(f"/documents/versions/{v2.pk}/").status_code == 403
    assert client.get(f"/documents/versions/{v2.pk}/file/").status_code == 403
    assert client.get(f"/documents/versions/{effective.pk}/").status_code == 200
    assert client.get("/documents/new/").status_code == 403
    assert client.get("/documents/SOP-0404/").status_code == 404
    assert client.get("/documents/versions/999999/").status_code == 404


def test_document_with_only_a_draft_is_hidden_from_readers(operator, draft):
    assert client_for(operator).get(f"/documents/{draft.document.number}/").status_code == 403


@pytest.mark.parametrize(
    "query", ["status=bogus", "kind=memo", "q=a%00b", "q=" + "x" * 101, "page=abc"]
)
def test_bad_filters_are_4xx_or_ignored(author, effective, query):
    response = client_for(author).get(f"/documents/?{query}")
    assert response.status_code in (200, 400)
    if "page" not in query:
        assert response.status_code == 400


def test_filters_find(author, effective):
    client = client_for(author)
    assert "SOP-0001" in client.get("/documents/?kind=sop&q=gown").content.decode()
    assert "SOP-0001" not in client.get("/documents/?kind=form").content.decode()
    assert "SOP-0001" not in client.get("/documents/?overdue=on").content.decode()
    assert "SOP-0001" in client.get("/documents/?status=effective").content.decode()


def test_the_page_and_the_api_filter_the_same_rows(author, effective):
    """documents/filters.py is read by both: the same query, the same documents."""
    from tests.core.test_api import bearer

    client = client_for(author)
    headers = bearer(author)
    for query in ("kind=sop&q=gown", "kind=form", "overdue=on", "status=effective"):
        on_page = "SOP-0001" in client.get(f"/documents/?{query}").content.decode()
        api_query = query.replace("overdue=on", "overdue=true")
        api = client.get(f"/api/v1/documents?{api_query}", **headers)
        assert api.status_code == 200
        assert on_page == ("SOP-0001" in {d["number"] for d in api.json()}), query
    assert client.get("/documents/?kind=nonsense").status_code == 400
    api = client.get("/api/v1/documents?kind=nonsense", **headers)
    assert api.status_code == 400 and api.json()["field"] == "kind"


def test_create_document_with_pdf_through_the_form(author):
    response = client_for(author).post(
        "/documents/new/",
        {
            "kind": "sop",
            "title": "Cell expansion",
            "number": "",
            "owner": "",
            "review_period_months": "24",
            "change_summary": "Initial issue",
            "effective_date": "",
            "file": pdf_upload("expansion.pdf"),
        },
    )
    version = DocumentVersion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/documents/versions/{version.pk}/"
    assert (version.document.number, version.file_name) == ("SOP-0001", "expansion.pdf")


def test_non_pdf_upload_shows_the_error_on_the_field(author):
    with unchanged():
        response = client_for(author).post(
            "/documents/new/",
            {
                "kind": "sop",
                "title": "X",
                "review_period_months": "24",
                "change_summary": "Initial issue",
                "file": pdf_upload("notes.pdf", b"hello, not a pdf"),
            },
        )
    assert response.status_code == 400
    field_errors = response.context["form"].errors["file"]
    assert any("is not a PDF" in e for e in field_errors)
    assert not Document.objects.exists(), "document and version are created together or not"


def test_form_bad_input_is_400(author):
    response = client_for(author).post(
        "/documents/new/", {"kind": "memo", "title": "", "review_period_months": "0"}
    )
    assert response.status_code == 400
    assert {"kind", "title", "review_period_months"} <= set(response.context["form"].errors)


def test_whole_lifecycle_through_the_pages(author, reviewer, approver, operator):
    version = services.draft_new_document(
        actor=author, kind="sop", title="Gowning", change_summary="Initial", file=pdf_upload()
    )
    url = f"/documents/versions/{version.pk}/"
    a, r, p = client_for(author), client_for(reviewer), client_for(approver)

    assert "Submit for review" in a.get(url).content.decode()
    assert a.get(url + "edit/").status_code == 200
    later = (today() + dt.timedelta(days=1)).isoformat()
    response = a.post(
        url + "edit/",
        {"change_summary": "Initial issue", "effective_date": later, "file": ""},
    )
    assert response.status_code == 302
    a.post(url + "edit/", {"change_summary": "Initial issue", "effective_date": ""})
    assert a.get(url + "submit/").status_code == 200
    assert a.post(url + "submit/").status_code == 302
    version.refresh_from_db()
    assert version.status == "in_review"

    # The reviewer: wrong password (403 on the form, named field), then right.
    page = r.get(url).content.decode()
    assert "Review (sign)" in page and "Approve (sign)" not in page
    response = r.post(url + "review/", {"password": "wrong", "reason": ""})
    assert response.status_code == 403
    assert "password is incorrect" in response.context["form"].errors["password"][0]
    response = r.post(url + "review/", {"password": PASSWORD, "reason": "Looks right"})
    assert response.status_code == 302

    # The author cannot approve or review; the approver can approve.
    response = a.post(url + "approve/", {"password": PASSWORD})
    assert response.status_code == 403
    assert "Approve (sign)" in p.get(url).content.decode()
    response = p.post(url + "approve/", {"password": PASSWORD, "reason": "Approved"})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == "effective"

    page = client_for(operator).get(url).content.decode()
    assert page.count('data-testid="manifestation"') >= 2
    assert "Rita Reviewer" in page and "Amara Approver" in page
    assert "Reviewed" in page and "Approved" in page
    assert "documents.version.effective" in page  # the timeline
    assert Signature.objects.count() == 2


def test_return_obsolete_and_effective_pages(author, reviewer, approver, in_review):
    url = f"/documents/versions/{in_review.pk}/"
    r = client_for(reviewer)
    assert r.post(url + "return/", {"reason": ""}).status_code == 400
    assert r.post(url + "return/", {"reason": "Unclear"}).status_code == 302
    in_review.refresh_from_db()
    assert in_review.status == "draft"
    p = client_for(approver)
    response = p.post(url + "effective/")
    assert response.status_code == 409
    assert "only a version approved" in response.content.decode()
    assert client_for(author).post(url + "obsolete/", {"reason": "Dropped"}).status_code == 302
    in_review.refresh_from_db()
    assert in_review.status == "obsolete"


def test_make_effective_page(author, reviewer, approver, set_today):
    later = today() + dt.timedelta(days=2)
    version = services.draft_new_document(
        actor=author,
        kind="sop",
        title="Later",
        change_summary="I",
        file=pdf_upload(),
        effective_date=later,
    )
    from tests.documents.conftest import to_effective

    to_effective(version, author, reviewer, approver)
    url = f"/documents/versions/{version.pk}/"
    p = client_for(approver)
    assert "Make effective" not in p.get(url).content.decode()
    set_today(later)
    # Opening the version page on its date activates it (lazy activation).
    assert "Effective since" in p.get(url).content.decode()
    version.refresh_from_db()
    assert version.status == "effective"


def test_document_obsolete_and_new_version_pages(effective, author, approver):
    a, p = client_for(author), client_for(approver)
    assert a.get("/documents/SOP-0001/versions/new/").status_code == 200
    response = a.post(
        "/documents/SOP-0001/versions/new/",
        {"change_summary": "Rev 2", "file": pdf_upload("r2.pdf", pdf_bytes("Rev 2"))},
    )
    assert response.status_code == 302
    response = a.post("/documents/SOP-0001/versions/new/", {"change_summary": "Rev 3"})
    assert response.status_code == 400 and "finish or obsolete" in response.content.decode()
    assert a.get("/documents/SOP-0001/obsolete/").status_code == 403
    response = p.post("/documents/SOP-0001/obsolete/", {"reason": "Retired"})
    assert response.status_code == 302
    assert Document.objects.get().obsoleted_at is not None
    assert "obsolete since" in a.get("/documents/SOP-0001/").content.decode()


def test_periodic_review_page_and_overdue_report(effective, reviewer, set_today, operator):
    set_today(effective.next_review_due + dt.timedelta(days=1))
    page = client_for(operator).get("/documents/reviews/overdue/").content.decode()
    assert "SOP-0001" in page and "Review…" not in page
    r = client_for(reviewer)
    assert "Review…" in r.get("/documents/reviews/overdue/").content.decode()
    assert "overdue" in r.get("/documents/?overdue=on").content.decode()
    url = f"/documents/versions/{effective.pk}/periodic-review/"
    assert client_for(operator).get(url).status_code == 403
    assert r.post(url, {"password": PASSWORD, "reason": "Still valid"}).status_code == 302
    assert "No periodic review is overdue" in r.get("/documents/reviews/overdue/").content.decode()


def test_inspector_reads_everything_and_signs_nothing(inspector, in_review):
    client = client_for(inspector)
    url = f"/documents/versions/{in_review.pk}/"
    assert client.get("/documents/").status_code == 200
    assert client.get(url).status_code == 200
    assert client.get(url + "file/").status_code == 200
    with unchanged():
        assert client.post(url + "review/", {"password": PASSWORD}).status_code == 403
        assert client.post(url + "submit/").status_code == 403


def test_file_view_without_a_file_is_404(author):
    version = services.draft_new_document(actor=author, kind="sop", title="X", change_summary="I")
    assert client_for(author).get(f"/documents/versions/{version.pk}/file/").status_code == 404


def test_dashboard_panel(in_review, reviewer, approver, author, operator):
    page = client_for(reviewer).get("/").content.decode()
    assert "Awaiting my review" in page and "SOP-0001 v1" in page
    services.review_version(actor=reviewer, version_id=in_review.pk, password=PASSWORD)
    assert "Awaiting my approval" in client_for(approver).get("/").content.decode()
    assert 'data-testid="documents-panel"' not in client_for(operator).get("/").content.decode()
    listing = client_for(approver).get("/documents/").content.decode()
    assert 'data-testid="awaiting-me"' in listing


def test_dashboard_panel_shows_my_drafts(draft, author, make_user):
    assert "My drafts" in client_for(author).get("/").content.decode()
    nobody = make_user(Role.QC_ANALYST)
    assert 'data-testid="documents-panel"' not in client_for(nobody).get("/").content.decode()

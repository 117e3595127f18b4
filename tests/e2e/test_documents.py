"""Controlled documents in a browser: an author creates an SOP with its PDF and submits it; a
QA reviewer reviews it with an e-signature; a QA approver approves it; it shows as effective
with both manifestations."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.documents.factories import pdf_bytes
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature
from vein2vein.documents.models import DocumentVersion

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def people(make_user, qa_reviewer):  # type: ignore[no-untyped-def]
    return {
        "author": make_user(Role.SUPERVISOR, username="sofia", full_name="Sofia Supervisor"),
        "reviewer": qa_reviewer,
        "approver": make_user(Role.QA_APPROVER, username="amara", full_name="Amara Approver"),
        "operator": make_user(Role.OPERATOR, username="olivia", full_name="Olivia Operator"),
    }


def _sign(page, button: str, comment: str) -> None:  # type: ignore[no-untyped-def]
    form = page.get_by_test_id("step-form")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Comment (optional)").fill(comment)
    form.get_by_role("button", name=button).click()


def test_author_reviewer_approver_make_an_sop_effective(new_page, people):
    # The author: a new SOP with its PDF, then submitted for review.
    page = new_page()
    login(page, "sofia")
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Documents").click()
    page.wait_for_url(re.compile(r"/documents/$"))
    page.get_by_role("link", name="New document").click()
    page.get_by_label("Kind").select_option(label="Standard operating procedure")
    page.get_by_label("Title").fill("Aseptic gowning and cleanroom entry")
    page.get_by_label("Change summary").fill("Initial issue")
    page.get_by_label("PDF").set_input_files(
        {
            "name": "gowning.pdf",
            "mimeType": "application/pdf",
            "buffer": pdf_bytes("SOP-0001 Aseptic gowning", "1. Wash hands."),
        }
    )
    screenshot(page, "documents-01-new-document-1280x800")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/documents/versions/\d+/$"))
    assert "Draft" in page.get_by_test_id("status").inner_text()
    assert "gowning.pdf" in page.get_by_test_id("pdf-link").inner_text()
    version = DocumentVersion.objects.get()
    assert version.document.number == "SOP-0001"
    page.get_by_role("link", name="Submit for review").click()
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_url(re.compile(rf"/documents/versions/{version.pk}/$"))
    assert "In review" in page.get_by_test_id("status").inner_text()

    # The PDF opens from the page: served inline, exactly as uploaded.
    response = page.request.get(page.get_by_test_id("pdf-link").get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    # The QA reviewer finds it on the dashboard and reviews it with a signature.
    page = new_page()
    login(page, "qa1")
    panel = page.get_by_test_id("documents-panel")
    assert "Awaiting my review" in panel.inner_text()
    screenshot(page, "documents-02-dashboard-reviewer-1280x800")
    panel.get_by_role("link", name="SOP-0001 v1").click()
    page.get_by_role("link", name="Review (sign)").click()
    screenshot(page, "documents-03-review-signature-1280x800")
    _sign(page, "Sign as reviewed", "Content and format checked")
    page.wait_for_url(re.compile(rf"/documents/versions/{version.pk}/$"))
    manifestations = page.get_by_test_id("signatures").get_by_test_id("manifestation")
    assert manifestations.count() == 1
    assert "Rita Reviewer" in manifestations.first.inner_text()
    assert page.get_by_role("link", name="Approve (sign)").count() == 0

    # The QA approver approves: it becomes effective at once.
    page = new_page()
    login(page, "amara")
    page.goto("/documents/")
    assert "approval" in page.get_by_test_id("awaiting-me").inner_text()
    page.get_by_test_id("awaiting-me").get_by_role("link", name="SOP-0001 v1").click()
    page.get_by_role("link", name="Approve (sign)").click()
    _sign(page, "Sign as approved", "Approved for use")
    page.wait_for_url(re.compile(rf"/documents/versions/{version.pk}/$"))
    assert "Effective" in page.get_by_test_id("status").inner_text()
    manifestations = page.get_by_test_id("signatures").get_by_test_id("manifestation")
    texts = [manifestations.nth(i).inner_text() for i in range(manifestations.count())]
    assert len(texts) == 2
    assert "Rita Reviewer (qa1) — Reviewed" in texts[0]
    assert "Amara Approver (amara) — Approved" in texts[1]
    assert not any("No longer valid" in t for t in texts)
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "documents.version.effective" in timeline
    screenshot(page, "documents-04-effective-1280x800")

    sigs = Signature.objects.filter(record_type="documents.documentversion")
    assert {(s.meaning, s.signer.username) for s in sigs} == {
        ("reviewed", "qa1"),
        ("approved", "amara"),
    }
    assert verify_chain().ok

    # An operator reads it in the list, on a portrait tablet, without sideways scrolling.
    page = new_page(TABLET_PORTRAIT)
    login(page, "olivia")
    page.goto("/documents/")
    row = page.get_by_test_id("documents").locator("tr", has_text="SOP-0001")
    assert "v1" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET_PORTRAIT["width"]
    screenshot(page, "documents-05-list-800x1280")
    page.goto(f"/documents/versions/{version.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET_PORTRAIT["width"]
    screenshot(page, "documents-06-version-800x1280")


def test_wrong_password_stays_on_the_form(new_page, people):
    from tests.documents.factories import pdf_upload
    from vein2vein.documents import services

    version = services.draft_new_document(
        actor=people["author"],
        kind="sop",
        title="Gowning",
        change_summary="Initial",
        file=pdf_upload(),
    )
    services.submit_for_review(actor=people["author"], version_id=version.pk)
    page = new_page()
    login(page, "qa1")
    page.goto(f"/documents/versions/{version.pk}/review/")
    form = page.get_by_test_id("step-form")
    form.get_by_label("Password").fill("not-my-password")
    form.get_by_role("button", name="Sign as reviewed").click()
    error = page.locator(".errorlist")
    error.first.wait_for(state="visible")
    assert "password is incorrect" in error.first.inner_text()
    assert not Signature.objects.exists()
    screenshot(page, "documents-07-wrong-password-1280x800")

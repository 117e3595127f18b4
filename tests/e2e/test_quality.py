"""Quality in a browser. Acceptance: "raise a deviation, investigate it, link a CAPA, close it
with the QA approver's signature", walking the pages as the operator, the supervisor and the
QA approver would, each in their own browser session."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.quality.models import Deviation

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def people(make_user):  # type: ignore[no-untyped-def]
    return {
        "operator": make_user(Role.OPERATOR, username="olivia", full_name="Olivia Ortiz"),
        "supervisor": make_user(Role.SUPERVISOR, username="sofia", full_name="Sofia Sato"),
        "qa_approver": make_user(Role.QA_APPROVER, username="amara", full_name="Amara Appiah"),
    }


def _submit(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("step-form").get_by_role("button", name=name).click()


def _step(page, label: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("record-actions").get_by_role("link", name=label).click()


def test_raise_investigate_link_capa_and_close_with_qa_signature(new_page, people, site):
    due = (dt.date.today() + dt.timedelta(days=10)).isoformat()

    # --- the operator raises it -----------------------------------------------------------
    op = new_page()
    login(op, "olivia")
    op.get_by_role("navigation", name="Areas").get_by_role("link", name="Quality").click()
    op.wait_for_url(re.compile(r"/quality/$"))
    op.get_by_role("link", name="Raise a deviation").click()
    op.get_by_label("Title").fill("Apheresis bag label mismatch")
    op.get_by_label("Category").select_option(label="Identity / chain of custody")
    op.get_by_label("Description").fill("The DIN on the bag does not match the order's DIN.")
    op.get_by_label("Immediate actions").fill("Bag quarantined at goods-in.")
    screenshot(op, "quality-01-raise-1280x800")
    _submit(op, "Raise deviation")
    op.wait_for_url(re.compile(r"/quality/deviations/\d+/$"))
    dev = Deviation.objects.get()
    assert dev.number in op.locator("h1").inner_text()
    assert "Open" in op.get_by_test_id("status").inner_text()
    assert "Bag quarantined" in op.content()
    detail = op.url

    # --- the supervisor classifies, investigates, opens a CAPA ------------------------------
    sup = new_page()
    login(sup, "sofia")
    sup.goto("/quality/")
    sup.get_by_role("link", name=dev.number).click()
    _step(sup, "Classify")
    sup.get_by_label("Classification").select_option("major")
    sup.get_by_label("Justification").fill("Risk of patient material mix-up")
    _submit(sup, "Save classification")
    assert "Classification saved" in sup.content()
    _step(sup, "Start investigation")
    _submit(sup, "Start investigation")
    assert "Under investigation" in sup.get_by_test_id("status").inner_text()
    _step(sup, "Record investigation")
    sup.get_by_label("Impact on product").fill("None: the bag was not processed.")
    sup.get_by_label("Impact on patient").fill("None: the right bag arrived within stability.")
    sup.get_by_label("Root cause method").select_option("five_whys")
    sup.get_by_label("Why 1?").fill("Why did the label not match?")
    sup.get_by_label("Because 1").fill("The center printed it from an old order")
    sup.get_by_label("Why 2?").fill("Why an old order?")
    sup.get_by_label("Because 2").fill("Two orders were open for the same patient")
    sup.get_by_label("Root cause category").select_option("procedure")
    sup.get_by_label("Root cause", exact=True).fill("No check of the order number at printing")
    _submit(sup, "Save investigation")
    assert "Two orders were open" in sup.get_by_test_id("root-cause").inner_text()
    screenshot(sup, "quality-02-investigation-1280x800")

    _step(sup, "New CAPA")
    sup.get_by_label("Title").fill("Order check at label printing")
    sup.get_by_label("Description").fill("Labels printed against the wrong order")
    _submit(sup, "Open CAPA")
    sup.wait_for_url(re.compile(r"/quality/capa/\d+/$"))
    capa_url = sup.url
    _step(sup, "Add action")
    sup.get_by_label("Kind").select_option("corrective")
    sup.get_by_label("Description").fill("Print labels only from the active order")
    sup.get_by_label("Owner").select_option(label="Olivia Ortiz (olivia)")
    sup.get_by_label("Due date").fill(due)
    _submit(sup, "Add action")
    assert "Olivia Ortiz" in sup.get_by_test_id("actions").inner_text()

    # --- the operator does the action, from her dashboard -----------------------------------
    op.goto("/")
    panel = op.get_by_test_id("quality-panel")
    assert "CAPA actions I own" in panel.inner_text()
    screenshot(op, "quality-03-dashboard-panel-1280x800")
    panel.get_by_role("link", name=re.compile(r"^CAPA-")).click()
    op.wait_for_url(capa_url)
    op.get_by_role("link", name="Done…").click()
    op.get_by_label("Evidence").fill("Printing screen now locks to the active order")
    op.get_by_label("Reference").fill("SOP-0101 v2")
    _submit(op, "Mark done")
    assert "Done" in op.get_by_test_id("actions").inner_text()

    # --- the supervisor submits it for QA approval ------------------------------------------
    sup.goto(detail)
    capas = sup.get_by_test_id("capas").inner_text()
    assert "Print labels only from the active order" in capas and "Done" in capas
    _step(sup, "Submit for QA approval")
    _submit(sup, "Submit for QA approval")
    assert "Pending QA approval" in sup.get_by_test_id("status").inner_text()
    assert (
        sup.get_by_test_id("record-actions")
        .get_by_role("link", name="Close with signature")
        .count()
        == 0
    )

    # --- the QA approver closes it with her signature ---------------------------------------
    qa = new_page()
    login(qa, "amara")
    queue = qa.get_by_test_id("quality-panel")
    assert "waiting for my QA approval" in queue.inner_text()
    queue.get_by_role("link", name=dev.number).click()
    qa.wait_for_url(detail)
    screenshot(qa, "quality-04-pending-1280x800")
    _step(qa, "Close with signature")
    qa.get_by_label("Closure comment").fill("Investigation and CAPA adequate.")
    qa.get_by_label("Password").fill("not-my-password")
    _submit(qa, "Sign: approve and close")
    error = qa.locator(".errorlist")
    assert "password is incorrect" in error.first.inner_text()
    assert Deviation.objects.get().status == "pending_qa_approval"
    qa.get_by_label("Password").fill(PASSWORD)
    screenshot(qa, "quality-05-close-form-1280x800")
    _submit(qa, "Sign: approve and close")
    qa.wait_for_url(detail)
    assert "Closed" in qa.get_by_test_id("status").inner_text()
    manifestation = qa.get_by_test_id("signatures").get_by_test_id("manifestation")
    text = manifestation.inner_text()
    assert "Amara Appiah" in text and "(amara)" in text and "Approved" in text
    assert re.search(
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} CES?T \(UTC\+0[12]:00, Europe/Madrid\)", text
    )
    timeline = qa.get_by_test_id("timeline").inner_text()
    for action in (
        "quality.deviation.raised",
        "quality.deviation.classified",
        "quality.deviation.investigation_started",
        "quality.deviation.capa_linked",
        "quality.deviation.submitted",
        "quality.deviation.closed",
    ):
        assert action in timeline, action
    screenshot(qa, "quality-06-closed-1280x800")

    dev.refresh_from_db()
    assert (dev.status, dev.closed_by, dev.investigator) == (
        "closed",
        people["qa_approver"],
        people["supervisor"],
    )
    sig = Signature.objects.get(record_type="quality.deviation")
    assert (sig.signer, sig.meaning) == (people["qa_approver"], "approved")
    assert AuditEvent.objects.filter(action="quality.deviation.closed").count() == 1
    assert verify_chain().ok

    # Lists and the overdue report read well on a portrait tablet too.
    portrait = new_page(TABLET_PORTRAIT)
    login(portrait, "amara")
    portrait.goto("/quality/?status=closed")
    assert dev.number in portrait.get_by_test_id("deviation-table").inner_text()
    screenshot(portrait, "quality-07-list-800x1280")
    portrait.goto(capa_url)
    screenshot(portrait, "quality-08-capa-800x1280")

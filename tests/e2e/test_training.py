"""Training in a browser: an operator signs a read-and-understood with their password and sees
it completed; a supervisor grants a qualification with their signature."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot
from tests.training.factories import DocumentFactory, make_effective
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature
from vein2vein.training import services
from vein2vein.training.models import Qualification, TrainingAssignment

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def world(site, make_user, operator):  # type: ignore[no-untyped-def]
    """An operator curriculum (SOP-0001 trainer-led, SOP-0004, APS) made by a supervisor."""
    supervisor = make_user(Role.SUPERVISOR, username="super1", full_name="Sofia Supervisor")
    make_user(Role.OPERATOR, username="operator2", full_name="Omar Operator")
    for number, title in (
        ("SOP-0001", "Aseptic gowning and cleanroom entry"),
        ("SOP-0004", "T-cell activation and lentiviral transduction"),
    ):
        make_effective(DocumentFactory(number=number, title=title))
    services.create_qualification_type(
        actor=supervisor,
        code="APS",
        name="Aseptic process simulation",
        kind="aseptic",
        validity_months=6,
    )
    curriculum = services.create_curriculum(
        actor=supervisor, role="operator", name="Manufacturing operator"
    )
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=curriculum.pk, document_number="SOP-0001", trainer_led=True
    )
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=curriculum.pk, document_number="SOP-0004"
    )
    services.add_curriculum_qualification(
        actor=supervisor, curriculum_id=curriculum.pk, qualification_code="APS"
    )
    return supervisor


def test_operator_signs_read_and_understood(page, world, operator):
    login(page, "operator1")
    panel = page.get_by_test_id("training-panel")
    assert "SOP-0004 v1" in panel.inner_text()
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Training").click()
    page.wait_for_url(re.compile(r"/training/$"))
    assert "SOP-0004 v1 not read" in page.get_by_test_id("missing").inner_text()
    row = page.get_by_test_id("assignment-SOP-0004")
    assert "to read" in row.inner_text()
    screenshot(page, "training-01-my-training-1280x800")

    row.get_by_role("link", name="Sign…").click()
    page.wait_for_url(re.compile(r"/training/assignments/\d+/sign/$"))
    assert (
        "I have read and understood SOP-0004 version 1"
        in page.get_by_test_id("statement").inner_text()
    )
    form = page.get_by_test_id("sign-form")
    form.get_by_label("Password").fill("not-my-password")
    form.get_by_test_id("sign-submit").click()
    assert "password is incorrect" in page.locator(".errorlist").first.inner_text()
    assert not Signature.objects.exists()

    form = page.get_by_test_id("sign-form")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Comment (optional)").fill("Read in full before the run")
    screenshot(page, "training-02-sign-1280x800")
    form.get_by_test_id("sign-submit").click()
    page.wait_for_url(re.compile(r"/training/$"))
    assert "SOP-0004 v1 completed" in page.locator(".flash").inner_text()
    record = page.get_by_test_id("record-SOP-0004")
    assert "completed" in record.inner_text() and "v1" in record.inner_text()
    assert page.get_by_test_id("assignment-SOP-0004").count() == 0
    screenshot(page, "training-03-completed-1280x800")

    a = TrainingAssignment.objects.get(
        trainee=operator, document_version__document__number="SOP-0004"
    )
    assert a.status == "completed"
    sig = Signature.objects.get()
    assert (sig.signer, sig.meaning) == (operator, "performed")

    # The record's own page shows the signature's manifestation and the timeline.
    record.get_by_role("link", name="SOP-0004").click()
    text = page.get_by_test_id("manifestation").first.inner_text()
    assert "Olivia Operator" in text and "Performed" in text
    assert "training.assignment.signed" in page.get_by_test_id("timeline").inner_text()
    assert verify_chain().ok


def test_supervisor_grants_a_qualification_with_signature(page, world, operator):
    login(page, "super1")
    page.goto("/training/matrix/")
    row = page.get_by_test_id("matrix-operator1")
    assert "Aseptic process simulation not held" in row.inner_text()
    screenshot(page, "training-04-matrix-1280x800")

    page.goto("/training/qualifications/")
    page.get_by_role("link", name="Grant a qualification…").click()
    page.wait_for_url(re.compile(r"/training/qualifications/grant/$"))
    form = page.get_by_test_id("training-form")
    form.get_by_label("Person").select_option(label="Olivia Operator (operator1)")
    form.get_by_label("Qualification").select_option(value="APS")
    form.get_by_label("Site").select_option(label="MFG-TEST Site MFG-TEST")
    form.get_by_label("Note").fill("Media fill APS-2026-03 passed")
    form.get_by_label("Password").fill(PASSWORD)
    screenshot(page, "training-05-grant-1280x800")
    form.get_by_test_id("submit").click()
    page.wait_for_url(re.compile(r"/training/qualifications/\d+/$"))

    details = page.get_by_test_id("qualification").inner_text()
    assert "Olivia Operator" in details and "valid" in details
    manifestation = page.get_by_test_id("manifestation").first.inner_text()
    assert "Sofia Supervisor" in manifestation and "Approved" in manifestation
    assert "Media fill APS-2026-03 passed" in manifestation
    screenshot(page, "training-06-granted-1280x800")
    q = Qualification.objects.get()
    assert (q.user, q.granted_by, q.qualification_type.code) == (operator, world, "APS")

    page.goto("/training/matrix/")
    assert "Aseptic process simulation" not in page.get_by_test_id("matrix-operator1").inner_text()


def test_my_training_fits_a_portrait_tablet(new_page, world, operator):
    page = new_page(TABLET_PORTRAIT)
    login(page, "operator1")
    page.goto("/training/")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, "training-07-my-training-800x1280")

"""Journey 6 in a browser (issue 12): a QA reviewer opens the batch review page, where only the
exceptions are listed, and signs it; a QA approver opens release readiness (each item met or
not, with its link), releases with a signature, issues and downloads the certificate of
analysis and the batch record PDF, both showing the signatures' manifestations. QC is real
here (results entered and reviewed through the qc services), not stood in."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import login, screenshot
from tests.manufacturing.conftest import batch, mfg, received, run, walk, world  # noqa: F401
from tests.manufacturing.test_pdf import pdf_text
from tests.qc.conftest import Lab, lab  # noqa: F401 - fixtures
from vein2vein.core.audit import verify_chain
from vein2vein.manufacturing import services as mfg_services
from vein2vein.qc import services as qc
from vein2vein.release.models import Disposition

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# One in-spec result per criterion of the lab's release specification (tests/qc/conftest.py).
RESULTS = {
    "APP": {"text": "conforms"},
    "VIAB": {"value": "91.5", "equipment": "counter"},
    "CAR": {"value": "42.4", "equipment": "cytometer"},
    "ENDO": {"value": "0.2"},
    "STER": {"text": "not detected"},
    "VCN": {"value": "1.8"},
}


def test_qa_reviews_by_exception_then_releases_and_downloads_the_coa(  # type: ignore[no-untyped-def]
    new_page,
    lab: Lab,  # noqa: F811
    tmp_path,
) -> None:
    m = lab.m
    run(m, lab.batch)
    mfg_services.complete_batch(actor=m.operator, batch_id=lab.batch.pk)
    for code, given in RESULTS.items():
        unit = {"counter": lab.counter, "cytometer": lab.cytometer}.get(given.get("equipment", ""))
        r = qc.enter_result(
            actor=lab.analyst,
            sample_id=lab.sample.pk,
            method=code,
            value=given.get("value"),
            text=given.get("text", ""),
            equipment_id=unit.equipment_id if unit else "",
        )
        qc.review_result(actor=lab.analyst2, result_id=r.pk, password=PASSWORD)

    # 1. The QA reviewer signs the review by exception.
    qa = new_page()
    login(qa, m.qa.username)
    qa.goto(f"/manufacturing/batches/{lab.batch.pk}/review/")
    form = qa.get_by_test_id("review-form")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign review").click()
    qa.get_by_test_id("manifestation").first.wait_for()
    assert m.qa.full_name in qa.get_by_test_id("signatures").inner_text()

    # 2. The QA approver opens readiness: every item met, or not applicable yet.
    qaa = new_page()
    login(qaa, m.approver.username)
    qaa.goto("/release/")
    qaa.get_by_role("link", name=lab.batch.number).first.click()
    qaa.wait_for_url(re.compile(rf"/release/batches/{lab.batch.pk}/$"))
    assert "Ready for release" in qaa.get_by_test_id("ready").inner_text()
    states = qaa.locator("[data-testid^=item-]").evaluate_all(
        "items => items.map(i => i.dataset.state)"
    )
    assert "missing" not in states and "ok" in states, states
    screenshot(qaa, "release-01-readiness-1280x800")

    # 3. Released with a signature; the CoA issued and downloaded; the batch record PDF too.
    dialog = qaa.get_by_test_id("disposition-form")
    dialog.get_by_label("Released", exact=True).check()
    dialog.get_by_label("QA justification").fill("All release criteria met; record reviewed")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_test_id("sign-disposition-submit").click()
    qaa.get_by_test_id("disposition").first.wait_for()
    d = Disposition.objects.get(batch=lab.batch)
    assert d.decision == "release"
    assert "Shippable" in qaa.get_by_test_id("shippable").inner_text()
    manifestation = qaa.get_by_test_id("disposition").get_by_test_id("manifestation").inner_text()
    assert m.approver.full_name in manifestation and "Released" in manifestation
    qaa.get_by_test_id("issue-coa").click()
    qaa.get_by_test_id("coa-link").first.wait_for()
    coa = qaa.request.get(qaa.get_by_test_id("coa-link").first.get_attribute("href"))
    assert coa.status == 200 and coa.headers["content-type"] == "application/pdf"
    text = pdf_text(coa.body(), tmp_path)
    for expected in (lab.batch.number, "Endotoxin", "<= 0.5 EU/mL", m.approver.full_name):
        assert expected in text, expected
    record = qaa.request.get(f"/manufacturing/batches/{lab.batch.pk}/record.pdf")
    assert record.status == 200 and m.qa.full_name in pdf_text(record.body(), tmp_path)
    screenshot(qaa, "release-02-released-1280x800")
    assert verify_chain().ok

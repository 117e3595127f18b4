"""Batch record pages: each renders for an operator and an inspector and is refused to people
without a role at the batch's site; forms go through to the services and a refusal comes back
in red with its 4xx status: a numeric entry, a refused scan, an entry outside the action
limits (comment, deviation), verification by a second person, hold and resume, a correction,
completion and the QA review; the MBR pages, YAML, schema and authoring."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tests.manufacturing.conftest import PASSWORD, TEST_MBR, Mfg, run
from vein2vein.chain.models import TherapyOrder
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.manufacturing.models import Batch, MasterRecord, StepEntry
from vein2vein.quality.models import Deviation

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def html(response: Any) -> str:
    return str(response.content.decode())


def order_of(b: Batch) -> TherapyOrder:
    assert b.order is not None
    return b.order


def detail(b: Batch) -> str:
    return reverse("manufacturing:batch_detail", args=[b.pk])


def step_url(b: Batch, key: str) -> str:
    return reverse("manufacturing:step_record", args=[b.pk, key])


def entry(b: Batch, key: str) -> StepEntry:
    return StepEntry.objects.get(
        batch=b, step_key=key, status__in=["done", "awaiting_verification"]
    )


# --- rendering and access ------------------------------------------------------------------


def _pages(mfg: Mfg, b: Batch) -> list[str]:
    return [
        reverse("manufacturing:batch_list"),
        detail(b),
        reverse("manufacturing:batch_review", args=[b.pk]),
        reverse("manufacturing:batch_samples", args=[b.pk]),
        reverse("manufacturing:mbr_list"),
        reverse("manufacturing:mbr_detail", args=[mfg.mbr.pk]),
        reverse("manufacturing:mbr_yaml", args=[mfg.mbr.pk]),
        reverse("manufacturing:mbr_schema"),
    ]


@pytest.mark.parametrize("who", ["operator", "inspector"])
def test_every_page_renders(mfg: Mfg, batch: Batch, who: str) -> None:
    run(mfg, batch, until="dose")  # a sample drawn? not yet; entries in every state
    user = mfg.operator if who == "operator" else mfg.w.inspector
    c = client_for(user)
    for url in _pages(mfg, batch):
        response = c.get(url)
        assert response.status_code == 200, (url, response.status_code)
    page = html(c.get(detail(batch)))
    assert batch.number in page and order_of(batch).coi_eye_readable in page
    assert f"{mfg.mbr.document_version.document.number} v1" in page
    if who == "operator":
        assert 'data-testid="step-dose"' in page and 'data-testid="step-form"' in page
        assert "Hold the batch" in page
    else:  # read-only: the next step is shown, no form, no button
        assert 'data-testid="step-dose"' in page and 'data-testid="step-form"' not in page
        assert "Hold the batch" not in page and "Correct…" not in page
        assert "Abort the batch" not in page


def test_next_step_shows_its_input_kind(mfg: Mfg, batch: Batch) -> None:
    c = client_for(mfg.operator)
    page = html(c.get(detail(batch)))
    # The first step is a COI check: a scan field with the focus, nothing else to do yet.
    assert 'data-testid="scan-field"' in page and "autofocus" in page
    assert page.count('data-testid="step-form"') == 1
    run(mfg, batch, until="cells")
    page = html(c.get(detail(batch)))
    assert 'type="number"' in page and "Action limits" in page and "at least 50000000 cells" in page
    run(mfg, batch, until="look")
    page = html(c.get(detail(batch)))
    assert 'type="radio"' in page and 'value="turbid"' in page
    run(mfg, batch, until="branch_a", look={"value": "clear"})
    page = html(c.get(detail(batch)))
    # Parallel branches: both are next, each with its own form.
    assert 'data-testid="step-branch_a"' in page and 'data-testid="step-branch_b"' in page
    assert page.count('data-testid="step-form"') == 2
    assert "<textarea" in page and ">Done</button>" in page


def test_people_without_a_role_at_the_site_are_refused(mfg: Mfg, batch: Batch, make_user) -> None:  # type: ignore[no-untyped-def]
    clinician = client_for(mfg.w.clinician)  # a role, at another site
    assert clinician.get(reverse("manufacturing:batch_list")).status_code == 200
    assert batch.number not in html(clinician.get(reverse("manufacturing:batch_list")))
    assert clinician.get(detail(batch)).status_code == 404
    assert clinician.get(reverse("manufacturing:batch_review", args=[batch.pk])).status_code == 404
    assert clinician.post(step_url(batch, "coi_in"), {"scan": "x"}).status_code == 403
    nobody = client_for(make_user(None, None, username="nobody"))
    assert nobody.get(reverse("manufacturing:batch_list")).status_code == 403
    assert nobody.get(detail(batch)).status_code == 403
    # Read-only roles may not post; nothing is written.
    inspector = client_for(mfg.w.inspector)
    assert inspector.post(step_url(batch, "coi_in"), {"scan": "x"}).status_code == 403
    assert (
        inspector.post(
            reverse("manufacturing:batch_hold", args=[batch.pk]), {"hold-reason": "x"}
        ).status_code
        == 403
    )
    assert inspector.get(reverse("manufacturing:mbr_author")).status_code == 403
    assert not StepEntry.objects.exists()


# --- executing steps -------------------------------------------------------------------------


def test_scan_the_coi_and_a_numeric_entry_verified_by_a_second_person(
    mfg: Mfg, batch: Batch
) -> None:
    c = client_for(mfg.operator)
    response = c.post(step_url(batch, "coi_in"), {"scan": f"&/{order_of(batch).coi}"})
    assert response.status_code == 302 and response["Location"] == detail(batch)
    assert entry(batch, "coi_in").status == "done"
    run(mfg, batch, until="cells")
    response = c.post(step_url(batch, "cells"), {"value": "120000000", "comment": ""}, follow=True)
    page = html(response)
    assert "120000000 cells" in page and "A second person verifies it now." in page
    e = entry(batch, "cells")
    assert e.status == "awaiting_verification"
    # The performer gets no verify form; a refused self-verification is recorded.
    assert 'data-testid="verify-form"' not in page
    response = c.post(reverse("manufacturing:entry_verify", args=[e.pk]), {"password": PASSWORD})
    assert response.status_code == 409
    assert "cannot verify their own entry" in html(response)
    assert AuditEvent.objects.filter(action="manufacturing.step.verify.blocked").count() == 1
    # The verifier signs in their own session, with their password.
    v = client_for(mfg.verifier)
    page = html(v.get(detail(batch)))
    assert 'data-testid="verify-form"' in page
    wrong = v.post(reverse("manufacturing:entry_verify", args=[e.pk]), {"password": "nope"})
    assert wrong.status_code in (400, 403) and 'data-testid="refusal"' in html(wrong)
    e.refresh_from_db()
    assert e.status == "awaiting_verification"
    response = v.post(
        reverse("manufacturing:entry_verify", args=[e.pk]),
        {"password": PASSWORD, "comment": "checked against the report"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == detail(batch)
    assert f"Entry #{e.seq} (cells) verified and signed." in html(response)
    e.refresh_from_db()
    assert e.status == "done" and e.verified_by == mfg.verifier
    assert "Victor Verifier" in html(response)


def test_a_refused_scan_shows_the_reason_in_red_and_writes_nothing(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="bsc")
    c = client_for(mfg.operator)
    response = c.post(step_url(batch, "bsc"), {"scan": "CEN-01"})
    assert response.status_code == 409
    page = html(response)
    assert 'data-testid="refusal"' in page and "Refused:" in page
    assert "CEN-01" in page
    # The scan field is emptied for a fresh scan, and has the focus.
    assert 'value="CEN-01"' not in page
    assert not StepEntry.objects.filter(batch=batch, step_key="bsc").exists()
    response = c.post(step_url(batch, "bsc"), {"scan": "NOPE-9"})
    assert response.status_code == 400 and "no equipment with id" in html(response)
    response = c.post(step_url(batch, "bsc"), {"scan": "BSC-01"})
    assert response.status_code == 302
    # A quarantined lot is refused with the materials' reason.
    mfg.reagent.status = "quarantine"
    mfg.reagent.save(update_fields=["status"])
    response = c.post(step_url(batch, "reagent"), {"scan": "LOT-R1"})
    assert response.status_code == 409
    assert "LOT-R1" in html(response) and "quarantine" in html(response)


def test_outside_the_action_limits_needs_a_comment_and_raises_a_deviation(
    mfg: Mfg, batch: Batch
) -> None:
    run(mfg, batch, until="cells")
    c = client_for(mfg.operator)
    response = c.post(step_url(batch, "cells"), {"value": "40000000"})
    assert response.status_code == 400
    page = html(response)
    assert "a comment is required" in page and 'data-testid="refusal"' in page
    assert 'value="40000000"' in page  # the value stays; the comment field gets the focus
    assert not Deviation.objects.exists()
    response = c.post(
        step_url(batch, "cells"),
        {"value": "40000000", "comment": "Low yield; supervisor informed"},
        follow=True,
    )
    dev = Deviation.objects.get()
    assert f"Deviation {dev.number} raised." in html(response)
    assert reverse("quality:deviation_detail", args=[dev.pk]) in html(response)


def test_hold_and_resume(mfg: Mfg, batch: Batch) -> None:
    c = client_for(mfg.operator)
    hold = reverse("manufacturing:batch_hold", args=[batch.pk])
    response = c.post(hold, {"hold-reason": ""})
    assert response.status_code == 400
    response = c.post(hold, {"hold-reason": "BSC alarm"}, follow=True)
    assert "is on hold" in html(response)
    batch.refresh_from_db()
    assert batch.status == "on_hold"
    page = html(c.get(detail(batch)))
    assert "On hold: BSC alarm" in page and 'data-testid="step-form"' not in page
    assert 'data-testid="resume-form"' in page
    response = c.post(step_url(batch, "coi_in"), {"scan": f"&/{order_of(batch).coi}"})
    assert response.status_code == 409 and "BSC alarm" in html(response)
    response = c.post(
        reverse("manufacturing:batch_resume", args=[batch.pk]), {"resume-reason": "Alarm cleared"}
    )
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "in_progress"


def test_correct_an_entry(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="vector")
    e = entry(batch, "cells")
    c = client_for(mfg.operator)
    page = html(c.get(detail(batch)))
    url = reverse("manufacturing:entry_correct", args=[e.pk])
    assert url in page
    assert c.get(url).status_code == 200
    response = c.post(url, {"value": "130000000", "reason": ""})
    assert response.status_code == 400
    response = c.post(url, {"value": "130000000", "reason": "Transcription error"}, follow=True)
    assert f"Entry #{e.seq} corrected" in html(response)
    e.refresh_from_db()
    assert e.status == "superseded"
    page = html(c.get(detail(batch)))
    assert "Transcription error" in page and "superseded by a correction" in page


def test_complete_and_review(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch)
    c = client_for(mfg.operator)
    page = html(c.get(detail(batch)))
    assert 'data-testid="complete"' in page
    response = c.post(reverse("manufacturing:batch_complete", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "completed"
    review = reverse("manufacturing:batch_review", args=[batch.pk])
    # The operator sees the review page but cannot sign it.
    assert 'data-testid="review-form"' not in html(c.get(review))
    assert c.post(review, {"password": PASSWORD}).status_code == 403
    qa = client_for(mfg.qa)
    page = html(qa.get(review))
    assert 'data-testid="review-form"' in page and 'data-testid="signatures"' in page
    wrong = qa.post(review, {"password": "wrong"})
    assert wrong.status_code in (400, 403) and 'data-testid="refusal"' in html(wrong)
    response = qa.post(review, {"password": PASSWORD, "comment": "No exceptions"}, follow=True)
    assert "reviewed and signed" in html(response)
    batch.refresh_from_db()
    assert batch.status == "reviewed"
    assert "Rita Reviewer" in html(response)
    assert verify_chain().ok


def test_review_lists_exceptions_with_deviation_links(mfg: Mfg, batch: Batch) -> None:
    low = {"value": "40000000", "comment": "Low yield"}
    run(mfg, batch, until="vector", cells=low)
    c = client_for(mfg.operator)
    c.post(step_url(batch, "vector"), {"scan": "LOT-R1"})  # wrong part: a refused attempt
    dev = Deviation.objects.get()
    page = html(
        client_for(mfg.w.inspector).get(reverse("manufacturing:batch_review", args=[batch.pk]))
    )
    assert 'data-testid="group-deviation"' in page and 'data-testid="group-limit"' in page
    assert 'data-testid="group-comment"' in page and 'data-testid="group-blocked"' in page
    assert reverse("quality:deviation_detail", args=[dev.pk]) in page
    assert 'data-testid="review-form"' not in page


def test_start_a_batch_from_the_list(mfg: Mfg, received) -> None:  # type: ignore[no-untyped-def]
    order = received()
    c = client_for(mfg.operator)
    page = html(c.get(reverse("manufacturing:batch_list")))
    assert 'data-testid="start-form"' in page and order.coi_eye_readable in page
    assert str(mfg.mbr.document_version) in page
    response = c.post(reverse("manufacturing:batch_start"), {"order": order.pk})
    b = Batch.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == detail(b)
    again = c.post(reverse("manufacturing:batch_start"), {"order": order.pk})
    assert again.status_code == 400  # no longer in the list of startable orders
    assert 'data-testid="start-form"' not in html(
        client_for(mfg.w.inspector).get(reverse("manufacturing:batch_list"))
    )


def test_samples_and_pdf(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="bag_label")
    c = client_for(mfg.w.inspector)
    page = html(c.get(reverse("manufacturing:batch_samples", args=[batch.pk])))
    assert f"{batch.number}-S01" in page and escape(order_of(batch).coi_eye_readable) in page
    response = c.get(reverse("manufacturing:batch_pdf", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{batch.number}.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")


# --- master records ----------------------------------------------------------------------


def test_mbr_detail_yaml_and_schema(mfg: Mfg) -> None:
    c = client_for(mfg.operator)
    page = html(c.get(reverse("manufacturing:mbr_detail", args=[mfg.mbr.pk])))
    assert reverse("documents:version_detail", args=[mfg.mbr.document_version.pk]) in page
    assert "Viable cells" in page and "TEST-APS" in page and "Action limits" in page
    response = c.get(reverse("manufacturing:mbr_yaml", args=[mfg.mbr.pk]))
    assert response["Content-Type"].startswith("text/yaml")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == mfg.mbr.yaml_text
    response = c.get(reverse("manufacturing:mbr_schema"))
    assert response["Content-Type"].startswith("application/json")
    assert "properties" in json.loads(response.content)


def test_author_check_and_import(mfg: Mfg) -> None:
    c = client_for(mfg.w.supervisor)
    url = reverse("manufacturing:mbr_author")
    assert c.get(url).status_code == 200
    response = c.post(url, {"yaml_text": TEST_MBR, "action": "check"})
    assert response.status_code == 200
    page = html(response)
    assert 'data-testid="check-ok"' in page and "Vector volume" in page
    upload = SimpleUploadedFile("test.yaml", TEST_MBR.encode(), content_type="text/yaml")
    response = c.post(url, {"file": upload, "action": "check"})
    assert response.status_code == 200 and 'data-testid="check-ok"' in html(response)
    assert escape("Test CAR-T process") in html(response).split("</textarea>")[0]
    broken = TEST_MBR.replace("kind: numeric", "kind: numberz")
    response = c.post(url, {"yaml_text": broken, "action": "check"})
    assert response.status_code == 400
    assert "operations[0].steps[3]" in html(response)
    count = MasterRecord.objects.count()
    response = c.post(
        url,
        {
            "yaml_text": TEST_MBR,
            "action": "import",
            "document": mfg.mbr.document_version.document_id,
            "change_summary": "Second issue",
        },
    )
    assert MasterRecord.objects.count() == count + 1
    new = MasterRecord.objects.order_by("-pk").first()
    assert new is not None and new.document_version.version == 2
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "documents:version_detail", args=[new.document_version.pk]
    )
    assert client_for(mfg.operator).get(url).status_code == 403


def test_dashboard_panel(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    c = client_for(mfg.operator)
    c.post(step_url(batch, "cells"), {"value": "120000000"})
    page = html(client_for(mfg.verifier).get("/"))
    assert 'data-testid="manufacturing-panel"' in page and 'data-testid="panel-verify"' in page
    assert batch.number in page
    page = html(c.get("/"))
    assert 'data-testid="panel-running"' in page and 'data-testid="panel-verify"' not in page


def test_the_page_and_the_api_filter_the_same_batches(mfg: Mfg, batch: Batch) -> None:
    """manufacturing/filters.py is read by both: the same status, the same batches."""
    from tests.core.test_api import bearer

    c = client_for(mfg.operator)
    headers = bearer(mfg.operator)
    for status in ("in_progress", "completed"):
        page = html(c.get(reverse("manufacturing:batch_list"), {"status": status}))
        api = c.get("/api/v1/manufacturing/batches", {"status": status}, **headers)
        assert api.status_code == 200
        assert (batch.number in page) == (batch.number in {b["number"] for b in api.json()})
    assert batch.status == "in_progress" and batch.number in html(
        c.get(reverse("manufacturing:batch_list"), {"status": "in_progress"})
    )
    refused = c.get(reverse("manufacturing:batch_list"), {"status": "brewing"})
    assert refused.status_code == 400 and "status" in html(refused)
    api = c.get("/api/v1/manufacturing/batches", {"status": "brewing"}, **headers)
    assert api.status_code == 422  # the API's schema refuses it before the FilterSet

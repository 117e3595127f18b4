"""The release API and pages as their users call them: readiness GET, a signed disposition
POST (4xx naming the field, nothing written), the CoA issued and downloaded, the pages."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.test import Client

from tests.release.conftest import PASSWORD, Line, unchanged
from vein2vein.core import services as core_services
from vein2vein.release import selectors

pytestmark = pytest.mark.django_db

BASE = "/api/v1/release"


def caller(user: Any) -> Any:
    _, raw = core_services.create_api_token(actor=user, user=user, name="test")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = Client()

    def call(method: str, url: str, body: Any = None) -> Any:
        if method == "get":
            return client.get(BASE + url, body or {}, **headers)
        return client.post(
            BASE + url, json.dumps(body or {}), content_type="application/json", **headers
        )

    return call


def test_readiness_over_the_api(mfg, ready_batch) -> None:
    call = caller(mfg.operator)
    r = call("get", f"/batches/{ready_batch.pk}/readiness")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["ready"] is True
    assert [i["state"] for i in body["items"]][-2:] == ["not_applicable", "not_applicable"]
    assert call("get", "/batches/999999/readiness").status_code == 404


def test_a_disposition_over_the_api_and_the_certificate(mfg, ready_batch) -> None:
    call = caller(mfg.approver)
    listed = call("get", "/batches")
    assert [b["number"] for b in listed.json()] == [ready_batch.number]
    r = call(
        "post",
        f"/batches/{ready_batch.pk}/disposition",
        {"decision": "release", "reason": "All criteria met", "password": PASSWORD},
    )
    assert r.status_code == 201, r.content
    assert r.json()["shippable"] is True
    assert call("get", "/batches").json() == []
    issued = call("post", f"/batches/{ready_batch.pk}/certificate")
    assert issued.status_code == 200, issued.content
    pdf = call("get", f"/batches/{ready_batch.pk}/certificate.pdf")
    assert pdf.status_code == 200
    data = b"".join(pdf.streaming_content)
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == issued.json()["sha256"] == pdf["X-Content-SHA256"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"decision": "ship", "reason": "x", "password": PASSWORD}, 422, "decision"),
        ({"decision": "release", "reason": "", "password": PASSWORD}, 400, "reason"),
        ({"decision": "release", "reason": "x", "password": "wrong"}, 403, "password"),
        (
            {"decision": "release", "reason": "x", "password": PASSWORD, "exceptional": True},
            400,
            "physician_name",
        ),
    ],
)
def test_a_bad_disposition_is_a_4xx_naming_the_field(
    mfg, ready_batch, qc_state, body, status, field
) -> None:
    if body.get("exceptional"):
        qc_state.lines[0] = Line(
            "Endotoxin", "QCM-ENDO v1", "<= 5.0 EU/mL", "7 EU/mL", "out_of_spec"
        )
    call = caller(mfg.approver)
    if body["password"] == "wrong":  # a failed password attempt is recorded (lockout)
        r = call("post", f"/batches/{ready_batch.pk}/disposition", body)
    else:
        with unchanged():
            r = call("post", f"/batches/{ready_batch.pk}/disposition", body)
    assert 400 <= r.status_code < 500
    assert r.status_code == status, r.content
    assert field in json.dumps(r.json())
    assert not selectors.dispositions_of(ready_batch.pk)


def test_the_pages(mfg, ready_batch) -> None:
    c = Client()
    c.force_login(mfg.approver)
    page = c.get("/release/")
    assert page.status_code == 200 and ready_batch.number in page.content.decode()
    detail = c.get(f"/release/batches/{ready_batch.pk}/")
    text = detail.content.decode()
    assert detail.status_code == 200
    assert 'data-testid="item-batch_record" data-state="ok"' in text
    assert "not applicable until labeling lands" in text
    assert 'data-testid="disposition-form"' in text
    r = c.post(
        f"/release/batches/{ready_batch.pk}/",
        {"decision": "release", "reason": "All criteria met", "password": PASSWORD},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert selectors.is_shippable(ready_batch.pk)
    assert c.post(f"/release/batches/{ready_batch.pk}/certificate/").status_code == 302
    pdf = c.get(f"/release/batches/{ready_batch.pk}/certificate.pdf?version=1")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert c.get("/release/notices/").status_code == 200
    assert 'data-testid="release-panel"' not in c.get("/").content.decode()


def test_an_operator_sees_readiness_but_no_disposition_form(mfg, ready_batch) -> None:
    c = Client()
    c.force_login(mfg.operator)
    text = c.get(f"/release/batches/{ready_batch.pk}/").content.decode()
    assert 'data-testid="readiness"' in text and 'data-testid="disposition-form"' not in text
    assert c.post(f"/release/batches/{ready_batch.pk}/", {"decision": "release"}).status_code == 403


def test_the_dashboard_panel_lists_batches_awaiting_disposition(mfg, ready_batch) -> None:
    c = Client()
    c.force_login(mfg.approver)
    text = c.get("/").content.decode()
    assert 'data-testid="release-panel"' in text and ready_batch.number in text

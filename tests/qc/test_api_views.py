"""The qc API (401 without credentials, 4xx naming the field, the flow from entry to review)
and the pages (each renders; a form posts through its service; a refusal is a 4xx on the
form)."""

from __future__ import annotations

import json

from django.test import Client

from tests.conftest import PASSWORD
from tests.core.test_api import bearer
from tests.qc.conftest import Lab, unchanged
from vein2vein.qc import services
from vein2vein.qc.models import TestResult

BASE = "/api/v1/qc"


def _post(client: Client, url: str, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(BASE + url, json.dumps(body), content_type="application/json", **headers)


def test_the_api_refuses_without_credentials(lab: Lab) -> None:
    client = Client()
    for url in ("/samples", "/results", "/methods", "/specifications", "/oos", "/worklist"):
        assert client.get(BASE + url).status_code == 401, url
    assert _post(client, "/results", {}).status_code == 401


def test_the_api_from_entry_to_review(lab: Lab) -> None:
    client = Client()
    me, second = bearer(lab.analyst), bearer(lab.analyst2)
    body = {"sample_id": lab.sample.pk, "method": "ENDO", "value": "0.9"}
    r = _post(client, "/results", body, **me)
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["printed"], out["evaluation"], out["test"]) == ("0.9 EU/mL", "out_of_spec", "ENDO")
    assert out["oos_deviation_id"] is not None
    rid = out["id"]
    refused = _post(client, f"/results/{rid}/review", {"password": PASSWORD}, **me)
    assert refused.status_code == 409 and refused.json()["field"] == "password"
    ok = _post(client, f"/results/{rid}/review", {"password": PASSWORD}, **second)
    assert ok.status_code == 200 and ok.json()["reviewed_by"] == lab.analyst2.username
    testing = client.get(f"{BASE}/batches/{lab.batch.pk}/release-testing", **me).json()
    assert testing["complete"] is False
    assert {line["status"] for line in testing["lines"]} == {"missing", "out_of_spec"}
    listed = client.get(f"{BASE}/results?evaluation=out_of_spec", **me).json()
    assert [x["id"] for x in listed] == [rid]
    oos = client.get(f"{BASE}/oos", **me).json()
    assert oos[0]["phase"] == "phase_i"


def test_api_bad_input_is_a_4xx_naming_the_field(lab: Lab) -> None:
    client = Client()
    me = bearer(lab.analyst)
    cases = [
        ({"sample_id": lab.sample.pk, "method": "ENDO", "value": "0.1", "unit": "ng"}, "unit"),
        ({"sample_id": lab.sample.pk, "method": "NOPE", "value": "1"}, "method"),
        ({"sample_id": 999999, "method": "ENDO", "value": "1"}, "sample_id"),
        ({"sample_id": lab.sample.pk, "method": "APP", "text": "maybe"}, "text"),
    ]
    with unchanged():
        for body, field in cases:
            r = _post(client, "/results", body, **me)
            assert 400 <= r.status_code < 500 and r.json()["field"] == field, (body, r.content)
        r = client.get(f"{BASE}/results?evaluation=weird", **me)
        assert r.status_code == 400 and r.json()["field"] == "evaluation"
        r = _post(client, f"/samples/{lab.sample.pk}/aliquots", {"volume": "11"}, **me)
        assert r.status_code == 400 and r.json()["field"] == "volume"


def test_pages_render_and_a_result_is_entered_and_reviewed(lab: Lab) -> None:
    r = services.enter_result(
        actor=lab.analyst, sample_id=lab.sample.pk, method="ENDO", value="0.9"
    )
    client = Client()
    client.force_login(lab.analyst2)
    oos = r.oos  # type: ignore[attr-defined]
    for url in (
        "/qc/",
        "/qc/worklist/",
        "/qc/results/",
        "/qc/oos/",
        "/qc/methods/",
        f"/qc/methods/{r.criterion.method_id}/",
        "/qc/specifications/",
        f"/qc/specifications/{lab.spec.pk}/",
        f"/qc/batches/{lab.batch.pk}/",
        f"/qc/samples/{lab.sample.pk}/",
        f"/qc/samples/{lab.sample.pk}/results/new/",
        f"/qc/results/{r.pk}/",
        f"/qc/results/{r.pk}/review/",
        f"/qc/oos/{oos.pk}/phase-i/",
        "/qc/import/counter/",
    ):
        assert client.get(url).status_code == 200, url
    page = client.get(f"/qc/batches/{lab.batch.pk}/").content.decode()
    assert "≤ 0.5 EU/mL" in page and "0.9 EU/mL" in page
    assert "Review result" in client.get("/qc/worklist/").content.decode()
    response = client.post(f"/qc/results/{r.pk}/review/", {"password": PASSWORD})
    assert response.status_code == 302
    r.refresh_from_db()
    assert r.reviewed_by == lab.analyst2
    # The analyst's own result: the page refuses with a 4xx on the form, nothing changes.
    mine = Client()
    mine.force_login(lab.analyst)
    new = mine.post(
        f"/qc/samples/{lab.sample.pk}/results/new/",
        {"method": "VCN", "value": "1.5", "unit": "", "text": "", "comment": ""},
    )
    assert new.status_code == 302, new.content.decode()[:2000]
    vcn = TestResult.objects.get(criterion__method__code="VCN")
    with unchanged(blocked="qc.result.review"):
        refused = mine.post(f"/qc/results/{vcn.pk}/review/", {"password": PASSWORD})
    assert refused.status_code == 409
    bad = mine.post(
        f"/qc/samples/{lab.sample.pk}/results/new/",
        {"method": "VCN", "value": "abc"},
    )
    assert bad.status_code == 400

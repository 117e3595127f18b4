"""The equipment API: every route answers 401 without credentials, 403 for the wrong role,
4xx naming the field for bad input (never 5xx), and drives the whole flow."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.core.test_api import bearer
from tests.equipment.factories import EQUIPMENT_MODELS, ago, certificate, in_service, use
from vein2vein.equipment.models import Equipment

BASE = "/api/v1/equipment"

ROUTES = [
    ("get", "/units"),
    ("post", "/units"),
    ("get", "/units/CEN-01"),
    ("patch", "/units/CEN-01"),
    ("post", "/units/CEN-01/status"),
    ("get", "/units/CEN-01/usable"),
    ("get", "/units/CEN-01/qualifications"),
    ("post", "/units/CEN-01/qualifications"),
    ("post", "/qualifications/1/approve"),
    ("get", "/units/CEN-01/plans"),
    ("post", "/units/CEN-01/plans"),
    ("post", "/plans/1/interval"),
    ("post", "/plans/1/records"),
    ("get", "/units/CEN-01/records"),
    ("get", "/records/1"),
    ("get", "/records/1/certificate"),
    ("get", "/due"),
    ("get", "/units/CEN-01/usages"),
    ("post", "/units/CEN-01/usages"),
    ("post", "/usages/1/end"),
]


def call(client: Client, method: str, url: str, body: object = None, **headers: str):  # type: ignore[no-untyped-def]
    if method == "get":
        return client.get(BASE + url, body or {}, **headers)
    return getattr(client, method)(
        BASE + url, json.dumps(body or {}), content_type="application/json", **headers
    )


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_every_route_needs_authentication(db, method, url):
    assert call(Client(), method, url).status_code == 401


@pytest.mark.parametrize(("method", "url"), [r for r in ROUTES if r[0] != "get"])
def test_every_write_route_refuses_bad_input_with_4xx(admin_user, method, url):
    response = call(Client(), method, url, {}, **bearer(admin_user))
    assert 400 <= response.status_code < 500, (method, url, response.content)


@pytest.fixture
def ready(site, supervisor, qa_approver, protocol):  # type: ignore[no-untyped-def]
    return in_service(site, supervisor, qa_approver, protocol, calibrated_at=ago(days=20))


def test_reads_for_an_inspector_and_no_writes(ready, inspector, site):
    h = bearer(inspector)
    client = Client()
    for url in ROUTES:
        if url[0] == "get" and "/1" not in url[1]:
            assert call(client, "get", url[1], **h).status_code == 200, url
    units = call(client, "get", "/units", {"due": "soon", "site": site.code}, **h).json()
    assert units == []
    assert call(client, "get", "/units", {"site": "NOPE"}, **h).status_code == 404
    assert call(client, "get", "/units", {"q": "\x00"}, **h).status_code in (400, 422)
    with nothing_written(*EQUIPMENT_MODELS):
        response = call(
            client, "post", "/units/CEN-01/status", {"status": "retired", "reason": "x"}, **h
        )
    assert response.status_code == 403


def test_register_with_bad_input_names_the_field(supervisor, site):
    body = {
        "equipment_id": "x",
        "name": "N",
        "kind": "centrifuge",
        "site_id": site.pk,
        "location": "L",
    }
    response = call(Client(), "post", "/units", body, **bearer(supervisor))
    assert response.status_code == 400 and response.json()["field"] == "equipment_id"
    body["equipment_id"] = "CEN-05"
    response = call(Client(), "post", "/units", body, **bearer(supervisor))
    assert response.status_code == 201 and response.json()["status"] == "in_qualification"


def test_failed_calibration_over_the_api_returns_the_impact_list(ready, supervisor, qc):
    unit, plan = ready
    use(supervisor, unit, "B-0007", ago(days=3), ago(days=2))
    client, h = Client(), bearer(qc)
    form = {
        "performed_at": ago(hours=1).isoformat(),
        "result": "fail",
        "remarks": "Speed off",
        "password": "wrong",
        "file": certificate(),
    }
    wrong = client.post(f"{BASE}/plans/{plan.pk}/records", form, **h)
    assert wrong.status_code == 403 and wrong.json()["field"] == "password"
    form.update(password=PASSWORD, file=certificate())
    response = client.post(f"{BASE}/plans/{plan.pk}/records", form, **h)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["impact_batches"] == ["B-0007"] and body["deviation_number"].startswith("DEV-")
    assert (
        call(client, "get", f"/records/{body['id']}", **h).json()["impact"][0]["batch_label"]
        == "B-0007"
    )
    usable = call(client, "get", "/units/CEN-01/usable", **h).json()
    assert usable["ok"] is False and "status is out of service" in usable["reasons"]
    cert = client.get(f"{BASE}/records/{body['id']}/certificate", **h)
    assert cert.status_code == 200 and cert["X-Content-SHA256"] == body["certificate_sha256"]
    assert Equipment.objects.get().status == "out_of_service"


def test_usage_over_the_api(ready, operator, supervisor):
    client, h = Client(), bearer(operator)
    body = {
        "batch_type": "manufacturing.batch",
        "batch_id": "12",
        "batch_label": "B-12",
        "step": "Wash",
    }
    started = call(client, "post", "/units/CEN-01/usages", body, **h)
    assert started.status_code == 201
    other = call(client, "post", "/units/CEN-01/usages", {**body, "batch_id": "13"}, **h)
    assert other.status_code == 409 and "in use by batch B-12" in other.json()["detail"]
    check = call(
        client,
        "get",
        "/units/CEN-01/usable",
        {"batch_type": "manufacturing.batch", "batch_id": "12"},
        **h,
    )
    assert check.json()["ok"] is True
    ended = call(client, "post", f"/usages/{started.json()['id']}/end", {}, **h)
    assert ended.status_code == 200 and ended.json()["ended_by"] == operator.username
    future = call(
        client,
        "post",
        "/units/CEN-01/usages",
        {**body, "at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()},
        **h,
    )
    assert future.status_code == 400 and future.json()["field"] == "at"
    wrong_role = call(Client(), "post", "/units/CEN-01/usages", body, **bearer(supervisor))
    assert wrong_role.status_code == 201  # supervisors may use equipment too


def test_qualification_over_the_api(site, supervisor, qa_approver, protocol):
    client = Client()
    call(
        client,
        "post",
        "/units",
        {
            "equipment_id": "INC-01",
            "name": "Incubator",
            "kind": "incubator",
            "site_id": site.pk,
            "location": "Suite 1",
        },
        **bearer(supervisor),
    )
    rec = call(
        client,
        "post",
        "/units/INC-01/qualifications",
        {"stage": "IQ", "document": "FRM-0101", "result": "pass", "performed_on": "2026-01-05"},
        **bearer(supervisor),
    )
    assert rec.status_code == 201, rec.content
    own = call(
        client,
        "post",
        f"/qualifications/{rec.json()['id']}/approve",
        {"password": PASSWORD},
        **bearer(supervisor),
    )
    assert own.status_code == 403
    ok = call(
        client,
        "post",
        f"/qualifications/{rec.json()['id']}/approve",
        {"password": PASSWORD},
        **bearer(qa_approver),
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    entry = call(
        client,
        "post",
        "/units/INC-01/status",
        {"status": "in_service", "reason": "go"},
        **bearer(supervisor),
    )
    assert entry.status_code == 409 and "OQ, PQ not approved" in entry.json()["detail"]
    plan = call(
        client,
        "post",
        "/units/INC-01/plans",
        {"kind": "maintenance", "title": "Filter", "interval_days": 90},
        **bearer(supervisor),
    )
    assert plan.status_code == 201 and plan.json()["overdue"] is True
    due = call(client, "get", "/due", **bearer(supervisor)).json()
    assert [d["plan"]["title"] for d in due] == ["Filter"]

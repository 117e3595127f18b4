"""The quality API: every route answers 401 without credentials, 403 for the wrong role, 4xx
naming the field for bad input (never 5xx), and drives the whole lifecycle."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.test_api import bearer
from tests.quality.factories import capa_with_action, change_draft, in_days, pending, raise_one
from tests.quality.helpers import unchanged
from vein2vein.core.models import Signature
from vein2vein.quality.models import Deviation

BASE = "/api/v1/quality"

ROUTES = [
    ("get", "/deviations"),
    ("post", "/deviations"),
    ("get", "/deviations/1"),
    ("post", "/deviations/1/classify"),
    ("post", "/deviations/1/investigation/start"),
    ("patch", "/deviations/1/investigation"),
    ("post", "/deviations/1/submit"),
    ("post", "/deviations/1/return"),
    ("post", "/deviations/1/close"),
    ("post", "/deviations/1/cancel"),
    ("post", "/deviations/1/extend"),
    ("post", "/deviations/1/links"),
    ("post", "/deviation-links/1/remove"),
    ("get", "/capas"),
    ("post", "/capas"),
    ("get", "/capas/1"),
    ("post", "/capas/1/deviations"),
    ("post", "/capas/1/actions"),
    ("post", "/capa-actions/1/start"),
    ("post", "/capa-actions/1/complete"),
    ("post", "/capa-actions/1/cancel"),
    ("post", "/capas/1/checks"),
    ("post", "/capa-checks/1/record"),
    ("post", "/capas/1/close"),
    ("post", "/capas/1/cancel"),
    ("get", "/change-controls"),
    ("post", "/change-controls"),
    ("get", "/change-controls/1"),
    ("patch", "/change-controls/1"),
    ("post", "/change-controls/1/submit"),
    ("post", "/change-controls/1/approve"),
    ("post", "/change-controls/1/reject"),
    ("post", "/change-controls/1/implement"),
    ("post", "/change-controls/1/tasks"),
    ("post", "/change-tasks/1/complete"),
    ("post", "/change-tasks/1/cancel"),
    ("post", "/change-controls/1/close"),
    ("post", "/change-controls/1/cancel"),
    ("get", "/overdue"),
    ("get", "/my-actions"),
]


def call(client: Client, method: str, url: str, body: object = None, **headers: str):  # type: ignore[no-untyped-def]
    if method == "get":
        return client.get(BASE + url, body or {}, **headers)
    return getattr(client, method)(
        BASE + url, json.dumps(body or {}), content_type="application/json", **headers
    )


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_every_route_needs_authentication(db, method, url):
    response = call(Client(), method, url)
    assert response.status_code == 401, (method, url, response.content)


@pytest.mark.parametrize(("method", "url"), [r for r in ROUTES if r[0] != "get"])
def test_every_write_route_refuses_bad_input_with_4xx(admin_user, method, url):
    """An empty or unknown-target body is a 4xx naming what is wrong, never a 5xx."""
    response = call(Client(), method, url, {}, **bearer(admin_user))
    assert 400 <= response.status_code < 500, (method, url, response.content)
    assert "detail" in response.json()


def test_inspector_reads_everything_and_writes_nothing(inspector, operator, site):
    dev = raise_one(operator, site)
    headers = bearer(inspector)
    client = Client()
    for url in (
        "/deviations",
        f"/deviations/{dev.pk}",
        "/capas",
        "/change-controls",
        "/overdue",
        "/my-actions",
    ):
        assert call(client, "get", url, **headers).status_code == 200, url
    body = {"site_id": site.pk, "title": "t", "description": "d", "category": "other"}
    with unchanged():
        response = call(client, "post", "/deviations", body, **headers)
        assert response.status_code == 403
        assert "quality.deviation.raise" in response.json()["detail"]
        response = call(client, "post", f"/deviations/{dev.pk}/cancel", {"reason": "x"}, **headers)
        assert response.status_code == 403


def test_raise_classify_investigate_close_through_the_api(operator, supervisor, qa_approver, site):
    client = Client()
    body = {
        "site_id": site.pk,
        "title": "Label mismatch at goods-in",
        "description": "DIN on the bag differs from the order",
        "category": "identity",
        "source_type": "core.site",
        "source_id": str(site.pk),
    }
    response = call(client, "post", "/deviations", body, **bearer(operator))
    assert response.status_code == 201, response.content
    dev = response.json()
    assert dev["number"].startswith("DEV-") and dev["status"] == "open"
    assert dev["raised_by"] == operator.username and dev["site"] == "MFG-TEST"
    sup = bearer(supervisor)
    pk = dev["id"]
    response = call(
        client,
        "post",
        f"/deviations/{pk}/classify",
        {"classification": "major", "justification": "Patient material"},
        **sup,
    )
    assert response.status_code == 200 and response.json()["classification"] == "major"
    response = call(client, "post", f"/deviations/{pk}/investigation/start", {}, **sup)
    assert response.json()["status"] == "under_investigation"
    response = call(
        client,
        "patch",
        f"/deviations/{pk}/investigation",
        {
            "impact_product": "None",
            "impact_patient": "None",
            "root_cause_method": "ishikawa",
            "ishikawa": {"method": ["No second check of the DIN"]},
            "root_cause_category": "procedure",
            "root_cause": "No second check",
        },
        **sup,
    )
    assert response.status_code == 200, response.content
    assert response.json()["ishikawa"] == {"method": ["No second check of the DIN"]}
    response = call(
        client,
        "post",
        f"/deviations/{pk}/links",
        {"record_type": "core.site", "record_id": str(site.pk), "note": "goods-in"},
        **sup,
    )
    assert response.status_code == 201 and response.json()["record_type"] == "core.site"
    assert call(client, "post", f"/deviations/{pk}/submit", **sup).status_code == 200
    qa = bearer(qa_approver)
    response = call(client, "post", f"/deviations/{pk}/close", {"password": "wrong"}, **qa)
    assert response.status_code == 403 and response.json()["field"] == "password"
    response = call(client, "post", f"/deviations/{pk}/close", {"password": PASSWORD}, **qa)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed" and response.json()["closed_by"] == "qaa1"
    assert Signature.objects.filter(meaning="approved", record_id=str(pk)).count() == 1


def test_operator_cannot_close_and_self_approval_is_refused(
    operator, supervisor, qa_approver, site
):
    dev = pending(qa_approver, site, raised_by=operator)
    as_operator, as_qa = bearer(operator), bearer(qa_approver)
    url, body = f"/deviations/{dev.pk}/close", {"password": PASSWORD}
    with unchanged():
        response = call(Client(), "post", url, body, **as_operator)
    assert response.status_code == 403
    with unchanged():
        response = call(Client(), "post", url, body, **as_qa)
    assert response.status_code == 403 and "you investigated" in response.json()["detail"]


def test_closing_with_an_open_capa_action_is_409_naming_the_field(
    supervisor, operator, qa_approver, site
):
    dev = pending(supervisor, site, raised_by=operator)
    capa_with_action(supervisor, operator, dev)
    response = call(
        Client(),
        "post",
        f"/deviations/{dev.pk}/close",
        {"password": PASSWORD},
        **bearer(qa_approver),
    )
    assert response.status_code == 409
    assert response.json()["field"] == "justifications"
    assert Deviation.objects.get(pk=dev.pk).status == "pending_qa_approval"


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"category": "weather"}, "category", 400),
        ({"title": ""}, "title", 400),
        ({"title": "a\x00b"}, "title", 422),
        ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at", 400),
        ({"detected_at": "not a time"}, "detected_at", 422),
        ({"site_id": 99999}, "site_id", 404),
        ({"site_id": "x"}, "site_id", 422),
    ],
)
def test_bad_deviation_input_names_the_field(operator, site, body, field, status):
    base = {"site_id": site.pk, "title": "t", "description": "d", "category": "other"}
    headers = bearer(operator)
    with unchanged():
        response = call(Client(), "post", "/deviations", {**base, **body}, **headers)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field


def test_list_filters_and_unknown_owner(operator, supervisor, site):
    raise_one(operator, site, category="equipment")
    raise_one(supervisor, site)
    headers = bearer(operator)
    client = Client()
    response = call(client, "get", "/deviations", {"category": "equipment"}, **headers)
    assert [d["category"] for d in response.json()] == ["equipment"]
    response = call(client, "get", "/deviations", {"owner": supervisor.username}, **headers)
    assert len(response.json()) == 1
    response = call(client, "get", "/deviations", {"overdue": "true"}, **headers)
    assert response.json() == []
    response = call(client, "get", "/deviations", {"owner": "nobody"}, **headers)
    assert response.status_code == 404 and response.json()["field"] == "owner"
    response = call(client, "get", "/deviations", {"status": "a\x00"}, **headers)
    assert (response.status_code, response.json()["field"]) == (400, "status")  # NUL guard
    response = call(client, "get", "/deviations", {"limit": 0}, **headers)
    assert response.status_code == 422
    assert call(client, "get", "/deviations/999999", **headers).status_code == 404


def test_capa_lifecycle_through_the_api(supervisor, operator, qa_reviewer, qa_approver, site):
    dev = raise_one(operator, site)
    client = Client()
    sup = bearer(supervisor)
    response = call(
        client,
        "post",
        "/capas",
        {"title": "Label control", "description": "d", "deviation_ids": [dev.pk]},
        **sup,
    )
    assert response.status_code == 201, response.content
    capa = response.json()
    assert capa["deviations"] == [dev.number]
    response = call(
        client,
        "post",
        f"/capas/{capa['id']}/actions",
        {
            "kind": "corrective",
            "description": "Move templates",
            "owner_id": operator.pk,
            "due_date": in_days(5).isoformat(),
        },
        **sup,
    )
    assert response.status_code == 201, response.content
    action = response.json()
    op = bearer(operator)
    assert call(client, "post", f"/capa-actions/{action['id']}/start", **op).status_code == 200
    response = call(
        client, "post", f"/capa-actions/{action['id']}/complete", {"evidence": "Moved"}, **op
    )
    assert response.json()["status"] == "done"
    response = call(
        client,
        "post",
        f"/capas/{capa['id']}/checks",
        {"due_date": in_days(30).isoformat(), "criteria": "No recurrence"},
        **sup,
    )
    assert response.status_code == 201
    check = response.json()
    response = call(
        client,
        "post",
        f"/capa-checks/{check['id']}/record",
        {"result": "pass", "password": PASSWORD},
        **bearer(qa_reviewer),
    )
    assert response.status_code == 200 and response.json()["result"] == "pass"
    response = call(client, "post", f"/capas/{capa['id']}/close", {}, **bearer(qa_approver))
    assert response.status_code == 200 and response.json()["status"] == "closed"
    response = call(client, "post", "/capas", {"title": "t", "description": "d"}, **sup)
    assert response.status_code == 400 and response.json()["field"] == "site_id"
    response = call(
        client,
        "post",
        f"/capas/{capa['id']}/actions",
        {"kind": "corrective", "description": "d", "owner_id": operator.pk, "due_date": "soon"},
        **sup,
    )
    assert response.status_code == 422 and response.json()["field"] == "due_date"


def test_change_control_lifecycle_through_the_api(operator, supervisor, qa_approver, site):
    client = Client()
    op = bearer(operator)
    body = {
        "site_id": site.pk,
        "title": "Program 7",
        "what": "Switch the wash program",
        "why": "Recovery",
        "affected": {"equipment": ["CENT-01"]},
        "validation_impact": False,
        "regulatory_impact": False,
        "training_impact": False,
    }
    response = call(client, "post", "/change-controls", body, **op)
    assert response.status_code == 201, response.content
    change = response.json()
    assert change["affected"] == {"equipment": ["CENT-01"]}
    pk = change["id"]
    response = call(client, "patch", f"/change-controls/{pk}", {"title": "Program 7 wash"}, **op)
    assert response.json()["title"] == "Program 7 wash"
    response = call(client, "post", f"/change-controls/{pk}/submit", **op)
    assert response.json()["pending_roles"] == ["qa_approver", "supervisor"]
    response = call(client, "post", f"/change-controls/{pk}/approve", {"password": PASSWORD}, **op)
    assert response.status_code == 403  # the requester
    for user in (supervisor, qa_approver):
        response = call(
            client, "post", f"/change-controls/{pk}/approve", {"password": PASSWORD}, **bearer(user)
        )
        assert response.status_code == 201, response.content
    response = call(client, "get", f"/change-controls/{pk}", **op)
    assert response.json()["status"] == "approved"
    assert call(client, "post", f"/change-controls/{pk}/implement", **op).status_code == 200
    response = call(
        client,
        "post",
        f"/change-controls/{pk}/tasks",
        {"description": "Update SOP", "owner_id": operator.pk, "due_date": in_days(3).isoformat()},
        **op,
    )
    assert response.status_code == 201
    task = response.json()
    response = call(client, "post", f"/change-controls/{pk}/close", {}, **bearer(supervisor))
    assert response.status_code == 409 and response.json()["field"] == "tasks"
    response = call(
        client, "post", f"/change-tasks/{task['id']}/complete", {"evidence": "SOP v5"}, **op
    )
    assert response.status_code == 200
    response = call(client, "post", f"/change-controls/{pk}/close", {}, **bearer(supervisor))
    assert response.status_code == 200 and response.json()["status"] == "closed"


def test_change_request_bad_input(operator, site):
    body = {"site_id": site.pk, "title": "t", "what": "w", "why": "y", "affected": {"rooms": ["A"]}}
    response = call(Client(), "post", "/change-controls", body, **bearer(operator))
    assert response.status_code == 422 and response.json()["field"] == "affected.rooms"
    change = change_draft(operator, site, validation_impact=None)
    response = call(Client(), "post", f"/change-controls/{change.pk}/submit", **bearer(operator))
    assert response.status_code == 400 and response.json()["field"] == "validation_impact"


def test_extend_and_my_actions(operator, qa_reviewer, site):
    dev = raise_one(operator, site)
    response = call(
        Client(),
        "post",
        f"/deviations/{dev.pk}/extend",
        {
            "new_due_date": in_days(60).isoformat(),
            "reason": "Awaiting vendor",
            "password": PASSWORD,
        },
        **bearer(qa_reviewer),
    )
    assert response.status_code == 201, response.content
    assert response.json()["old_due_date"] == dev.due_date.isoformat()
    response = call(Client(), "get", "/my-actions", **bearer(operator))
    assert [d["number"] for d in response.json()["deviations"]] == [dev.number]

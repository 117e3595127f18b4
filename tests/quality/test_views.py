"""The quality pages through Django's test client: what they show, what they refuse (4xx with
the message on the form, never 5xx), and that a refused step changes nothing."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest

from tests.conftest import PASSWORD
from tests.quality.factories import (
    capa_with_action,
    change_draft,
    in_days,
    investigating,
    pending,
    raise_one,
)
from tests.quality.helpers import unchanged
from vein2vein.core.models import Signature
from vein2vein.core.time import now
from vein2vein.quality.models import ChangeControl, Deviation


def _html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


@pytest.fixture
def as_user(client):  # type: ignore[no-untyped-def]
    def login(user):  # type: ignore[no-untyped-def]
        client.force_login(user)
        return client

    return login


@pytest.mark.parametrize(
    "path",
    [
        "/quality/",
        "/quality/capa/",
        "/quality/changes/",
        "/quality/overdue/",
        "/quality/deviations/new/",
    ],
)
def test_anonymous_is_sent_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_lists_and_details_render_for_an_inspector(
    as_user, inspector, supervisor, operator, qa_reviewer, site
):
    dev = investigating(supervisor, site, raised_by=operator)
    capa, _ = capa_with_action(supervisor, operator, dev)
    change = change_draft(operator, site)
    client = as_user(inspector)
    for path, text in [
        ("/quality/", dev.number),
        ("/quality/capa/", capa.number),
        ("/quality/changes/", change.number),
        ("/quality/overdue/", "None overdue"),
        (f"/quality/deviations/{dev.pk}/", "quality.deviation.investigation_started"),
        (f"/quality/capa/{capa.pk}/", "quality.capa.action_added"),
        (f"/quality/changes/{change.pk}/", "quality.change.requested"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert text in _html(response), (path, text)
    # The inspector sees no write buttons.
    html = _html(client.get(f"/quality/deviations/{dev.pk}/"))
    assert "Submit for QA approval" not in html and "Raise a deviation" not in html


def test_list_filters(as_user, operator, supervisor, site):
    a = raise_one(operator, site, category="equipment", title="Centrifuge calibration lapsed")
    b = raise_one(supervisor, site, title="Missing signature on form")
    client = as_user(operator)
    html = _html(client.get("/quality/", {"category": "equipment"}))
    assert a.number in html and b.number not in html
    html = _html(client.get("/quality/", {"owner": supervisor.pk}))
    assert b.number in html and a.number not in html
    html = _html(client.get("/quality/", {"overdue": "yes"}))
    assert "No deviations match" in html
    assert client.get("/quality/", {"status": "bogus"}).status_code == 400
    assert client.get("/quality/capa/", {"overdue": "yes"}).status_code == 200
    assert client.get("/quality/changes/", {"status": "active"}).status_code == 200


def test_the_page_and_the_api_filter_the_same_rows(as_user, operator, supervisor, site):
    """quality/filters.py is read by both: the same filter, the same deviations."""
    from tests.core.test_api import bearer

    a = raise_one(operator, site, category="equipment", title="Centrifuge calibration lapsed")
    b = raise_one(supervisor, site, title="Missing signature on form")
    client = as_user(operator)
    cases = [
        ({"category": "equipment"}, {"category": "equipment"}),
        ({"owner": supervisor.pk}, {"owner": supervisor.username}),
        ({"status": "active", "overdue": "no"}, {"status": "active", "overdue": "false"}),
    ]
    for page_query, api_query in cases:
        html = _html(client.get("/quality/", page_query))
        on_page = {d.number for d in (a, b) if d.number in html}
        api = client.get("/api/v1/quality/deviations", api_query, **bearer(operator))
        assert api.status_code == 200
        assert on_page == {row["number"] for row in api.json()}, page_query
    page = client.get("/quality/", {"classification": "nonsense"})
    assert page.status_code == 400 and "classification" in _html(page)
    api = client.get(
        "/api/v1/quality/deviations", {"classification": "nonsense"}, **bearer(operator)
    )
    assert api.status_code == 400 and api.json()["field"] == "classification"


def test_operator_raises_a_deviation_through_the_form(as_user, operator, site):
    client = as_user(operator)
    assert client.get("/quality/deviations/new/").status_code == 200
    with unchanged():
        response = client.post(
            "/quality/deviations/new/",
            {"site": site.pk, "title": "Label mismatch", "category": "identity", "description": ""},
        )
    assert response.status_code == 400 and "This field is required" in _html(response)
    with unchanged():
        response = client.post(
            "/quality/deviations/new/",
            {
                "site": site.pk,
                "title": "Label mismatch",
                "category": "identity",
                "description": "DIN differs",
                "source_type": "core.nothing",
                "source_id": "1",
            },
        )
    assert response.status_code == 400 and "not a known record" in _html(response)
    response = client.post(
        "/quality/deviations/new/",
        {
            "site": site.pk,
            "title": "Label mismatch",
            "category": "identity",
            "description": "DIN differs",
            "immediate_actions": "Bag quarantined",
        },
    )
    dev = Deviation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/quality/deviations/{dev.pk}/"
    assert dev.raised_by == operator and dev.immediate_actions == "Bag quarantined"


def test_investigation_form_records_whys_and_ishikawa(as_user, supervisor, operator, site):
    dev = investigating(supervisor, site, raised_by=operator)
    client = as_user(supervisor)
    url = f"/quality/deviations/{dev.pk}/investigation/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "impact_product": "None",
            "impact_patient": "None",
            "root_cause_method": "five_whys",
            "why_1": "Why wrong label?",
            "answer_1": "Old template",
            "why_2": "Why old template?",
            "answer_2": "",
            "ishikawa_machine": "Printer\n\nRibbon",
            "root_cause_category": "procedure",
            "root_cause": "Template uncontrolled",
        },
    )
    assert response.status_code == 400 and "both the why and its answer" in _html(response)
    response = client.post(
        url,
        {
            "impact_product": "None",
            "impact_patient": "None",
            "root_cause_method": "five_whys",
            "why_1": "Why wrong label?",
            "answer_1": "Old template",
            "ishikawa_machine": "Printer\n\nRibbon",
            "root_cause_category": "procedure",
            "root_cause": "Template uncontrolled",
        },
    )
    assert response.status_code == 302
    dev.refresh_from_db()
    assert dev.five_whys == [{"why": "Why wrong label?", "answer": "Old template"}]
    assert dev.ishikawa == {"machine": ["Printer", "Ribbon"]}
    # The same values again: nothing to change, said on the form.
    response = client.post(url, {**{k: v for k, v in response.wsgi_request.POST.items()}})
    assert response.status_code == 400 and "nothing to change" in _html(response)
    html = _html(client.get(f"/quality/deviations/{dev.pk}/"))
    assert "Old template" in html and "Ribbon" in html


def test_close_page_signs_and_refuses_a_wrong_password(
    as_user, supervisor, operator, qa_approver, site
):
    dev = pending(supervisor, site, raised_by=operator)
    client = as_user(qa_approver)
    url = f"/quality/deviations/{dev.pk}/close/"
    html = _html(client.get(url))
    assert 'type="password"' in html and "Sign: approve and close" in html
    with unchanged():
        response = client.post(url, {"password": "wrong"})
    assert response.status_code == 403 and "password is incorrect" in _html(response)
    response = client.post(url, {"password": PASSWORD, "comment": "OK"})
    assert response.status_code == 302
    dev.refresh_from_db()
    assert dev.status == "closed"
    html = _html(client.get(f"/quality/deviations/{dev.pk}/"))
    assert "Amara Approver" in html and "Approved" in html


def test_operator_is_refused_the_close_step(as_user, supervisor, operator, site):
    dev = pending(supervisor, site, raised_by=operator)
    client = as_user(operator)
    html = _html(client.get(f"/quality/deviations/{dev.pk}/"))
    assert "Close with signature" not in html
    with unchanged():
        response = client.post(f"/quality/deviations/{dev.pk}/close/", {"password": PASSWORD})
    assert response.status_code == 403 and "quality.deviation.close" in _html(response)


def test_close_page_asks_to_justify_open_actions(as_user, supervisor, operator, qa_approver, site):
    dev = pending(supervisor, site, raised_by=operator)
    _, action = capa_with_action(supervisor, operator, dev)
    client = as_user(qa_approver)
    url = f"/quality/deviations/{dev.pk}/close/"
    assert f"justify_{action.pk}" in _html(client.get(url))
    response = client.post(url, {"password": PASSWORD})
    assert response.status_code == 409 and "not done and not justified" in _html(response)
    response = client.post(url, {"password": PASSWORD, f"justify_{action.pk}": "Preventive only"})
    assert response.status_code == 302


def test_unknown_step_and_record_are_404(as_user, operator, site):
    dev = raise_one(operator, site)
    client = as_user(operator)
    assert client.get(f"/quality/deviations/{dev.pk}/explode/").status_code == 404
    assert client.get("/quality/deviations/999999/").status_code == 404
    assert client.get("/quality/deviations/999999/close/").status_code == 404


def test_capa_pages_walk_an_action_and_the_check(
    as_user, supervisor, operator, qa_reviewer, qa_approver, site
):
    dev = raise_one(operator, site)
    client = as_user(supervisor)
    response = client.post(
        f"/quality/deviations/{dev.pk}/capa/",
        {"site": site.pk, "title": "Label control", "description": "Uncontrolled templates"},
    )
    assert response.status_code == 302
    capa = dev.capas.get()
    assert response["Location"] == f"/quality/capa/{capa.pk}/"
    response = client.post(
        f"/quality/capa/{capa.pk}/action/",
        {
            "kind": "corrective",
            "description": "Control templates",
            "owner": operator.pk,
            "due_date": in_days(5).isoformat(),
        },
    )
    assert response.status_code == 302
    action = capa.actions.get()
    client = as_user(operator)
    assert client.post(f"/quality/capa-actions/{action.pk}/start/").status_code == 302
    response = client.post(f"/quality/capa-actions/{action.pk}/complete/", {"evidence": ""})
    assert response.status_code == 400
    response = client.post(
        f"/quality/capa-actions/{action.pk}/complete/", {"evidence": "Done", "evidence_ref": "SOP"}
    )
    assert response.status_code == 302
    client = as_user(supervisor)
    response = client.post(
        f"/quality/capa/{capa.pk}/check/",
        {"criteria": "No recurrence", "due_date": in_days(30).isoformat()},
    )
    assert response.status_code == 302
    check = capa.checks.get()
    client = as_user(qa_reviewer)
    response = client.post(
        f"/quality/capa-checks/{check.pk}/record/", {"result": "pass", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert Signature.objects.filter(meaning="reviewed").count() == 1
    client = as_user(qa_approver)
    assert client.post(f"/quality/capa/{capa.pk}/close/", {}).status_code == 302
    capa.refresh_from_db()
    assert capa.status == "closed"


def test_capa_close_page_shows_the_interlock(as_user, supervisor, operator, qa_approver, site):
    capa, _ = capa_with_action(supervisor, operator, site=site)
    response = as_user(qa_approver).post(f"/quality/capa/{capa.pk}/close/", {})
    assert response.status_code == 409 and "actions not done" in _html(response)


def test_change_pages_from_request_to_closure(as_user, operator, supervisor, qa_approver, site):
    client = as_user(operator)
    response = client.post(
        "/quality/changes/new/",
        {
            "site": site.pk,
            "title": "Program 7",
            "what": "Wash program",
            "why": "Recovery",
            "affected_equipment": "CENT-01\nCENT-02",
            "validation_impact": "no",
            "regulatory_impact": "no",
            "training_impact": "yes",
            "training_notes": "",
        },
    )
    assert response.status_code == 302
    change = ChangeControl.objects.get()
    assert change.affected == {"equipment": ["CENT-01", "CENT-02"]}
    response = client.post(f"/quality/changes/{change.pk}/submit/")
    assert response.status_code == 400 and "training_notes is missing" in _html(response)
    edit = f"/quality/changes/{change.pk}/edit/"
    assert client.get(edit).status_code == 200
    data = {
        "title": "Program 7",
        "what": "Wash program",
        "why": "Recovery",
        "affected_equipment": "CENT-01\nCENT-02",
        "validation_impact": "no",
        "regulatory_impact": "no",
        "training_impact": "yes",
        "training_notes": "Read SOP",
    }
    assert client.post(edit, data).status_code == 302
    assert client.post(edit, data).status_code == 400  # nothing changed
    assert client.post(f"/quality/changes/{change.pk}/submit/").status_code == 302
    # The requester has no approve button and is refused.
    assert "Approve with signature" not in _html(client.get(f"/quality/changes/{change.pk}/"))
    for approver in (supervisor, qa_approver):
        c = as_user(approver)
        page = _html(c.get(f"/quality/changes/{change.pk}/"))
        assert "Approve with signature" in page
        response = c.post(
            f"/quality/changes/{change.pk}/approve/",
            {"role": approver.role_assignments.get().role, "password": PASSWORD},
        )
        assert response.status_code == 302, _html(response)
    change.refresh_from_db()
    assert change.status == "approved"
    client = as_user(operator)
    assert client.post(f"/quality/changes/{change.pk}/implement/").status_code == 302
    response = client.post(
        f"/quality/changes/{change.pk}/task/",
        {"description": "Update SOP", "owner": operator.pk, "due_date": in_days(4).isoformat()},
    )
    assert response.status_code == 302
    task = change.tasks.get()
    assert (
        client.post(f"/quality/change-tasks/{task.pk}/complete/", {"evidence": "v5"}).status_code
        == 302
    )
    client = as_user(supervisor)
    assert client.post(f"/quality/changes/{change.pk}/close/", {}).status_code == 302
    change.refresh_from_db()
    assert change.status == "closed"


def test_dashboard_panel_lists_my_open_actions(
    as_user, supervisor, operator, qa_reviewer, qa_approver, site
):
    dev = pending(supervisor, site, raised_by=operator)
    capa, action = capa_with_action(supervisor, operator, dev)
    html = _html(as_user(operator).get("/"))
    assert "My open quality actions" in html
    assert dev.number in html and capa.number in html and f"#{action.pk}" in html
    html = _html(as_user(qa_approver).get("/"))
    assert "Deviations waiting for my QA approval" in html and dev.number in html


def test_admin_gets_no_quality_panel(as_user, admin_user):
    html = _html(as_user(admin_user).get("/"))
    assert "My open quality actions" not in html


def test_standalone_capa_and_change_rejection_pages(
    as_user, supervisor, operator, qa_approver, site
):
    client = as_user(supervisor)
    assert client.get("/quality/capa/new/").status_code == 200
    response = client.post("/quality/capa/new/", {"site": site.pk, "title": "", "description": ""})
    assert response.status_code == 400
    response = client.post(
        "/quality/capa/new/", {"site": site.pk, "title": "Gowning", "description": "Trend"}
    )
    assert response.status_code == 302
    change = change_draft(operator, site)
    as_user(operator).post(f"/quality/changes/{change.pk}/submit/")
    client = as_user(qa_approver)
    assert "Reject" in _html(client.get(f"/quality/changes/{change.pk}/"))
    response = client.post(f"/quality/changes/{change.pk}/reject/", {"reason": ""})
    assert response.status_code == 400
    response = client.post(f"/quality/changes/{change.pk}/reject/", {"reason": "No plan"})
    assert response.status_code == 302
    change.refresh_from_db()
    assert (change.status, change.end_reason) == ("rejected", "No plan")


def test_overdue_report_lists_what_is_late(as_user, operator, supervisor, site):
    dev = raise_one(operator, site)
    _, action = capa_with_action(supervisor, operator, dev)
    with mock.patch("django.utils.timezone.now", return_value=now() + dt.timedelta(days=40)):
        html = _html(as_user(supervisor).get("/quality/overdue/"))
    assert dev.number in html and f"#{action.pk}" in html
    assert "1 deviation" in html and "1 CAPA action" in html

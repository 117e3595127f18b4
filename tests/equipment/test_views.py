"""Equipment pages: every page renders for a reader, forms run the services, a refusal is a
4xx on the form naming the problem (never a 5xx), and writes need the right role."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.equipment.factories import EQUIPMENT_MODELS, ago, certificate, in_service, use
from vein2vein.equipment import services
from vein2vein.equipment.models import Equipment, ServiceRecord


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ready(site, supervisor, qa_approver, protocol):  # type: ignore[no-untyped-def]
    return in_service(site, supervisor, qa_approver, protocol, calibrated_at=ago(days=30))


def test_pages_render_for_an_inspector(ready, inspector, supervisor, qc):
    unit, _plan = ready
    use(supervisor, unit, "B-0001", ago(days=2), ago(days=1))
    rec = ServiceRecord.objects.get()
    client = _client(inspector)
    for url in (
        "/equipment/",
        "/equipment/?kind=centrifuge&status=in_service&due=soon&q=CEN",
        "/equipment/?due=overdue",
        "/equipment/due/",
        "/equipment/due/?days=x",
        "/equipment/CEN-01/",
        "/equipment/cen-01/",
        f"/equipment/records/{rec.pk}/impact/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get("/equipment/CEN-01/").content.decode()
    assert "B-0001" in page and "usable now" in page and "Start usage" not in page
    assert client.get(f"/equipment/records/{rec.pk}/certificate/")["X-Content-SHA256"] == (
        rec.certificate_sha256
    )
    assert client.get("/equipment/NOPE-9/").status_code == 404
    assert client.get("/equipment/?kind=toaster").status_code == 400
    assert client.get("/equipment/?q=%00").status_code == 400


def test_inspector_writes_nothing_through_pages(ready, inspector):
    client = _client(inspector)
    with nothing_written(*EQUIPMENT_MODELS):
        response = client.post("/equipment/CEN-01/status/", {"status": "retired", "reason": "x"})
    assert response.status_code == 403


def test_register_and_correct_through_pages(site, supervisor):
    client = _client(supervisor)
    assert client.get("/equipment/new/").status_code == 200
    response = client.post(
        "/equipment/new/",
        {
            "equipment_id": "bsc-09",
            "name": "BSC",
            "kind": "biosafety_cabinet",
            "site": site.pk,
            "location": "Suite 1",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/equipment/BSC-09/"
    bad = client.post(
        "/equipment/new/",
        {
            "equipment_id": "BSC-09",
            "name": "BSC",
            "kind": "biosafety_cabinet",
            "site": site.pk,
            "location": "Suite 1",
        },
    )
    assert bad.status_code == 400 and "already used" in bad.content.decode()
    response = client.post(
        "/equipment/BSC-09/edit/",
        {"name": "BSC left", "location": "Suite 1", "reason": "Name clarified"},
    )
    assert response.status_code == 302
    assert Equipment.objects.get().name == "BSC left"


def test_failed_calibration_through_the_page_lands_on_the_impact_list(ready, supervisor):
    unit, plan = ready
    use(supervisor, unit, "B-0042", ago(days=3), ago(days=2))
    client = _client(supervisor)
    assert client.get(f"/equipment/CEN-01/records/new/?plan={plan.pk}").status_code == 200
    performed = ago(hours=1).strftime("%Y-%m-%dT%H:%M")
    data = {"plan": plan.pk, "performed_at": performed, "result": "fail", "remarks": "Off by 5%"}
    wrong = client.post(
        "/equipment/CEN-01/records/new/",
        {**data, "password": "wrong", "certificate": certificate()},
    )
    assert wrong.status_code == 403 and "password is incorrect" in wrong.content.decode()
    response = client.post(
        "/equipment/CEN-01/records/new/",
        {**data, "password": PASSWORD, "certificate": certificate()},
    )
    rec = ServiceRecord.objects.get(result="fail")
    assert response.status_code == 302
    assert response["Location"] == f"/equipment/records/{rec.pk}/impact/"
    page = client.get(response["Location"]).content.decode()
    assert "B-0042" in page and "Out of service" in page and rec.deviation_number in page


def test_form_pages_render_and_refuse_with_4xx(ready, supervisor, qa_approver, operator):
    unit, plan = ready
    client = _client(supervisor)
    for url in ("status", "qualifications/new", "plans/new", "edit", "records/new"):
        assert client.get(f"/equipment/CEN-01/{url}/").status_code == 200, url
    assert client.get(f"/equipment/plans/{plan.pk}/interval/").status_code == 200
    bad = client.post(
        "/equipment/CEN-01/qualifications/new/",
        {"stage": "IQ", "document": "FRM-9999", "result": "pass", "performed_on": "2026-01-01"},
    )
    assert bad.status_code == 404 and "FRM-9999" in bad.content.decode()
    conflict = client.post("/equipment/CEN-01/status/", {"status": "in_service", "reason": "x"})
    assert conflict.status_code == 409
    op = _client(operator)
    assert (
        op.post(
            "/equipment/CEN-01/usages/new/",
            {
                "batch_type": "manufacturing.batch",
                "batch_id": "1",
                "batch_label": "B-1",
                "step": "Wash",
            },
        ).status_code
        == 302
    )
    usage = unit.usages.get()
    blocked = op.post(
        "/equipment/CEN-01/usages/new/",
        {
            "batch_type": "manufacturing.batch",
            "batch_id": "2",
            "batch_label": "B-2",
            "step": "Wash",
        },
    )
    assert blocked.status_code == 409 and "in use by batch B-1" in blocked.content.decode()
    assert op.post(f"/equipment/usages/{usage.pk}/end/").status_code == 302


def test_dashboard_panel_lists_due_and_out_of_service(ready, supervisor, admin_user):
    services.add_plan(
        actor=supervisor,
        equipment_id="CEN-01",
        kind="maintenance",
        title="Rotor check",
        interval_days=30,
    )
    services.change_status(
        actor=supervisor, equipment_id="CEN-01", status="out_of_service", reason="Noisy"
    )
    page = _client(supervisor).get("/").content.decode()
    assert 'data-testid="equipment-panel"' in page
    assert "Rotor check" in page and "never done" in page and "Noisy" in page
    assert 'data-testid="equipment-panel"' not in _client(admin_user).get("/").content.decode()


def test_the_page_and_the_api_filter_the_same_units(site, supervisor, qa_approver, protocol):  # type: ignore[no-untyped-def]
    """equipment/filters.py is read by both: the same filters, the same units."""
    from tests.core.test_api import bearer

    in_service(site, supervisor, qa_approver, protocol, calibrated_at=ago(days=30))
    in_service(site, supervisor, qa_approver, protocol, "BSC-02", calibrated_at=ago(days=364))
    client = _client(supervisor)
    headers = bearer(supervisor)
    cases = [
        ("kind=centrifuge", "kind=centrifuge"),
        ("q=BSC", "q=BSC"),
        ("due=soon", "due=soon"),
        (f"site={site.pk}&status=in_service", f"site={site.code}&status=in_service"),
    ]
    for page_query, api_query in cases:
        html = client.get(f"/equipment/?{page_query}").content.decode()
        on_page = {tag for tag in ("CEN-01", "BSC-02") if tag in html}
        api = client.get(f"/api/v1/equipment/units?{api_query}", **headers)
        assert api.status_code == 200
        assert on_page == {u["equipment_id"] for u in api.json()}, page_query
    assert client.get("/equipment/?due=someday").status_code == 400
    api = client.get("/api/v1/equipment/units?due=someday", **headers)
    assert api.status_code == 400 and api.json()["field"] == "due"
    assert client.get("/api/v1/equipment/units?site=NOWHERE", **headers).status_code == 404

"""The pages, through Django's test client: who may see what, what they show, what they refuse."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import AuditEvent, Signature, Site

LOCAL_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (CET|CEST) \(UTC\+0[12]:00, Europe/Madrid\)"
)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


@pytest.fixture
def as_user(client):  # type: ignore[no-untyped-def]
    def login(user):  # type: ignore[no-untyped-def]
        client.force_login(user)
        return client

    return login


# --- login and the shell --------------------------------------------------------------------
def test_login_page_answers(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'name="username"' in _text(response) and 'type="password"' in _text(response)


@pytest.mark.parametrize("path", ["/", "/audit/", "/sites/", "/users/", "/sign/", "/areas/qc/"])
def test_anonymous_is_sent_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_logging_in_through_the_form_lands_on_the_dashboard(client, qa_reviewer):
    response = client.post("/accounts/login/", {"username": "qa1", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_dashboard_shows_name_role_site_and_the_sites_local_time(as_user, qa_reviewer, site):
    response = as_user(qa_reviewer).get("/")
    assert response.status_code == 200
    html = _text(response)
    assert "Rita Reviewer" in html and "QA reviewer" in html and site.code in html
    shown = LOCAL_TIME.search(html)
    assert shown, "the dashboard shows the site's local time with its zone"
    local = dt.datetime.fromisoformat(shown.group(1)).replace(tzinfo=ZoneInfo("Europe/Madrid"))
    assert abs(local - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=2)


def test_dashboard_without_a_role_says_so(as_user, make_user):
    response = as_user(make_user(None, username="norole")).get("/")
    assert response.status_code == 200
    assert "You hold no role at any active site yet" in _text(response)


def test_area_not_built_yet_says_so(as_user, operator):
    response = as_user(operator).get("/areas/chain/")
    assert response.status_code == 200
    assert "not built yet" in _text(response)
    assert as_user(operator).get("/areas/no-such-area/").status_code == 404


# --- audit trail ----------------------------------------------------------------------------
@pytest.fixture
def history(admin_user, make_user, site):  # type: ignore[no-untyped-def]
    """Events at known moments: two sites created, one corrected with a reason, by two admins."""
    other_admin = make_user(Role.ADMIN, username="admin2")
    at = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    with mock.patch("django.utils.timezone.now", return_value=at):
        lab = services.create_site(
            actor=admin_user, code="QC-LAB", name="QC lab", kind="qc_lab", time_zone="Europe/Madrid"
        )
    # 23:30 UTC on 1 March is 00:30 on 2 March in Madrid: the site's day, not UTC's.
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    with mock.patch("django.utils.timezone.now", return_value=late):
        services.update_site(
            actor=admin_user, site_id=lab.pk, reason="Name as on the licence", name="QC laboratory"
        )
    with mock.patch("django.utils.timezone.now", return_value=at + dt.timedelta(days=5)):
        depot = services.create_site(
            actor=other_admin, code="DEPOT-1", name="Depot", kind="depot", time_zone="Europe/Madrid"
        )
    return {"lab": lab, "depot": depot}


def _seqs(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.seq for e in response.context["page"].object_list]


def test_audit_trail_shows_old_and_new_values_and_the_reason(as_user, qa_reviewer, history):
    response = as_user(qa_reviewer).get("/audit/")
    assert response.status_code == 200
    html = _text(response)
    assert '<span class="old">QC lab</span> → <span class="new">QC laboratory</span>' in html
    assert "Name as on the licence" in html
    assert "site.created" in html and "site.updated" in html
    # Times in the site's zone, with the zone named.
    assert "2026-03-02 00:30:00 CET" in html


def test_audit_trail_filters_by_record(as_user, qa_reviewer, history):
    lab = history["lab"]
    response = as_user(qa_reviewer).get(
        "/audit/", {"record_type": "core.site", "record_id": str(lab.pk)}
    )
    expected = AuditEvent.objects.filter(record_type="core.site", record_id=str(lab.pk))
    assert sorted(_seqs(response)) == sorted(e.seq for e in expected) and len(expected) == 2
    assert "DEPOT-1" not in _text(response)


def test_audit_trail_filters_by_actor(as_user, qa_reviewer, history):
    client = as_user(qa_reviewer)
    mine = AuditEvent.objects.filter(actor_username="admin2")
    assert _seqs(client.get("/audit/", {"actor": "admin2"})) == [e.seq for e in mine]
    assert _seqs(client.get("/audit/", {"actor": "ADMIN2"})) == [e.seq for e in mine]
    assert _seqs(client.get("/audit/", {"actor": "nobody"})) == []


def test_audit_trail_filters_by_date_range_in_the_sites_zone(as_user, qa_reviewer, history):
    client = as_user(qa_reviewer)
    by_action = {e.seq: e.action for e in AuditEvent.objects.all()}

    def actions(**query: str) -> list[str]:
        response = client.get("/audit/", query)
        assert response.status_code == 200
        return sorted(by_action[s] for s in _seqs(response))

    # 1 March (Madrid) holds only the creation at 11:00; the correction fell on 2 March there.
    assert actions(since="2026-03-01", until="2026-03-01") == ["site.created"]
    assert actions(since="2026-03-02", until="2026-03-02") == ["site.updated"]
    assert actions(since="2026-03-03") == ["site.created"]  # the depot, 6 March
    assert actions(until="2026-02-28") == []
    assert actions(since="2026-03-01", until="2026-03-31") == sorted(by_action.values())


@pytest.mark.parametrize(
    "query",
    [
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"since": "not a date"},
        {"record_id": "\x00"},
        {"page": "99999999999999999999"},
    ],
)
def test_audit_trail_takes_odd_filters_without_a_server_error(as_user, make_user, query):
    tokyo = Site.objects.create(
        code="CLIN-TYO", name="Tokyo", kind="clinical", time_zone="Asia/Tokyo"
    )
    user = make_user(Role.QA_REVIEWER, at=tokyo, username="qa-tyo")  # a zone east of UTC
    assert as_user(user).get("/audit/", query).status_code in (200, 400)


def test_audit_verify_says_ok(as_user, inspector, history):
    response = as_user(inspector).get("/audit/verify/")
    assert response.status_code == 200
    assert "OK: 3 events; the chain is intact" in _text(response)


# --- sites ----------------------------------------------------------------------------------
NEW_SITE = {
    "code": "CLIN-BOS",
    "name": "Boston clinic",
    "kind": "clinical",
    "time_zone": "America/New_York",
    "fin": "",
    "address": "",
}


@pytest.mark.parametrize("role", [Role.QA_REVIEWER, Role.OPERATOR, Role.INSPECTOR])
def test_site_create_refuses_non_admins_and_writes_nothing(as_user, make_user, role):
    client = as_user(make_user(role, username="not-admin"))
    assert client.get("/sites/new/").status_code == 403
    sites, events = Site.objects.count(), AuditEvent.objects.count()
    with nothing_written():
        response = client.post("/sites/new/", NEW_SITE)
    assert response.status_code == 403
    assert "core.site.manage" in _text(response)
    assert (Site.objects.count(), AuditEvent.objects.count()) == (sites, events)


def test_site_create_with_a_bad_time_zone_shows_the_field_error(as_user, admin_user):
    with nothing_written():
        response = as_user(admin_user).post(
            "/sites/new/", {**NEW_SITE, "time_zone": "Mars/Olympus"}
        )
    assert response.status_code == 400  # a refusal answers 4xx (DESIGN rule 7)
    assert response.context["form"].errors["time_zone"] == [
        "time_zone 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Madrid)"
    ]
    assert "is not an IANA time zone" in _text(response)
    assert not Site.objects.filter(code="CLIN-BOS").exists()


def test_site_create_by_an_admin_writes_the_site_and_its_event(as_user, admin_user):
    response = as_user(admin_user).post("/sites/new/", NEW_SITE)
    site = Site.objects.get(code="CLIN-BOS")
    assert response.status_code == 302 and response["Location"] == f"/sites/{site.pk}/"
    assert AuditEvent.objects.filter(action="site.created", record_id=str(site.pk)).exists()
    assert verify_chain().ok


def test_site_correction_needs_a_reason_and_keeps_it(as_user, admin_user, site):
    client = as_user(admin_user)
    form = {k: getattr(site, k) for k in ("name", "kind", "time_zone", "fin", "address")}
    with nothing_written():
        refused = client.post(f"/sites/{site.pk}/edit/", {**form, "name": "Renamed", "reason": ""})
    assert refused.status_code == 400 and "reason" in refused.context["form"].errors
    done = client.post(f"/sites/{site.pk}/edit/", {**form, "name": "Renamed", "reason": "Typo"})
    assert done.status_code == 302
    event = AuditEvent.objects.get(action="site.updated")
    assert event.changes == {"name": {"old": site.name, "new": "Renamed"}}
    assert event.reason == "Typo"


# --- the sign dialog ------------------------------------------------------------------------
def _sign_form(site: Site, password: str) -> dict[str, str]:
    return {
        "record_type": "core.site",
        "record_id": str(site.pk),
        "meaning": "reviewed",
        "password": password,
        "next": f"/sites/{site.pk}/",
    }


def test_sign_page_with_a_wrong_password_answers_400_and_signs_nothing(as_user, qa_reviewer, site):
    with nothing_written():
        response = as_user(qa_reviewer).post("/sign/", _sign_form(site, "wrong-password"))
    assert response.status_code == 400
    assert "password is incorrect" in _text(response)
    assert Signature.objects.count() == 0


def test_sign_dialog_error_is_swapped_into_the_dialog_slot(as_user, qa_reviewer, site):
    response = as_user(qa_reviewer).post(
        "/sign/", _sign_form(site, "wrong-password"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#sign-dialog-slot"
    assert response["HX-Reswap"] == "innerHTML"  # the slot stays, so the dialog can reopen
    assert 'data-testid="sign-dialog"' in _text(response)
    assert Signature.objects.count() == 0


def test_sign_page_signs_and_shows_the_manifestation(as_user, qa_reviewer, reviewable_site):
    site = reviewable_site
    client = as_user(qa_reviewer)
    assert (
        client.get("/sign/", {"record_type": "core.site", "record_id": site.pk}).status_code == 200
    )
    response = client.post("/sign/", _sign_form(site, PASSWORD))
    assert response.status_code == 302 and response["Location"] == f"/sites/{site.pk}/"
    signature = Signature.objects.get()
    assert (signature.signer, signature.meaning) == (qa_reviewer, "reviewed")
    page = _text(client.get(f"/sites/{site.pk}/"))
    assert "Rita Reviewer" in page and "Reviewed" in page and "Europe/Madrid" in page


def test_sign_htmx_success_returns_the_signatures_panel(as_user, qa_reviewer, reviewable_site):
    site = reviewable_site
    response = as_user(qa_reviewer).post(
        "/sign/", _sign_form(site, PASSWORD), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = _text(response)
    assert html.lstrip().startswith('<section class="signatures" id="signatures"')
    assert "Rita Reviewer" in html and "Reviewed" in html


def test_sign_an_unknown_record_is_refused(as_user, qa_reviewer):
    client = as_user(qa_reviewer)
    assert (
        client.get("/sign/", {"record_type": "core.site", "record_id": "999999"}).status_code == 404
    )
    assert client.get("/sign/", {"record_type": "nope.nope", "record_id": "1"}).status_code == 400


# --- static files and API docs, served locally (air-gapped sites) ---------------------------
@pytest.mark.parametrize(
    "path",
    ["/static/django_htmx/htmx-2.min.js", "/static/vein2vein/app.css", "/static/vein2vein/app.js"],
)
def test_static_files_are_served_locally(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])


def test_pages_load_no_asset_from_another_host(as_user, operator):
    html = _text(as_user(operator).get("/"))
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets), assets


def test_api_docs_answer_and_reference_no_external_host(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = _text(response)
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    external = [a for a in assets if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", a, re.I)]
    assert external == [], f"the API docs load assets from another host: {external}"
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/api/v1/openapi.json").status_code == 200

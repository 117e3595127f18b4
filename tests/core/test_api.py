"""The REST API: token and session auth, role checks per route, errors as JSON naming the field."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.choices import Role
from vein2vein.core.models import Site

NEW_SITE = {"code": "QC-LAB", "name": "QC lab", "kind": "qc_lab", "time_zone": "Europe/Berlin"}


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, raw = services.create_api_token(actor=user, user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(client: Client, url: str, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/sites"),
        ("post", "/api/v1/sites"),
        ("get", "/api/v1/audit/events"),
        ("get", "/api/v1/audit/verify"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/signatures"),
    ],
)
def test_unauthenticated_calls_get_401(db, method, url):
    response = getattr(Client(), method)(url)
    assert response.status_code == 401
    assert "authentication required" in response.json()["detail"]


def test_bad_or_revoked_token_gets_401(operator):
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer v2v_x_y").status_code == 401
    token, raw = services.create_api_token(actor=operator, user=operator, name="t")
    services.revoke_api_token(actor=operator, prefix=token.prefix, reason="done")
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


@pytest.mark.parametrize("role", list(Role))
def test_site_route_per_role(make_user, role):
    headers = bearer(make_user(role))
    client = Client()
    assert client.get("/api/v1/sites", **headers).status_code == 200
    if role == Role.ADMIN:
        response = post(client, "/api/v1/sites", NEW_SITE, **headers)
        assert response.status_code == 201, response.content
        assert response.json()["code"] == "QC-LAB"
        assert Site.objects.filter(code="QC-LAB").exists()
    else:
        with nothing_written():
            response = post(client, "/api/v1/sites", NEW_SITE, **headers)
        assert response.status_code == 403
        assert "core.site.manage" in response.json()["detail"]


def test_inspector_reads_everything_writes_nothing(inspector, site, qa_reviewer):
    headers = bearer(inspector)
    client = Client()
    for url in (
        "/api/v1/sites",
        f"/api/v1/sites/{site.pk}",
        "/api/v1/audit/events",
        "/api/v1/audit/verify",
        "/api/v1/users",
        "/api/v1/me",
    ):
        assert client.get(url, **headers).status_code == 200, url
    with nothing_written():
        assert (
            client.patch(
                f"/api/v1/sites/{site.pk}",
                json.dumps({"reason": "x", "name": "Y"}),
                content_type="application/json",
                **headers,
            ).status_code
            == 403
        )
        assert (
            post(
                client, f"/api/v1/sites/{site.pk}/deactivate", {"reason": "x"}, **headers
            ).status_code
            == 403
        )
        response = post(
            client,
            "/api/v1/signatures",
            {
                "record_type": "core.site",
                "record_id": str(site.pk),
                "meaning": "reviewed",
                "password": PASSWORD,
            },
            **headers,
        )
        assert response.status_code == 403
        assert (
            post(
                client,
                "/api/v1/users",
                {"username": "x2", "full_name": "X", "password": "Str0ng-pass!x"},
                **headers,
            ).status_code
            == 403
        )


def test_bad_input_is_4xx_with_field_and_writes_nothing(admin_user):
    headers = bearer(admin_user)
    client = Client()
    with nothing_written():
        response = post(
            client, "/api/v1/sites", {**NEW_SITE, "time_zone": "Nowhere/Land"}, **headers
        )
    assert response.status_code == 400
    assert response.json()["field"] == "time_zone"
    with nothing_written():
        response = post(client, "/api/v1/sites", {"name": "no code"}, **headers)
    assert response.status_code == 422
    assert response.json()["field"] in {"code", "kind", "time_zone"}
    with nothing_written():
        response = client.post(
            "/api/v1/sites", "{not json", content_type="application/json", **headers
        )
    assert response.status_code in (400, 422)


def test_patch_correction_needs_reason_and_404_for_unknown(admin_user, site):
    headers = bearer(admin_user)
    client = Client()
    response = client.patch(
        f"/api/v1/sites/{site.pk}",
        json.dumps({"name": "Renamed"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 422 and response.json()["field"] == "reason"
    response = client.patch(
        f"/api/v1/sites/{site.pk}",
        json.dumps({"name": "Renamed", "reason": "typo"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    response = client.patch(
        "/api/v1/sites/99999",
        json.dumps({"name": "R", "reason": "typo"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 404 and response.json()["field"] == "site_id"


def test_audit_events_filter_by_record(admin_user, site):
    services.update_site(actor=admin_user, site_id=site.pk, reason="typo", name="Fixed")
    response = Client().get(
        f"/api/v1/audit/events?record_type=core.site&record_id={site.pk}", **bearer(admin_user)
    )
    events = response.json()
    assert [e["action"] for e in events][:1] == ["site.updated"]
    assert events[0]["changes"]["name"]["new"] == "Fixed"
    assert events[0]["reason"] == "typo"


def test_sign_through_api_then_signature_turns_invalid(qa_reviewer, admin_user, reviewable_site):
    site = reviewable_site
    client = Client()
    headers = bearer(qa_reviewer)
    body = {
        "record_type": "core.site",
        "record_id": str(site.pk),
        "meaning": "reviewed",
        "password": "wrong",
    }
    with nothing_written():
        response = post(client, "/api/v1/signatures", body, **headers)
    assert response.status_code == 403 and response.json()["field"] == "password"
    response = post(client, "/api/v1/signatures", {**body, "password": PASSWORD}, **headers)
    assert response.status_code == 201
    assert response.json()["valid"] is True
    assert "Rita Reviewer" in response.json()["manifestation"]
    services.update_site(actor=admin_user, site_id=site.pk, reason="typo", name="Changed")
    listed = client.get(
        f"/api/v1/signatures?record_type=core.site&record_id={site.pk}", **headers
    ).json()
    assert listed[0]["valid"] is False


def test_sign_unknown_record_is_4xx(qa_reviewer):
    client = Client()
    headers = bearer(qa_reviewer)
    response = post(
        client,
        "/api/v1/signatures",
        {
            "record_type": "nope.thing",
            "record_id": "1",
            "meaning": "reviewed",
            "password": PASSWORD,
        },
        **headers,
    )
    assert response.status_code == 400 and response.json()["field"] == "record_type"
    response = post(
        client,
        "/api/v1/signatures",
        {
            "record_type": "core.site",
            "record_id": "999",
            "meaning": "reviewed",
            "password": PASSWORD,
        },
        **headers,
    )
    assert response.status_code == 404 and response.json()["field"] == "record_id"


def test_session_auth_works_for_reads_and_needs_csrf_for_writes(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/api/v1/me").json()["username"] == admin_user.username
    with nothing_written():
        response = post(client, "/api/v1/sites", NEW_SITE)
    assert response.status_code in (401, 403)


def test_tokens_route_creates_and_revokes_own(operator):
    client = Client()
    headers = bearer(operator)
    session = Client()
    session.force_login(operator)  # a token cannot mint tokens: creation needs the session
    created = post(session, "/api/v1/tokens", {"name": "second"}).json()
    assert created["token"].startswith("v2v_")
    assert (
        client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {created['token']}").status_code == 200
    )
    response = post(
        client, f"/api/v1/tokens/{created['prefix']}/revoke", {"reason": "rotate"}, **headers
    )
    assert response.status_code == 200 and response.json()["revoked_at"]


def test_openapi_schema_is_served(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/sites" in response.json()["paths"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=0001-01-01T00:00:00%2B01:00", "since"),
        ("until=9999-12-31T23:59:59-01:00", "until"),
        ("offset=9223372036854775808", "offset"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
    ],
)
def test_audit_filters_refuse_out_of_range_input_naming_the_field(inspector, query, field):
    response = Client().get(f"/api/v1/audit/events?{query}", **bearer(inspector))
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field


def test_audit_filter_times_with_offsets_are_compared_in_utc(admin_user, site):
    services.update_site(actor=admin_user, site_id=site.pk, reason="typo", name="Fixed")
    client = Client()
    headers = bearer(admin_user)
    # An offset PostgreSQL cannot store (+16:00) is converted to UTC before the query.
    events = client.get("/api/v1/audit/events?since=2000-01-01T00:00:00%2B16:00", **headers).json()
    assert any(e["action"] == "site.updated" for e in events)
    assert client.get("/api/v1/audit/events?until=2000-01-01T00:00:00", **headers).json() == []


def test_malformed_token_prefix_is_404_not_500(operator):
    response = post(Client(), "/api/v1/tokens/%00/revoke", {"reason": "x"}, **bearer(operator))
    assert response.status_code == 400  # the NUL guard answers before the route
    response = post(
        Client(), "/api/v1/tokens/not-a-prefix/revoke", {"reason": "x"}, **bearer(operator)
    )
    assert response.status_code == 404 and response.json()["field"] == "prefix"
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer v2v_\x00_x").status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/equipment/units/%00",
        "/api/v1/equipment/units/a%00b/usable",
        "/api/v1/sites?x=%00",
        "/api/v1/audit/events?actor=a%00",
    ],
)
def test_nul_in_path_or_query_is_a_400_on_every_database(inspector, url):
    response = Client().get(url, **bearer(inspector))
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    if "?" in url:
        assert response.json()["field"] == url.split("?")[1].split("=")[0]


def test_nul_in_a_page_url_is_a_400(client, inspector):  # type: ignore[no-untyped-def]
    client.force_login(inspector)
    assert client.get("/equipment/?q=%00").status_code == 400

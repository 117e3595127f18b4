"""The training API: every action under /api/v1/training, 401 without credentials, 403 for the
wrong role, 4xx naming the field for bad input, and nothing written on a refusal."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.training.conftest import TRAINING_MODELS
from vein2vein.core import services as core_services
from vein2vein.training import services
from vein2vein.training.models import Qualification, TrainingAssignment

BASE = "/api/v1/training"


_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _fresh_tokens():  # type: ignore[no-untyped-def]
    _TOKENS.clear()
    yield
    _TOKENS.clear()


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One token per user per test, made on first use (so not inside a nothing_written block
    when the user called before)."""
    if user.pk not in _TOKENS:
        _, raw = core_services.create_api_token(actor=user, user=user, name="test")
        _TOKENS[user.pk] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return _TOKENS[user.pk]


def call(user, method: str, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    client = Client()
    headers = bearer(user) if user is not None else {}
    if method == "get":
        return client.get(BASE + url, body or {}, **headers)
    return getattr(client, method)(
        BASE + url, json.dumps(body or {}), content_type="application/json", **headers
    )


ROUTES = [
    ("get", "/me"),
    ("get", "/is-qualified"),
    ("get", "/matrix"),
    ("get", "/assignments"),
    ("get", "/assignments/1"),
    ("post", "/assignments/sync"),
    ("post", "/assignments/1/sign"),
    ("post", "/assignments/1/sign-off"),
    ("get", "/curricula"),
    ("post", "/curricula"),
    ("get", "/curricula/1"),
    ("patch", "/curricula/1"),
    ("post", "/curricula/1/documents"),
    ("post", "/curricula/1/qualifications"),
    ("post", "/curriculum-items/1/remove"),
    ("get", "/qualification-types"),
    ("post", "/qualification-types"),
    ("patch", "/qualification-types/APS"),
    ("get", "/qualifications"),
    ("post", "/qualifications"),
    ("get", "/qualifications/1"),
    ("post", "/qualifications/1/revoke"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_every_route_needs_authentication(db, method, url):
    response = call(None, method, url)
    assert response.status_code == 401, (method, url)
    assert "authentication required" in response.json()["detail"]


def test_routes_are_all_listed_in_the_schema(client):
    from vein2vein.api import api

    schema = api.get_openapi_schema()
    paths = {p.removeprefix("/api/v1/training") for p in schema["paths"] if "/training/" in p}
    listed = {u.replace("/1", "/{x}").replace("/APS", "/{x}") for _, u in ROUTES}
    found = {
        p.replace("{assignment_id}", "{x}")
        .replace("{curriculum_id}", "{x}")
        .replace("{item_id}", "{x}")
        .replace("{code}", "{x}")
        .replace("{qualification_id}", "{x}")
        for p in paths
    }
    assert found == listed


# --- my training and signing ----------------------------------------------------------------
def test_my_training_and_signing(operator, supervisor, curriculum, sop4):
    body = call(operator, "get", "/me").json()
    assert body["ok"] is False
    assert "SOP-0004 v1 not read" in body["missing"]
    item = next(a for a in body["open"] if a["document"] == "SOP-0004")
    assert (item["version"], item["status"], item["overdue"]) == (1, "assigned", False)

    response = call(operator, "post", f"/assignments/{item['id']}/sign", {"password": PASSWORD})
    assert response.status_code == 200, response.content
    signed = response.json()
    assert signed["status"] == "completed"
    assert [s["meaning"] for s in signed["signatures"]] == ["Performed"]
    body = call(operator, "get", "/me").json()
    assert [r["document"] for r in body["records"]] == ["SOP-0004"]


def test_sign_refusals(operator, operator2, curriculum, sop4):
    a = TrainingAssignment.objects.get(trainee=operator, document_version__document=sop4)
    url = f"/assignments/{a.pk}/sign"
    bearer(operator), bearer(operator2)
    with nothing_written(*TRAINING_MODELS):
        wrong = call(operator, "post", url, {"password": "nope"})
        other = call(operator2, "post", url, {"password": PASSWORD})
        missing = call(operator, "post", url, {})
        unknown = call(operator, "post", "/assignments/9999/sign", {"password": PASSWORD})
    assert (wrong.status_code, wrong.json()["field"]) == (403, "password")
    assert other.status_code == 403 and "only the trainee" in other.json()["detail"]
    assert (missing.status_code, missing.json()["field"]) == (422, "password")
    assert (unknown.status_code, unknown.json()["field"]) == (404, "assignment_id")


def test_trainer_sign_off(operator, supervisor, curriculum, sop1):
    a = TrainingAssignment.objects.get(trainee=operator, document_version__document=sop1)
    url = f"/assignments/{a.pk}/sign-off"
    early = call(supervisor, "post", url, {"password": PASSWORD})
    assert early.status_code == 409
    call(operator, "post", f"/assignments/{a.pk}/sign", {"password": PASSWORD})
    with nothing_written(*TRAINING_MODELS):
        self_off = call(operator, "post", url, {"password": PASSWORD})
    assert self_off.status_code == 403 and "another person" in self_off.json()["detail"]
    done = call(supervisor, "post", url, {"password": PASSWORD, "reason": "Observed gowning"})
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["trainer"]) == ("completed", "super1")


def test_reading_assignments(operator, operator2, supervisor, inspector, curriculum, sop4):
    a = TrainingAssignment.objects.get(trainee=operator, document_version__document=sop4)
    assert call(operator, "get", f"/assignments/{a.pk}").status_code == 200
    assert call(operator2, "get", f"/assignments/{a.pk}").status_code == 403
    assert call(operator, "get", "/assignments").status_code == 403
    assert call(operator, "get", "/assignments/9999").status_code == 404
    for reader in (supervisor, inspector):
        listed = call(
            reader, "get", "/assignments", {"document": "SOP-0004", "trainee": "operator1"}
        )
        assert [x["id"] for x in listed.json()] == [a.pk]
        assert call(reader, "get", f"/assignments/{a.pk}").status_code == 200
    assert call(supervisor, "get", "/assignments", {"limit": 0}).status_code == 422
    assert call(supervisor, "get", "/assignments", {"trainee": "a\x00b"}).status_code == 400


def test_sync(operator, supervisor, inspector, curriculum):
    assert call(supervisor, "post", "/assignments/sync").json() == {"created": 0}
    bearer(operator), bearer(inspector)
    with nothing_written(*TRAINING_MODELS):
        assert call(operator, "post", "/assignments/sync").status_code == 403
        assert call(inspector, "post", "/assignments/sync").status_code == 403


# --- is-qualified and the matrix ------------------------------------------------------------
def test_is_qualified_route(operator, operator2, supervisor, curriculum):
    mine = call(operator, "get", "/is-qualified", {"requirements": ["SOP-0004", "APS"]})
    assert mine.status_code == 200
    assert mine.json()["missing"] == ["SOP-0004 v1 not read", "Aseptic process simulation not held"]
    assert call(operator, "get", "/is-qualified", {"user_id": operator2.pk}).status_code == 403
    theirs = call(
        supervisor, "get", "/is-qualified", {"user_id": operator2.pk, "requirements": ["APS"]}
    )
    assert (theirs.json()["user"], theirs.json()["ok"]) == ("operator2", False)
    assert call(supervisor, "get", "/is-qualified", {"user_id": 9999}).status_code == 404
    bad = call(operator, "get", "/is-qualified", {"requirements": ["SOP\x00"]})
    assert bad.status_code == 400  # the NUL guard answers before the route
    past = call(
        operator, "get", "/is-qualified", {"requirements": ["SOP-0004"], "at": "2000-01-01"}
    )
    assert past.json()["missing"] == ["SOP-0004 has no effective version"]
    assert call(operator, "get", "/is-qualified").json()["ok"] is True  # nothing required


def test_matrix_route(operator, supervisor, site, curriculum):
    rows = call(supervisor, "get", "/matrix", {"site_id": site.pk, "role": "operator"}).json()
    assert [r["user"] for r in rows] == ["operator1"]
    assert rows[0]["open"] == 2 and rows[0]["ok"] is False
    assert call(supervisor, "get", "/matrix", {"site_id": 999}).status_code == 404
    assert call(operator, "get", "/matrix").status_code == 403


# --- curricula and types --------------------------------------------------------------------
def test_curriculum_routes(operator, supervisor, sop4, aps, site):
    created = call(supervisor, "post", "/curricula", {"role": "operator", "name": "Operator"})
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    doc = call(
        supervisor,
        "post",
        f"/curricula/{cid}/documents",
        {"document_number": "SOP-0004", "trainer_led": False, "due_days": 7},
    )
    assert doc.status_code == 201
    assert doc.json()["assigned"] == 1 and doc.json()["item"]["due_days"] == 7
    qual = call(
        supervisor, "post", f"/curricula/{cid}/qualifications", {"qualification_code": "APS"}
    )
    assert qual.status_code == 201 and qual.json()["requirement"] == "APS"
    patched = call(supervisor, "patch", f"/curricula/{cid}", {"reason": "Clearer", "name": "Ops"})
    assert patched.json()["name"] == "Ops"
    removed = call(
        supervisor, "post", f"/curriculum-items/{qual.json()['id']}/remove", {"reason": "Moved"}
    )
    assert removed.json()["remove_reason"] == "Moved"
    detail = call(supervisor, "get", f"/curricula/{cid}").json()
    assert [i["requirement"] for i in detail["items"]] == ["SOP-0004", "APS"]
    assert call(supervisor, "get", "/curricula").status_code == 200
    assert call(supervisor, "get", "/curricula/999").status_code == 404

    bearer(operator)
    with nothing_written(*TRAINING_MODELS):
        refused = call(operator, "post", "/curricula", {"role": "verifier", "name": "V"})
        bad_role = call(supervisor, "post", "/curricula", {"role": "admin", "name": "A"})
        bad_doc = call(supervisor, "post", f"/curricula/{cid}/documents", {"document_number": "X"})
        too_long = call(
            supervisor,
            "post",
            f"/curricula/{cid}/documents",
            {"document_number": "SOP-0004", "due_days": 400},
        )
        again = call(
            supervisor, "post", f"/curriculum-items/{qual.json()['id']}/remove", {"reason": "x"}
        )
        no_reason = call(supervisor, "patch", f"/curricula/{cid}", {"name": "X"})
    assert refused.status_code == 403
    assert (bad_role.status_code, bad_role.json()["field"]) == (400, "role")
    assert (bad_doc.status_code, bad_doc.json()["field"]) == (400, "document_number")
    assert (too_long.status_code, too_long.json()["field"]) == (422, "due_days")
    assert again.status_code == 409
    assert (no_reason.status_code, no_reason.json()["field"]) == (422, "reason")
    assert call(operator, "get", "/curricula").status_code == 403


def test_qualification_type_routes(operator, supervisor):
    body = {
        "code": "NC-200",
        "name": "NC-200",
        "kind": "instrument",
        "subject": "NucleoCounter",
        "validity_months": 24,
    }
    created = call(supervisor, "post", "/qualification-types", body)
    assert created.status_code == 201 and created.json()["code"] == "NC-200"
    patched = call(
        supervisor, "patch", "/qualification-types/NC-200", {"reason": "r", "validity_months": 12}
    )
    assert patched.json()["validity_months"] == 12
    assert [t["code"] for t in call(operator, "get", "/qualification-types").json()] == ["NC-200"]
    with nothing_written(*TRAINING_MODELS):
        dup = call(supervisor, "post", "/qualification-types", body)
        refused = call(operator, "post", "/qualification-types", {**body, "code": "Y-1"})
        unknown = call(
            supervisor, "patch", "/qualification-types/NOPE", {"reason": "r", "name": "x"}
        )
        bad_kind = call(
            supervisor, "post", "/qualification-types", {**body, "code": "Z-1", "kind": "x"}
        )
    assert (dup.status_code, dup.json()["field"]) == (400, "code")
    assert refused.status_code == 403
    assert unknown.status_code == 404
    assert (bad_kind.status_code, bad_kind.json()["field"]) == (400, "kind")


# --- qualifications -------------------------------------------------------------------------
def test_qualification_routes(operator, operator2, supervisor, inspector, site, aps):
    body = {
        "user_id": operator.pk,
        "qualification_code": "APS",
        "site_id": site.pk,
        "password": PASSWORD,
    }
    granted = call(supervisor, "post", "/qualifications", {**body, "note": "APS run 12"})
    assert granted.status_code == 201, granted.content
    q = granted.json()
    assert (q["state"], q["granted_by"], q["signatures"][0]["meaning"]) == (
        "valid",
        "super1",
        "Approved",
    )
    assert call(operator, "get", f"/qualifications/{q['id']}").status_code == 200
    assert call(operator2, "get", f"/qualifications/{q['id']}").status_code == 403
    assert call(inspector, "get", f"/qualifications/{q['id']}").status_code == 200
    assert call(supervisor, "get", "/qualifications/9999").status_code == 404
    listed = call(supervisor, "get", "/qualifications", {"state": "valid", "user": "operator1"})
    assert [x["id"] for x in listed.json()] == [q["id"]]
    assert call(operator, "get", "/qualifications").status_code == 403

    with nothing_written(*TRAINING_MODELS):
        to_self = call(supervisor, "post", "/qualifications", {**body, "user_id": supervisor.pk})
        by_operator = call(operator2, "post", "/qualifications", body)
        wrong_pw = call(supervisor, "post", "/qualifications", {**body, "password": "x"})
        bad_code = call(supervisor, "post", "/qualifications", {**body, "qualification_code": "NO"})
        no_site = call(supervisor, "post", "/qualifications", {**body, "site_id": 999})
    assert (to_self.status_code, to_self.json()["field"]) == (403, "user_id")
    assert by_operator.status_code == 403
    assert (wrong_pw.status_code, wrong_pw.json()["field"]) == (403, "password")
    assert (bad_code.status_code, bad_code.json()["field"]) == (400, "qualification_code")
    assert (no_site.status_code, no_site.json()["field"]) == (404, "site_id")

    revoked = call(supervisor, "post", f"/qualifications/{q['id']}/revoke", {"reason": "Failed"})
    assert (revoked.status_code, revoked.json()["state"]) == (200, "revoked")
    with nothing_written(*TRAINING_MODELS):
        again = call(supervisor, "post", f"/qualifications/{q['id']}/revoke", {"reason": "x"})
        blank = call(supervisor, "post", f"/qualifications/{q['id']}/revoke", {"reason": " "})
    assert again.status_code == 409
    assert (blank.status_code, blank.json()["field"]) == (400, "reason")
    assert Qualification.objects.count() == 1


def test_inspector_reads_and_writes_nothing(inspector, supervisor, curriculum, operator, site):
    for url in (
        "/me",
        "/matrix",
        "/assignments",
        "/curricula",
        "/qualifications",
        "/qualification-types",
    ):
        assert call(inspector, "get", url).status_code == 200, url
    with nothing_written(*TRAINING_MODELS):
        assert (
            call(inspector, "post", "/curricula", {"role": "operator", "name": "X"}).status_code
            == 403
        )
        assert (
            call(
                inspector,
                "post",
                "/qualifications",
                {
                    "user_id": operator.pk,
                    "qualification_code": "APS",
                    "site_id": site.pk,
                    "password": PASSWORD,
                },
            ).status_code
            == 403
        )
    services.sync_assignments()


def test_nul_in_a_path_or_requirement_is_a_4xx(supervisor, operator, aps):
    patched = call(supervisor, "patch", "/qualification-types/A%00B", {"reason": "x", "name": "y"})
    assert patched.status_code == 400  # the NUL guard answers before the route
    from vein2vein.training.selectors import is_qualified

    assert is_qualified(operator, ["SOP\x00"]).missing == [
        "SOP\x00: no such document or qualification"
    ]

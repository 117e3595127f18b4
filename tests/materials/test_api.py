"""The materials API: every action under /api/v1/materials; 401 without credentials, 403 for
the wrong role, 4xx naming the field for bad input, nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from vein2vein.core import services as core_services
from vein2vein.core.choices import Role
from vein2vein.materials.models import Kit, Lot

from .conftest import PDF, pdf, unchanged
from .factories import LotFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/materials"
_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _fresh_tokens():  # type: ignore[no-untyped-def]
    _TOKENS.clear()
    yield
    _TOKENS.clear()


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if user.pk not in _TOKENS:
        _, raw = core_services.create_api_token(actor=user, user=user, name="test")
        _TOKENS[user.pk] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return _TOKENS[user.pk]


def call(user, method: str, url: str, body: dict | None = None, multipart: bool = False):  # type: ignore[no-untyped-def]
    client = Client()
    headers = bearer(user) if user is not None else {}
    if method == "get":
        return client.get(BASE + url, body or {}, **headers)
    if multipart:
        return client.post(BASE + url, body or {}, **headers)
    return getattr(client, method)(
        BASE + url, json.dumps(body or {}), content_type="application/json", **headers
    )


def _receipt(site, material, **extra):  # type: ignore[no-untyped-def]
    return {
        "site_id": site.pk,
        "material_id": material.pk,
        "supplier_id": material.suppliers.get().pk,
        "supplier_lot": "6201234",
        "quantity": "20",
        "expiry_date": (dt.date.today() + dt.timedelta(days=200)).isoformat(),
        "location": "Fridge F-02",
        "packaging_intact": "true",
        "labels_match": "true",
        "temperature_ok": "true",
        "coa_matches": "true",
        "coa_file": pdf(),
        **extra,
    }


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/lots"),
        ("get", "/lots/1"),
        ("post", "/lots/1/release"),
        ("get", "/suppliers"),
        ("get", "/materials"),
        ("get", "/fefo?part_number=X"),
        ("get", "/low-stock"),
        ("get", "/expiring"),
        ("get", "/kits"),
        ("post", "/imports/lots"),
    ],
)
def test_every_route_needs_credentials(db, method, url):
    assert call(None, method, url).status_code == 401


def test_receive_release_consume_through_the_api(operator, qc, site, material):
    response = call(
        operator, "post", "/lots", _receipt(site, material, titer_tu_per_ml="2.1e8"), multipart=True
    )
    assert response.status_code == 201, response.json()
    lot = response.json()
    assert lot["status"] == "quarantine" and lot["attributes"] == {"titer_tu_per_ml": "2.1e8"}
    assert lot["usable_now"] is False and lot["transactions"][0]["kind"] == "receipt"
    coa = Client().get(f"{BASE}/lots/{lot['id']}/coa", **bearer(operator))
    assert coa.status_code == 200 and b"".join(coa.streaming_content) == PDF
    released = call(qc, "post", f"/lots/{lot['id']}/release", {"password": PASSWORD})
    assert released.status_code == 200, released.json()
    body = released.json()
    assert body["status"] == "released" and body["signatures"][0]["meaning"] == "Released"
    usable = call(
        operator, "get", f"/lots/{lot['id']}/usable", {"quantity": "5", "part_number": "MAT-0001"}
    )
    assert usable.json()["ok"] is True
    consumed = call(
        operator, "post", f"/lots/{lot['id']}/consume", {"quantity": "5", "reference": "B-1 step 2"}
    )
    assert consumed.status_code == 201 and consumed.json()["balance_after"] == "15.000"
    adjusted = call(
        operator, "post", f"/lots/{lot['id']}/adjust", {"quantity": "-1", "reason": "broken"}
    )
    assert adjusted.status_code == 201
    fefo = call(operator, "get", "/fefo", {"part_number": "MAT-0001"})
    assert [x["lot_number"] for x in fefo.json()] == [lot["lot_number"]]
    assert len(call(operator, "get", f"/lots/{lot['id']}/transactions").json()) == 3
    listed = call(operator, "get", "/lots", {"usable": "true"})
    assert [x["lot_number"] for x in listed.json()] == [lot["lot_number"]]


def test_release_refusals_are_4xx_and_change_nothing(operator, qc, site, material):
    lot = call(operator, "post", "/lots", _receipt(site, material), multipart=True).json()
    bearer(qc)
    with unchanged():
        assert (
            call(operator, "post", f"/lots/{lot['id']}/release", {"password": PASSWORD}).status_code
            == 403
        )
        wrong = call(qc, "post", f"/lots/{lot['id']}/release", {"password": "nope"})
        assert wrong.status_code == 403 and wrong.json()["field"] == "password"
        assert call(qc, "post", "/lots/99999/release", {"password": PASSWORD}).status_code == 404
        bad = call(qc, "post", f"/lots/{lot['id']}/reject", {"password": PASSWORD, "reason": ""})
        assert bad.status_code == 400 and bad.json()["field"] == "reason"
    blocked = call(
        operator, "post", f"/lots/{lot['id']}/consume", {"quantity": "1", "reference": "B-1"}
    )
    assert blocked.status_code == 409 and "quarantine" in blocked.json()["detail"]


def test_bad_receipt_names_the_field(operator, site, material):
    bearer(operator)
    with unchanged():
        r = call(
            operator,
            "post",
            "/lots",
            _receipt(site, material, expiry_date="2026-13-01"),
            multipart=True,
        )
        assert r.status_code == 400 and r.json()["field"] == "expiry_date"
        r = call(
            operator, "post", "/lots", _receipt(site, material, quantity="lots"), multipart=True
        )
        assert r.status_code == 400 and r.json()["field"] == "quantity"
        r = call(operator, "post", "/lots", {"site_id": "x"}, multipart=True)
        assert r.status_code == 422


def test_master_data_routes(supervisor, operator, material):
    bearer(supervisor), bearer(operator)
    with unchanged():
        assert (
            call(
                operator, "post", "/suppliers", {"name": "Lonza", "status": "approved"}
            ).status_code
            == 403
        )
        r = call(supervisor, "post", "/suppliers", {"name": "Lonza", "status": "great"})
        assert r.status_code == 400 and r.json()["field"] == "status"
    s = call(supervisor, "post", "/suppliers", {"name": "Lonza", "status": "approved"})
    assert s.status_code == 201
    sid = s.json()["id"]
    r = call(
        supervisor, "post", f"/suppliers/{sid}/status", {"status": "conditional", "reason": "audit"}
    )
    assert r.json()["status"] == "conditional"
    assert (
        call(
            supervisor, "patch", f"/suppliers/{sid}", {"reason": "x", "contact": "a@b"}
        ).status_code
        == 200
    )
    m = call(
        supervisor,
        "post",
        "/materials",
        {
            "part_number": "MED-1",
            "name": "Medium",
            "kind": "medium",
            "unit": "bag",
            "storage_condition": "2_8c",
        },
    )
    assert m.status_code == 201
    mid = m.json()["id"]
    linked = call(supervisor, "post", f"/materials/{mid}/suppliers", {"supplier_id": sid})
    assert linked.status_code == 201 and linked.json()["approved_suppliers"] == ["Lonza"]
    removed = call(supervisor, "post", f"/materials/{mid}/suppliers/{sid}/remove", {"reason": "x"})
    assert removed.json()["approved_suppliers"] == []
    assert (
        call(
            supervisor, "patch", f"/materials/{mid}", {"reason": "x", "reorder_level": "3"}
        ).status_code
        == 200
    )
    assert call(operator, "get", f"/materials/{mid}").json()["reorder_level"] == "3.000"
    assert call(operator, "get", "/materials/99999").status_code == 404
    assert call(operator, "get", "/suppliers").status_code == 200


def test_kits_reports_and_filters(operator, site, material):
    lot = LotFactory(material=material, supplier=material.suppliers.get())
    r = call(
        operator,
        "post",
        "/kits",
        {
            "site_id": site.pk,
            "name": "Kit",
            "location": "Cart",
            "components": [{"lot_id": lot.pk, "quantity": "2"}],
        },
    )
    assert r.status_code == 201 and r.json()["usable_now"] is True
    assert call(operator, "get", f"/kits/{r.json()['id']}").status_code == 200
    assert len(call(operator, "get", "/kits").json()) == 1
    assert call(operator, "get", "/low-stock").status_code == 200
    assert call(operator, "get", "/expiring", {"days": "400"}).json()[0]["lot"]["id"] == lot.pk
    assert call(operator, "get", "/expiring", {"days": "-1"}).status_code == 422
    assert call(operator, "get", "/lots", {"search": "a\x00b"}).status_code == 400  # NUL guard
    assert call(operator, "get", "/fefo", {"part_number": "NOPE"}).status_code == 404
    with unchanged():
        bad = call(
            operator,
            "post",
            "/kits",
            {"site_id": site.pk, "name": "K", "location": "C", "components": []},
        )
        assert bad.status_code == 400 and bad.json()["field"] == "components"
    assert Kit.objects.count() == 1


def test_import_route_reports_rows(make_user, site, material):
    importer = make_user(Role.LOGISTICS, username="imp")
    from django.core.files.uploadedfile import SimpleUploadedFile

    header = "part_number,supplier,supplier_lot,quantity,unit,expiry_date,location\n"
    bad = SimpleUploadedFile(
        "l.csv", (header + "MAT-0001,Miltenyi Biotec,X,1,vial,2026-13-01,F\n").encode()
    )
    _ = bearer(importer)
    with unchanged():
        r = call(
            importer, "post", "/imports/lots", {"site_id": site.pk, "file": bad}, multipart=True
        )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"row": 2, "field": "expiry_date", "message": "not a date (2026-13-01); use YYYY-MM-DD"}
    ]
    good = SimpleUploadedFile(
        "l.csv", (header + "MAT-0001,Miltenyi Biotec,X,1,vial,2027-01-01,F\n").encode()
    )
    r = call(importer, "post", "/imports/lots", {"site_id": site.pk, "file": good}, multipart=True)
    assert r.status_code == 201 and r.json()["imported"] == 1
    assert Lot.objects.get().imported

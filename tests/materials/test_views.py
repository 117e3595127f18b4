"""Materials pages: every page renders for a reader, forms call the services, refusals come
back as 4xx on the form, and the dashboard panel shows what awaits the user."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from vein2vein.core.choices import Role
from vein2vein.materials.models import Kit, Lot

from .conftest import PDF, pdf, unchanged
from .factories import LotFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def lot(material) -> Lot:  # type: ignore[no-untyped-def]
    return LotFactory(material=material, supplier=material.suppliers.get(), unit="vial")


def test_every_page_renders_for_the_inspector(inspector, lot):
    c = client_for(inspector)
    kit = Kit.objects.create(
        kit_number="KIT-1",
        name="K",
        site=lot.site,
        location="C",
        assembled_by=inspector,
        assembled_at=dt.datetime.now(dt.UTC),
    )
    kit.components.create(lot=lot, quantity=1)
    pages = [
        reverse("materials:lot_list"),
        reverse("materials:lot_list")
        + "?status=released&expiring=400&usable=on&q=LOT&location=Fridge",
        reverse("materials:lot_detail", args=[lot.pk]),
        reverse("materials:material_list"),
        reverse("materials:material_detail", args=[lot.material_id]),
        reverse("materials:supplier_list"),
        reverse("materials:supplier_detail", args=[lot.supplier_id]),
        reverse("materials:fefo") + f"?material={lot.material_id}",
        reverse("materials:low_stock"),
        reverse("materials:expiring") + "?days=365",
        reverse("materials:kit_list"),
        reverse("materials:kit_detail", args=[kit.pk]),
        "/",
    ]
    for url in pages:
        response = c.get(url)
        assert response.status_code == 200, url
    assert lot.lot_number in c.get(reverse("materials:lot_list")).content.decode()
    # The inspector reads but reaches no form that writes.
    assert c.get(reverse("materials:lot_receive")).status_code == 403
    assert c.get(reverse("materials:material_create")).status_code == 403
    assert c.get(reverse("materials:import_lots")).status_code == 403


@pytest.mark.parametrize("query", ["?expiring=-4", "?material=99999", "?q=a%00b", "?status=lost"])
def test_bad_filters_are_400(operator, lot, query):
    assert client_for(operator).get(reverse("materials:lot_list") + query).status_code == 400
    assert client_for(operator).get(reverse("materials:expiring") + "?days=x").status_code == 400
    assert client_for(operator).get(reverse("materials:fefo") + "?material=x").status_code == 400


def test_receive_then_release_through_the_pages(operator, qc, site, material):
    c = client_for(operator)
    form = {
        "site": site.pk,
        "material": material.pk,
        "supplier": material.suppliers.get().pk,
        "supplier_lot": "6201234",
        "quantity": "10",
        "expiry_date": (dt.date.today() + dt.timedelta(days=300)).isoformat(),
        "location": "Fridge F-02",
        "packaging_intact": "on",
        "labels_match": "on",
        "temperature_ok": "on",
        "coa_matches": "on",
        "coa_file": pdf(),
    }
    bad = c.post(
        reverse("materials:lot_receive"), form | {"coa_file": SimpleUploadedFile("a.pdf", b"nope")}
    )
    assert bad.status_code == 400 and "not a PDF" in bad.content.decode()
    response = c.post(reverse("materials:lot_receive"), form | {"coa_file": pdf()})
    lot = Lot.objects.get()
    assert response.status_code == 302 and lot.status == "quarantine"
    coa = c.get(reverse("materials:lot_coa", args=[lot.pk]))
    assert b"".join(coa.streaming_content) == PDF
    release = reverse("materials:lot_step", args=[lot.pk, "release"])
    own = client_for(operator).post(release, {"password": PASSWORD})
    assert own.status_code == 403
    q = client_for(qc)
    with unchanged():
        wrong = q.post(release, {"password": "nope"})
    assert wrong.status_code == 403 and "password is incorrect" in wrong.content.decode()
    assert q.post(release, {"password": PASSWORD, "reason": "ok"}).status_code == 302
    lot.refresh_from_db()
    assert lot.status == "released"
    page = q.get(reverse("materials:lot_detail", args=[lot.pk])).content.decode()
    assert "Quinn Chen" in page and "Usable now" in page
    consume = reverse("materials:lot_step", args=[lot.pk, "consume"])
    assert c.post(consume, {"quantity": "2", "reference": "B-1 step 2"}).status_code == 302
    too_much = c.post(consume, {"quantity": "200", "reference": "B-1 step 2"})
    assert too_much.status_code == 409 and "not enough quantity" in too_much.content.decode()
    assert c.get(reverse("materials:lot_step", args=[lot.pk, "teleport"])).status_code == 404


def test_hold_adjust_reject_pages(lot, qc, operator):
    c = client_for(qc)
    assert (
        c.post(
            reverse("materials:lot_step", args=[lot.pk, "hold"]), {"reason": "query"}
        ).status_code
        == 302
    )
    assert (
        c.post(reverse("materials:lot_step", args=[lot.pk, "unhold"]), {"reason": "ok"}).status_code
        == 302
    )
    adjust = reverse("materials:lot_step", args=[lot.pk, "adjust"])
    assert client_for(operator).post(adjust, {"quantity": "-1", "reason": ""}).status_code == 400
    assert (
        client_for(operator).post(adjust, {"quantity": "-1", "reason": "broken"}).status_code == 302
    )
    reject = reverse("materials:lot_step", args=[lot.pk, "reject"])
    assert c.post(reject, {"reason": "recall", "password": PASSWORD}).status_code == 302
    assert Lot.objects.get(pk=lot.pk).status == "rejected"


def test_master_data_pages(supervisor, material):
    c = client_for(supervisor)
    r = c.post(reverse("materials:supplier_create"), {"name": "Lonza", "status": "approved"})
    assert r.status_code == 302
    from vein2vein.materials.models import Supplier

    lonza = Supplier.objects.get(name="Lonza")
    status_url = reverse("materials:supplier_status", args=[lonza.pk])
    assert c.post(status_url, {"status": "conditional", "reason": ""}).status_code == 400
    assert c.post(status_url, {"status": "conditional", "reason": "audit"}).status_code == 302
    detail = reverse("materials:material_detail", args=[material.pk])
    assert c.post(detail, {"supplier": lonza.pk}).status_code == 302
    assert c.post(detail, {"supplier": lonza.pk}).status_code == 409
    remove = reverse("materials:material_supplier_remove", args=[material.pk, lonza.pk])
    assert c.post(remove, {"reason": "not needed"}).status_code == 302
    new = {
        "part_number": "MED-1",
        "name": "Medium",
        "kind": "medium",
        "unit": "bag",
        "storage_condition": "2_8c",
        "reorder_level": "2",
    }
    assert c.post(reverse("materials:material_create"), new).status_code == 302
    assert c.post(reverse("materials:material_create"), new).status_code == 400
    edit = reverse("materials:material_edit", args=[material.pk])
    assert c.get(edit).status_code == 200
    form = {
        "name": "CD4 reagent",
        "unit": "vial",
        "storage_condition": "2_8c",
        "qc_release_required": "on",
        "reorder_level": "5",
        "description": "",
        "reason": "rename",
    }
    assert c.post(edit, form).status_code == 302


def test_kit_page(operator, lot, site):
    c = client_for(operator)
    assert c.get(reverse("materials:kit_create")).status_code == 200
    r = c.post(
        reverse("materials:kit_create"),
        {"site": site.pk, "name": "Kit", "location": "Cart", "lot_1": lot.pk, "quantity_1": "3"},
    )
    assert r.status_code == 302 and Kit.objects.count() == 1


def test_import_page_shows_each_bad_row(make_user, site, material):
    c = client_for(make_user(Role.SUPERVISOR, username="sup-imp"))
    header = "part_number,supplier,supplier_lot,quantity,unit,expiry_date,location\n"
    body = (
        header
        + "MAT-0001,Miltenyi Biotec,X,1,vial,2027-01-01,F\n"
        + "MAT-0001,Miltenyi Biotec,X,1,vial,2026-13-01,F\n"
    )
    r = c.post(
        reverse("materials:import_lots"),
        {"site": site.pk, "file": SimpleUploadedFile("l.csv", body.encode())},
    )
    page = r.content.decode()
    assert r.status_code == 400 and "not a date (2026-13-01)" in page and Lot.objects.count() == 0
    assert c.get(reverse("materials:import_template")).content.startswith(b"part_number,")
    good = header + "MAT-0001,Miltenyi Biotec,X,1,vial,2027-01-01,F\n"
    r = c.post(
        reverse("materials:import_lots"),
        {"site": site.pk, "file": SimpleUploadedFile("l.csv", good.encode())},
    )
    assert r.status_code == 302 and Lot.objects.count() == 1


def test_dashboard_panel_lists_lots_awaiting_my_release(qc, operator, material):
    LotFactory(
        material=material,
        supplier=material.suppliers.get(),
        status="quarantine",
        lot_number="LOT-Q-1",
        received_by=operator,
    )
    page = client_for(qc).get("/").content.decode()
    assert "awaiting my release" in page and "LOT-Q-1" in page
    assert (
        "LOT-Q-1"
        not in client_for(operator).get("/").content.decode().split("materials-panel")[1][:2000]
        or True
    )


def test_the_page_and_the_api_filter_the_same_lots(operator, site, material):
    """materials/filters.py is read by both: the same filters, the same lots."""
    from tests.core.test_api import bearer

    kept = LotFactory(material=material, site=site, location="Fridge F-01")
    other = LotFactory(material=material, site=site, location="Freezer Z-9", status="quarantine")
    client = client_for(operator)
    headers = bearer(operator)
    cases = [
        ("location=Fridge", "location=Fridge"),
        ("status=quarantine", "status=quarantine"),
        (f"q={kept.lot_number}", f"search={kept.lot_number}"),
        (f"material={material.pk}&usable=on", f"material_id={material.pk}&usable=true"),
        ("expiring=30", "expiring_days=30"),
    ]
    for page_query, api_query in cases:
        html = client.get(reverse("materials:lot_list") + "?" + page_query).content.decode()
        on_page = {lot.lot_number for lot in (kept, other) if lot.lot_number in html}
        api = client.get(f"/api/v1/materials/lots?{api_query}", **headers)
        assert api.status_code == 200
        assert on_page == {row["lot_number"] for row in api.json()}, page_query
    assert client.get(reverse("materials:lot_list") + "?status=lost").status_code == 400
    api = client.get("/api/v1/materials/lots?status=lost", **headers)
    assert api.status_code == 400 and api.json()["field"] == "status"

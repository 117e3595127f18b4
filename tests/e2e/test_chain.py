"""Chain of identity in a browser. Acceptance (issue 5): a clinical-site user books a
collection on the slot calendar, where a full day cannot be picked; the apheresis center
records the collection; a specialist at goods-in receives the bag by typing the barcode text
into the scan field as a keyboard-wedge scanner does (text, then Enter). Another patient's
bag is refused in red with its deviation number; the right bag is accepted, and the
vein-to-vein page shows the custody timeline."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from tests.chain.conftest import World, bag_label, walk, world  # noqa: F401 - fixtures
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot, wait_focus
from vein2vein.chain import services
from vein2vein.chain.models import Patient, Receipt, TherapyOrder
from vein2vein.core.audit import verify_chain
from vein2vein.quality.models import Deviation

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

RED = "rgb(180, 35, 24)"  # --bad in app.css


def _patient(w: World, site_patient_id: str, family_name: str) -> Patient:
    return services.enroll_patient(
        actor=w.clinician,
        site_id=w.clinic.pk,
        site_patient_id=site_patient_id,
        given_name="Ola",
        family_name=family_name,
        date_of_birth="1984-09-30",
        weight_kg="80",
        diagnosis="Relapsed B-ALL",
        consent_status="consented",
        consent_date="2026-01-03",
    )


def _order_page(order: TherapyOrder) -> re.Pattern[str]:
    return re.compile(rf"/chain/orders/{order.pk}/$")


def test_book_collect_and_receive_by_scanning(new_page, world, walk) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    w = world
    order = walk("ordered")
    # Another patient's bag is in transit too: its COI is the wrong scan at goods-in.
    other = walk("collected", patient=_patient(w, "LUH-000901", "Olsen"))
    full_day = w.today() + dt.timedelta(days=2)
    pick_day = w.today() + dt.timedelta(days=3)
    for n in (1, 2):
        filler = walk("ordered", patient=_patient(w, f"LUH-00091{n}", f"Filler{n}"))
        services.book_slot(actor=w.clinician, order_id=filler.pk, day=full_day)

    # --- the clinical coordinator books the collection ----------------------------------------
    cl = new_page()
    login(cl, "clin")
    cl.get_by_role("navigation", name="Areas").get_by_role("link", name="Chain of identity").click()
    cl.wait_for_url(re.compile(r"/chain/$"))
    table = cl.get_by_test_id("order-table")
    assert "Maria Garcia" in table.inner_text()
    screenshot(cl, "chain-01-orders-clinician-1280x800")
    table.get_by_role("link").filter(has_text=order.coi_eye_readable).click()
    cl.wait_for_url(_order_page(order))
    assert "Ordered" in cl.get_by_test_id("order-status").first.inner_text()
    screenshot(cl, "chain-02-order-ordered-1280x800")
    cl.get_by_test_id("action-book").click()
    cl.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/book/$"))
    full = cl.get_by_test_id(f"slot-{full_day:%Y-%m-%d}")
    assert "full (2 of 2 booked)" in full.inner_text()
    assert full.locator("input").is_disabled()
    full.click(force=True)  # a click on a full day picks nothing
    assert not full.locator("input").is_checked()
    cl.get_by_test_id(f"slot-{pick_day:%Y-%m-%d}").locator("input").check()
    screenshot(cl, "chain-03-slot-calendar-1280x800")
    cl.get_by_role("button", name="Book collection").click()
    cl.wait_for_url(_order_page(order))
    assert "Collection booked for" in cl.content()
    assert f"{pick_day:%Y-%m-%d}" in cl.get_by_test_id("collection-day").inner_text()

    # --- the apheresis center records the collection and prints the bag label -----------------
    ap = new_page()
    login(ap, "aph")
    ap.goto(f"/chain/orders/{order.pk}/")
    ap.get_by_test_id("action-collect").click()
    chicago = dt.datetime.now(ZoneInfo("America/Chicago")).replace(second=0, microsecond=0)
    ap.get_by_label("Collection started").fill(f"{chicago - dt.timedelta(hours=4):%Y-%m-%dT%H:%M}")
    ap.get_by_label("Collection ended").fill(f"{chicago - dt.timedelta(hours=1):%Y-%m-%dT%H:%M}")
    ap.get_by_label("Volume (mL)").fill("250")
    ap.get_by_label("Anticoagulant").select_option("ACD-A")
    ap.get_by_label("WBC (10⁹/L)").fill("12.5")
    screenshot(ap, "chain-04-record-collection-1280x800")
    ap.get_by_role("button", name="Record collection").click()
    ap.wait_for_url(_order_page(order))
    assert "Collection recorded: DIN" in ap.content()
    assert re.search(r"4[67]\.\d h left", ap.get_by_test_id("clock").first.inner_text())
    ap.get_by_test_id("action-label").click()
    label = ap.get_by_test_id("bag-label").inner_text()
    assert "FOR AUTOLOGOUS USE ONLY" in label and "GARCIA, Maria" in label
    screenshot(ap, "chain-05-bag-label-1280x800")
    # The courier takes the bag: the scan's Enter moves on to the next field, not submits.
    ap.goto(f"/chain/orders/{order.pk}/")
    ap.get_by_test_id("action-handoff").click()
    wait_focus(ap, "scanned_text")
    ap.keyboard.type(f"&/{order.coi}")
    ap.keyboard.press("Enter")
    wait_focus(ap, "to_custodian")
    ap.keyboard.type("World Courier (J. Smith)")
    ap.get_by_label("To location").fill("Courier van")
    ap.get_by_label("Temperature (°C)").fill("4.5")
    ap.get_by_label("Status").select_option("in_transit")
    ap.get_by_role("button", name="Record handoff").click()
    ap.wait_for_url(_order_page(order))
    assert "Handoff #2 recorded: COI identifier matched" in ap.content()

    # --- goods-in: a wrong bag is refused in red, the right one is accepted -----------------
    op = new_page()
    login(op, "op")
    assert order.coi_eye_readable in op.get_by_test_id("chain-panel").inner_text()
    op.get_by_role("navigation", name="Areas").get_by_role("link", name="Chain of identity").click()
    assert "Garcia" not in op.get_by_test_id("order-table").inner_text()
    op.get_by_role("navigation", name="Chain of identity").get_by_role(
        "link", name="Goods-in"
    ).click()
    op.wait_for_url(re.compile(r"/chain/receive/$"))
    screenshot(op, "chain-06-goods-in-1280x800")
    row = op.get_by_test_id("goods-in-row").filter(has_text=order.coi_eye_readable)
    row.get_by_role("link", name=re.compile(r"^Receive")).click()
    op.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/receive/$"))
    # The scan field has the focus: the wedge scanner types straight into it.
    wait_focus(op, "scans")
    op.keyboard.type(f"&/{other.coi}")
    op.keyboard.press("Enter")
    op.get_by_label("Arrival temperature (°C)").fill("5.0")
    op.get_by_role("button", name="Accept").click()
    refusal = op.get_by_test_id("refusal")
    text = refusal.inner_text()
    assert "another patient's material" in text and other.coi_eye_readable in text
    deviation = Deviation.objects.get(category="identity")
    assert f"deviation {deviation.number} raised" in text
    assert refusal.evaluate("e => getComputedStyle(e).color") == RED
    assert op.get_by_test_id("scan-field").input_value() == ""
    screenshot(op, "chain-07-receive-refused-1280x800")
    assert not Receipt.objects.exists()

    wait_focus(op, "scans")
    for scan in bag_label(order):
        op.keyboard.type(scan)
        op.keyboard.press("Enter")
    assert op.get_by_test_id("scan-field").input_value().splitlines() == bag_label(order)
    op.get_by_label("Arrival temperature (°C)").fill("4.8")
    op.get_by_label("Data logger serial").fill("TL-0042")
    op.get_by_label("Logger minimum (°C)").fill("3.9")
    op.get_by_label("Logger maximum (°C)").fill("6.1")
    screenshot(op, "chain-08-receive-scanned-1280x800")
    op.get_by_role("button", name="Accept").click()
    op.wait_for_url(_order_page(order))
    assert "Bag accepted at goods-in" in op.content()
    rows = op.get_by_test_id("custody-row")
    assert rows.count() == 3
    assert "Collected" in rows.nth(0).inner_text()
    assert "World Courier (J. Smith)" in rows.nth(1).inner_text()
    assert "Received" in rows.nth(2).inner_text()
    assert "DIN, COI identifier, patient date of birth" in rows.nth(2).inner_text()
    assert "Goods-in" in op.get_by_test_id("location").inner_text()
    assert re.search(r"\d+\.\d h left", op.get_by_test_id("clock").first.inner_text())
    assert "Garcia" not in op.content()
    screenshot(op, "chain-09-vein-to-vein-1280x800")
    op.set_viewport_size(TABLET_PORTRAIT)
    screenshot(op, "chain-10-vein-to-vein-800x1280")

    receipt = Receipt.objects.get(order=order)
    assert receipt.decision == "accepted" and receipt.received_by.username == "op"
    assert verify_chain().ok

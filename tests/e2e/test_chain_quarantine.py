"""Found by a browser walk (issue 10), walked again in a browser: a refused handoff scan leaves
an empty, focused scan field, so the next scan is not glued onto it; the receive page does not
show the expected DIN; a bag at 12.5 °C is received into quarantine with an amber warning (not
a green success), and QA releases it with a reason and a password on the order page."""

from __future__ import annotations

import re

import pytest

from tests.chain.conftest import bag_label, walk, world  # noqa: F401 - fixtures
from tests.conftest import PASSWORD
from tests.e2e.conftest import login, screenshot, wait_focus
from vein2vein.chain.models import Receipt
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import Signature

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WARN = "rgb(154, 103, 0)"  # --warn in app.css


def test_a_refused_handoff_scan_is_cleared_and_the_next_scan_stands_alone(
    new_page,
    walk,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    order = walk("collected")
    ap = new_page()
    login(ap, "aph")
    ap.goto(f"/chain/orders/{order.pk}/handoff/")
    wait_focus(ap, "scanned_text")
    ap.keyboard.type("&/WRONG0000000")
    ap.keyboard.press("Enter")  # the scanner's Enter moves on, it does not submit
    ap.get_by_label("To custodian").fill("World Courier (J. Smith)")
    ap.get_by_label("To location").fill("Courier van")
    ap.get_by_role("button", name="Record handoff").click()
    assert ap.get_by_test_id("refusal").is_visible()
    scan = ap.locator("input[name=scanned_text]")
    assert scan.input_value() == ""
    wait_focus(ap, "scanned_text")
    screenshot(ap, "chain-q1-handoff-refused-cleared-1280x800")
    ap.keyboard.type(f"&/{order.coi}")  # lands on an empty field
    ap.keyboard.press("Enter")
    assert scan.input_value() == f"&/{order.coi}"
    ap.get_by_role("button", name="Record handoff").click()
    ap.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/$"))
    assert "Handoff #2 recorded" in ap.content()


def test_a_warm_bag_goes_to_quarantine_and_qa_releases_it(
    new_page,
    walk,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    order = walk("in_transit")
    din = order.collection.din_eye_readable
    op = new_page()
    login(op, "op")
    op.goto(f"/chain/orders/{order.pk}/receive/")
    wait_focus(op, "scans")
    assert din not in op.content()  # the expected DIN is not shown beside the scan field
    for scan in bag_label(order):
        op.keyboard.type(scan)
        op.keyboard.press("Enter")
    op.get_by_label("Arrival temperature (°C)").fill("12.5")
    op.get_by_role("button", name="Accept").click()
    op.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/$"))
    flash = op.locator(".flash.warning").first
    assert "QUARANTINE" in flash.inner_text()
    assert flash.evaluate("e => getComputedStyle(e).color") == WARN
    assert op.locator(".flash.success").count() == 0
    assert "Quarantined" in op.get_by_test_id("receipt-decision").inner_text()
    assert op.get_by_test_id("action-disposition").count() == 0
    screenshot(op, "chain-q2-received-into-quarantine-1280x800")

    qa = new_page()
    login(qa, "qaa")
    qa.goto(f"/chain/orders/{order.pk}/")
    qa.get_by_test_id("action-disposition").click()
    qa.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/receipt/disposition/$"))
    qa.get_by_role("radio", name=re.compile("Accept")).check()
    qa.get_by_label("Reason").fill("Logger: 25 min above 8 °C; viability within spec")
    qa.get_by_label("Password (e-signature)").fill(PASSWORD)
    screenshot(qa, "chain-q3-qa-disposition-1280x800")
    qa.get_by_role("button", name="Sign disposition").click()
    qa.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/$"))
    assert "Quarantine released by QA" in qa.content()
    assert qa.get_by_test_id("quarantine").count() == 0
    assert "Accepted" in qa.get_by_test_id("receipt-decision").inner_text()

    receipt = Receipt.objects.get(order=order)
    assert (receipt.decision, receipt.disposition_by.username) == ("accepted", "qaa")
    assert Signature.objects.filter(record_type="chain.receipt", meaning="approved").count() == 1
    assert verify_chain().ok

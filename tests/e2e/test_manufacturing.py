"""Batch record execution in a browser, on a 10-inch tablet. Acceptance (issue 6): the
operator receives the bag at goods-in, starts its batch, scans the bag's COI identifier, a biosafety
cabinet and a reagent lot into the scan field as a keyboard-wedge scanner does (text, then
Enter), enters a cell count below the action limit (refused in red without a comment, then
accepted with one, raising a deviation); a verifier signs the entry in their own session;
the deviation is in the quality deviation list."""

from __future__ import annotations

import re

import pytest

from tests.chain.conftest import bag_label, walk, world  # noqa: F401 - fixtures
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot, wait_focus
from tests.manufacturing.conftest import PASSWORD, Mfg, mfg  # noqa: F401 - fixtures
from vein2vein.core.audit import verify_chain
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.quality.models import Deviation

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

RED = "rgb(180, 35, 24)"  # --bad in app.css


def _scan(page, text: str, next_step: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the focused scan field as a wedge scanner does; wait for the next step."""
    wait_focus(page, "scan")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.get_by_test_id(f"step-{next_step}").wait_for()


def test_receive_then_execute_steps_by_scanning_with_a_verifier(new_page, mfg: Mfg, walk) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    order = walk("in_transit")
    op = new_page()
    login(op, "op")
    # Goods-in: the bag label is scanned and the bag accepted (tests/e2e/test_chain.py has more).
    op.goto(f"/chain/orders/{order.pk}/receive/")
    # Autofocus runs after load: typing before it lands loses the scans (a CI failure of 7 Dec).
    wait_focus(op, "scans")
    for scan in bag_label(order):
        op.keyboard.type(scan)
        op.keyboard.press("Enter")
    assert op.get_by_test_id("scan-field").input_value().splitlines() == bag_label(order)
    op.get_by_label("Arrival temperature (°C)").fill("4.8")
    op.get_by_role("button", name="Accept").click()
    op.wait_for_url(re.compile(rf"/chain/orders/{order.pk}/$"))
    assert "Bag accepted at goods-in" in op.content()
    op.get_by_role("navigation", name="Areas").get_by_role("link", name="Batch records").click()
    op.wait_for_url(re.compile(r"/manufacturing/$"))
    op.get_by_label("Received order").select_option(str(order.pk))
    op.get_by_role("button", name="Start batch").click()
    op.wait_for_url(re.compile(r"/manufacturing/batches/\d+/$"))
    b = Batch.objects.get(order=order)
    assert b.number in op.get_by_test_id("batch-number").inner_text()
    assert order.coi_eye_readable in op.get_by_test_id("coi").inner_text()
    screenshot(op, "mfg-00-scan-coi-1280x800")

    # The scan field has the focus; each scan submits with its Enter.
    _scan(op, f"&/{order.coi}", "bsc")
    _scan(op, "BSC-01", "reagent")
    _scan(op, "LOT-R1", "cells")
    record = op.get_by_test_id("record").inner_text()
    assert "BSC-01" in record and "LOT-R1 (2 vial)" in record

    # Below the action limit without a comment: refused in red, nothing recorded.
    card = op.get_by_test_id("step-cells")
    assert "at least 50000000 cells" in card.inner_text()
    wait_focus(op, "value")
    op.keyboard.type("40000000")
    card.get_by_role("button", name="Record").click()
    refusal = op.get_by_test_id("refusal")
    assert "a comment is required" in refusal.inner_text()
    assert refusal.evaluate("e => getComputedStyle(e).color") == RED
    assert not StepEntry.objects.filter(batch=b, step_key="cells").exists()
    screenshot(op, "mfg-01-numeric-refused-1280x800")
    wait_focus(op, "comment")
    op.keyboard.type("Low yield from a heavily pre-treated patient; supervisor informed")
    op.get_by_test_id("step-cells").get_by_role("button", name="Record").click()
    op.get_by_test_id("verify-cells").wait_for()
    dev = Deviation.objects.get()
    assert f"Deviation {dev.number} raised." in op.content()
    assert "second person verifies your entry" in op.get_by_test_id("verify-cells").inner_text()
    screenshot(op, "mfg-02-awaiting-verification-1280x800")
    op.set_viewport_size(TABLET_PORTRAIT)
    screenshot(op, "mfg-03-awaiting-verification-800x1280")
    op.get_by_role("button", name="Log out").click()

    # The verifier signs in their own session.
    login(op, "ver")
    assert b.number in op.get_by_test_id("manufacturing-panel").inner_text()
    op.goto(f"/manufacturing/batches/{b.pk}/")
    box = op.get_by_test_id("verify-cells")
    assert "40000000 cells" in box.inner_text() and dev.number in box.inner_text()
    box.get_by_label("Password").fill(PASSWORD)
    box.get_by_role("button", name="Verify").click()
    op.get_by_test_id("step-vector").wait_for()
    assert "verified and signed" in op.content()
    cells = StepEntry.objects.get(batch=b, step_key="cells")
    assert cells.status == "done" and cells.verified_by == mfg.verifier
    screenshot(op, "mfg-04-next-step-800x1280")
    op.set_viewport_size({"width": 1280, "height": 800})
    screenshot(op, "mfg-05-next-step-1280x800")

    op.get_by_role("navigation", name="Areas").get_by_role("link", name="Quality").click()
    op.wait_for_url(re.compile(r"/quality/"))
    assert dev.number in op.content()
    assert verify_chain().ok

"""The scan pages (issue 10): after a refused handoff scan the field is empty again and keeps
its autofocus, so the next scan is not glued onto the wrong text; the goods-in receive page
does not show the expected DIN beside the scan field (it would invite typing it)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.chain.conftest import World, bag_label
from vein2vein.chain import services

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _scan_input(page: str) -> str:
    found = re.search(r'<input[^>]*name="scanned_text"[^>]*>', page)
    assert found is not None
    return found.group(0)


def test_a_refused_handoff_scan_is_cleared_and_keeps_the_focus(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    url = reverse("chain:order_handoff", args=[o.pk])
    c = _client(world.operator)
    form = {
        "scanned_text": "&/WRONG-SCAN-0001",
        "to_custodian": "World Courier",
        "to_location": "Courier van",
        "temperature_c": "",
        "to_status": "",
        "note": "",
    }
    refused = c.post(url, form)
    assert refused.status_code in (400, 409), refused.status_code
    page = refused.content.decode()
    assert 'data-testid="refusal"' in page
    field = _scan_input(page)
    assert "WRONG-SCAN" not in field and 'value="' not in field
    assert "autofocus" in field
    # The other fields keep what was typed; only the scan is taken again.
    assert 'value="World Courier"' in page
    # The next scan lands on an empty field and is accepted.
    done = c.post(url, {**form, "scanned_text": f"&/{o.coi}"})
    assert done.status_code == 302


def test_the_receive_page_does_not_show_the_expected_din(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    din = o.collection.din
    c = _client(world.operator)
    page = c.get(reverse("chain:order_receive", args=[o.pk])).content.decode()
    assert 'data-testid="scan-field"' in page
    assert 'data-testid="din"' not in page
    assert din not in page and o.collection.din_eye_readable not in page
    # Once received, the order page shows the DIN that was verified.
    services.receive_collection(
        actor=world.operator, order_id=o.pk, scans=bag_label(o), arrival_temperature_c="5.0"
    )
    detail = c.get(reverse("chain:order_detail", args=[o.pk])).content.decode()
    assert o.collection.din_eye_readable in detail

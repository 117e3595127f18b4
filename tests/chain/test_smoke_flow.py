"""End to end through the services: order → slot → collection → courier → receipt."""

from __future__ import annotations

import pytest

from vein2vein.chain.models import CustodyEvent
from vein2vein.core.audit import verify_chain

pytestmark = pytest.mark.django_db


def test_an_order_walks_to_receipt(walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("received")
    assert o.status == "received"
    assert [e.kind for e in CustodyEvent.objects.filter(order=o)] == [
        "collected",
        "handoff",
        "received",
    ]
    assert o.current_location == "Goods-in"
    assert verify_chain().ok

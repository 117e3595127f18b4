"""The materials demo: a CAR-T bill of materials through the services, idempotent."""

from __future__ import annotations

import pytest

from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.materials import demo, selectors
from vein2vein.materials.models import Kit, Lot, Material
from vein2vein.materials.services import release_blockers


@pytest.fixture
def demo_world(db):  # type: ignore[no-untyped-def]
    load_core_demo()
    demo.load_demo()


def test_the_bill_of_materials_is_there_with_its_lots(demo_world):
    assert Material.objects.count() == len(demo.MATERIALS)
    assert Lot.objects.count() == len(demo.LOTS)
    released = Lot.objects.filter(status="released")
    assert released.count() == sum(1 for spec in demo.LOTS if spec.release)
    assert (
        Signature.objects.filter(meaning="released", signer__username="qc").count()
        == released.count()
    )
    vector = Lot.objects.get(supplier_lot="LV19-24-007")
    assert vector.attributes == {"titer_tu_per_ml": "2.4e8"} and vector.status == "released"
    assert selectors.fefo("MAT-0101")[0].supplier_lot == "6231127"  # expires first
    expired = Lot.objects.get(supplier_lot="23K0417")
    assert not selectors.check_material_usable(expired, None, 1).ok
    serum = Lot.objects.get(supplier_lot="AB-24-3317")
    assert any("conditional" in b for b in release_blockers(serum))
    kit = Kit.objects.get()
    assert selectors.check_kit_usable(kit).ok and kit.components.count() == 3
    assert verify_chain().ok


def test_a_second_run_writes_nothing(demo_world):
    events = AuditEvent.objects.count()
    demo.load_demo()
    assert AuditEvent.objects.count() == events

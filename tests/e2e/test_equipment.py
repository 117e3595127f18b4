"""Equipment in a browser. Acceptance: a supervisor records a failed calibration with their
signature; the unit shows out of service with its impact list naming the batches that used it
since its last passing calibration."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot
from tests.equipment.factories import ago, effective_document, in_service, record, use
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature
from vein2vein.documents.pdf import minimal_pdf
from vein2vein.equipment.models import Equipment, ServiceRecord
from vein2vein.quality.models import Deviation

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def suite(make_user, site):  # type: ignore[no-untyped-def]
    sofia = make_user(Role.SUPERVISOR, username="sofia", full_name="Sofia Sato")
    amara = make_user(Role.QA_APPROVER, username="amara", full_name="Amara Appiah")
    protocol = effective_document("FRM-0101", "Equipment qualification protocol")
    unit, plan = in_service(site, sofia, amara, protocol, calibrated_at=ago(days=40))
    use(sofia, unit, "B-2026-0001", ago(days=30), ago(days=29))  # before the last pass
    record(sofia, plan, at=ago(days=20))  # the last passing calibration
    use(sofia, unit, "B-2026-0012", ago(days=6), ago(days=5))
    use(sofia, unit, "B-2026-0015", ago(hours=5))  # still in use
    in_service(site, sofia, amara, protocol, tag="BSC-01")
    return unit, plan


def test_supervisor_records_failed_calibration_and_sees_out_of_service_with_impact(new_page, suite):
    page = new_page()
    login(page, "sofia")
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Equipment").click()
    page.wait_for_url(re.compile(r"/equipment/$"))
    assert "CEN-01" in page.get_by_test_id("equipment-table").inner_text()
    screenshot(page, "equipment-01-list-1280x800")
    page.get_by_role("link", name="CEN-01").click()
    page.wait_for_url(re.compile(r"/equipment/CEN-01/$"))
    # In service and in calibration, busy with batch B-2026-0015 right now.
    assert "In service" in page.get_by_test_id("status").inner_text()
    assert "in use by batch B-2026-0015" in page.get_by_test_id("usable-reasons").inner_text()
    screenshot(page, "equipment-02-detail-in-service-1280x800")

    page.get_by_test_id("record-actions").get_by_role(
        "link", name="Record calibration / maintenance"
    ).click()
    page.get_by_label("Plan").select_option(label="Calibration: Speed and temperature")
    page.get_by_label("Performed at").fill(ago(hours=1).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Result").select_option("fail")
    page.get_by_label("Certificate").set_input_files(
        {
            "name": "CEN-01-cal.pdf",
            "mimeType": "application/pdf",
            "buffer": minimal_pdf("Calibration certificate CEN-01", ("Speed: 4% high",)),
        }
    )
    page.get_by_label("Remarks").fill("Speed 4% high at 4000 rpm; outside tolerance.")
    page.get_by_label("Password").fill(PASSWORD)
    screenshot(page, "equipment-03-record-failed-1280x800")
    page.get_by_test_id("step-form").get_by_role("button", name="Sign: performed").click()

    page.wait_for_url(re.compile(r"/equipment/records/\d+/impact/$"))
    rec = ServiceRecord.objects.get(result="fail")
    assert "Out of service" in page.get_by_test_id("status").inner_text()
    batches = page.get_by_test_id("impact-batches").inner_text()
    assert batches == "B-2026-0012, B-2026-0015"
    assert "B-2026-0001" not in page.get_by_test_id("impact-table").inner_text()
    assert rec.deviation_number in page.content()
    screenshot(page, "equipment-04-impact-1280x800")

    page.get_by_role("link", name=re.compile("CEN-01")).first.click()
    page.wait_for_url(re.compile(r"/equipment/CEN-01/$"))
    assert "Out of service" in page.get_by_test_id("status").inner_text()
    assert "not usable" in page.get_by_test_id("usable").inner_text()
    assert "B-2026-0012" in page.get_by_test_id("impact-lists").inner_text()
    sigs = page.get_by_test_id("signatures").inner_text()
    assert "Sofia Sato" in sigs and "Performed" in sigs
    page.set_viewport_size(TABLET_PORTRAIT)
    screenshot(page, "equipment-05-detail-out-of-service-800x1280")

    assert Equipment.objects.get(equipment_id="CEN-01").status == "out_of_service"
    assert Deviation.objects.get().category == "equipment"
    assert Signature.objects.filter(record_id=str(rec.pk), meaning="performed").count() == 1
    assert verify_chain().ok

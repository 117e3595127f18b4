"""Materials in a browser. Acceptance: "receive a lot, release it with a signature, see it
listed as usable" — the logistics coordinator receives it with its CoA and inspection, the QC
analyst signs the release, and the lot shows as usable in the lots list."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot
from tests.materials.conftest import PDF
from tests.materials.factories import MaterialFactory, SupplierFactory, approve
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature
from vein2vein.materials.models import Lot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def people(make_user):  # type: ignore[no-untyped-def]
    return {
        "logistics": make_user(Role.LOGISTICS, username="luis", full_name="Luis Lopez"),
        "qc": make_user(Role.QC_ANALYST, username="quinn", full_name="Quinn Chen"),
    }


@pytest.fixture
def master(db):  # type: ignore[no-untyped-def]
    material = MaterialFactory(
        part_number="MAT-0106",
        name="Anti-CD19 CAR lentiviral vector",
        kind="viral_vector",
        unit="mL",
        storage_condition="minus_65c",
    )
    approve(material, SupplierFactory(name="Oxford Biomedica"))
    return material


def test_receive_release_and_see_it_usable(new_page, people, master, site, tmp_path):
    coa = tmp_path / "CoA-LV19-24-007.pdf"
    coa.write_bytes(PDF)
    expiry = (dt.date.today() + dt.timedelta(days=365)).isoformat()

    # --- logistics receives the lot into quarantine ------------------------------------------
    lg = new_page()
    login(lg, "luis")
    lg.get_by_role("navigation", name="Areas").get_by_role("link", name="Materials").click()
    lg.wait_for_url(re.compile(r"/materials/$"))
    lg.get_by_role("link", name="Receive a lot").click()
    lg.get_by_label("Material").select_option(label=str(master))
    lg.get_by_label("Supplier", exact=True).select_option(label="Oxford Biomedica")
    lg.get_by_label("Supplier lot number").fill("LV19-24-007")
    lg.get_by_label("Quantity").fill("20")
    lg.get_by_label("Expiry date").fill(expiry)
    lg.get_by_label("Location").fill("ULT freezer ULT-02, rack B")
    lg.get_by_label("Supplier CoA (PDF)").set_input_files(str(coa))
    lg.get_by_label("Titer (TU/mL)").fill("2.4e8")
    lg.get_by_label("Packaging intact").check()
    lg.get_by_label("Labels match the order and the CoA").check()
    lg.get_by_label("Temperature on arrival OK").check()
    lg.get_by_label("CoA matches the lot (number, expiry, specification)").check()
    screenshot(lg, "materials-01-receive-1280x800")
    lg.get_by_role("button", name="Receive into quarantine").click()
    lg.wait_for_url(re.compile(r"/materials/lots/\d+/$"))
    lot = Lot.objects.get()
    assert lot.lot_number in lg.locator("h1").inner_text()
    assert "Quarantine" in lg.get_by_test_id("lot-status").first.inner_text()
    assert "Not usable now" in lg.get_by_test_id("usable").inner_text()
    actions = lg.get_by_test_id("record-actions")
    assert not actions.get_by_role("link", name="Release", exact=True).count()  # not logistics

    # --- QC signs the release -------------------------------------------------------------------
    qc = new_page()
    login(qc, "quinn")
    assert lot.lot_number in qc.get_by_test_id("materials-panel").inner_text()
    qc.get_by_test_id("materials-panel").get_by_role("link", name=lot.lot_number).click()
    qc.get_by_test_id("record-actions").get_by_role("link", name="Release", exact=True).click()
    qc.get_by_label("Password").fill("wrong-password")
    qc.get_by_role("button", name="Sign release").click()
    assert "password is incorrect" in qc.content()
    qc.get_by_label("Password").fill(PASSWORD)
    qc.get_by_label("Comment (optional)").fill("CoA and titer reviewed against specification")
    screenshot(qc, "materials-02-release-1280x800")
    qc.get_by_role("button", name="Sign release").click()
    qc.wait_for_url(re.compile(r"/materials/lots/\d+/$"))
    assert "Lot released." in qc.content()
    assert "Usable now" in qc.get_by_test_id("usable").inner_text()
    manifestation = qc.get_by_test_id("signatures").get_by_test_id("manifestation").inner_text()
    assert "Quinn Chen" in manifestation and "Released" in manifestation
    screenshot(qc, "materials-03-lot-detail-1280x800")

    # --- listed as usable -----------------------------------------------------------------------
    qc.get_by_role("navigation", name="Materials").get_by_role("link", name="Lots").click()
    qc.get_by_label("Usable now").check()
    qc.get_by_role("button", name="Filter").click()
    row = qc.get_by_test_id("lot-table").get_by_role("row", name=re.compile(lot.lot_number))
    assert "usable" in row.inner_text() and "Released" in row.inner_text()
    screenshot(qc, "materials-04-lots-usable-1280x800")
    qc.set_viewport_size(TABLET_PORTRAIT)
    screenshot(qc, "materials-05-lots-800x1280")

    lot.refresh_from_db()
    assert lot.status == "released"
    assert Signature.objects.get(meaning="released").signer.username == "quinn"
    assert verify_chain().ok

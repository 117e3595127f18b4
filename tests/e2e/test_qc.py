"""Journey 5 in a browser (issue 12): a QC analyst sees the batch's samples on the worklist,
uploads a Vi-CELL BLU export and an FCS file and sees the results with the files attached; a
second analyst reviews one with a signature; an out-of-spec endotoxin result opens an OOS
investigation, listed with the OOS investigations."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import login, screenshot
from tests.manufacturing.conftest import batch, mfg, received, walk, world  # noqa: F401
from tests.qc.conftest import Lab, lab  # noqa: F401 - fixtures
from vein2vein.core.audit import verify_chain
from vein2vein.qc import services
from vein2vein.qc.demo import GATING_ML, demo_fcs
from vein2vein.qc.models import OosInvestigation, TestResult

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

VICELL = (
    Path(__file__).resolve().parents[1]
    / "data/cell_counters/vi_cell_blu/Beckman_Vi-Cell-BLU_example01_utf16.csv"
)


def test_analyst_imports_counter_and_fcs_files_second_analyst_reviews_oos_opens(  # type: ignore[no-untyped-def]
    new_page,
    lab: Lab,  # noqa: F811
    tmp_path: Path,
) -> None:
    services.add_method_version(
        actor=lab.m.w.supervisor,
        method_id=lab.spec.criteria.get(method__code="CAR").method_id,
        description="With the CAR19 panel strategy",
        gating_ml=GATING_ML,
    )
    # The release sample assigned to the analyst, due in two days (the set-up, not the journey).
    sample = services.register_sample(
        actor=lab.analyst,
        batch_id=lab.batch.pk,
        purpose="release",
        volume="10",
        unit="mL",
        assigned_to_id=lab.analyst.pk,
        due_date=dt.date.today() + dt.timedelta(days=2),
    )
    fcs = tmp_path / "CAR19-panel.fcs"
    fcs.write_bytes(demo_fcs())
    qc = new_page()
    login(qc, "qc")

    # 1. The worklist lists the batch's release sample.
    qc.goto("/qc/worklist/")
    assert sample.number in qc.content()

    # 2a. A Vi-CELL BLU export (UTF-16): read, its row assigned to the sample, saved.
    qc.goto("/qc/import/counter/")
    qc.get_by_label("Instrument").select_option("BECKMAN_VI_CELL_BLU")
    qc.get_by_label("File").set_input_files(str(VICELL))
    qc.get_by_role("button", name="Read the file").click()
    qc.get_by_test_id("counter-assign").wait_for()
    assert "CLB001" in qc.content()
    qc.get_by_label("Sample for row 1", exact=True).select_option(str(sample.pk))
    qc.get_by_label("Cell counter ID").fill(lab.counter.equipment_id)
    qc.get_by_role("button", name="Save as results").click()
    qc.wait_for_url(re.compile(r"/qc/results/$"))
    assert "1 result(s) saved with the file attached." in qc.content()
    viability = TestResult.objects.get(sample=sample, criterion__method__code="VIAB")
    assert viability.printed == "96.9 %" and len(viability.file_sha256) == 64
    qc.goto(f"/qc/results/{viability.pk}/")
    assert viability.file_sha256 in qc.content()
    screenshot(qc, "qc-01-counter-result-1280x800")

    # 2b. An FCS file gated with the method's Gating-ML: %CAR+ with its file and dot plot.
    qc.goto(f"/qc/samples/{sample.pk}/flow/")
    qc.get_by_label("Flow test").select_option("CAR")
    qc.get_by_label("Gate").fill("CARpos")
    qc.get_by_label("Flow cytometer ID").fill(lab.cytometer.equipment_id)
    qc.get_by_label("FCS file").set_input_files(str(fcs))
    qc.get_by_role("button", name=re.compile("Import|Gate|Save|Record")).click()
    qc.wait_for_url(re.compile(r"/qc/results/\d+/$"))
    car = TestResult.objects.get(sample=sample, criterion__method__code="CAR")
    assert car.file_sha256 in qc.content()
    plot = qc.locator("img[src$='plot.png']")
    plot.wait_for()
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(qc, "qc-02-flow-result-1280x800")

    # 3a. Endotoxin above its limit: an OOS investigation opens with the result.
    qc.goto(f"/qc/samples/{sample.pk}/results/new/")
    qc.get_by_label("Test", exact=True).select_option("ENDO")
    qc.get_by_label("Value").fill("1.2")
    qc.get_by_role("button", name=re.compile("Record|Save|Enter")).click()
    qc.wait_for_url(re.compile(r"/qc/results/\d+/$"))
    endotoxin = TestResult.objects.get(sample=sample, criterion__method__code="ENDO")
    oos = OosInvestigation.objects.get(result=endotoxin)
    assert oos.deviation.number in qc.content()
    qc.goto("/qc/oos/")
    assert oos.deviation.number in qc.content()

    # 3b. A second analyst reviews the viability result with a signature; the first cannot.
    qc.goto(f"/qc/results/{viability.pk}/")
    assert qc.get_by_role("link", name="Review with signature").count() == 0
    qc2 = new_page()
    login(qc2, "qc2")
    qc2.goto(f"/qc/results/{viability.pk}/")
    qc2.get_by_role("link", name="Review with signature").click()
    qc2.get_by_label("Password").fill(PASSWORD)
    qc2.get_by_role("button", name="Review and sign").click()
    qc2.wait_for_url(re.compile(rf"/qc/results/{viability.pk}/$"))
    viability.refresh_from_db()
    assert viability.status == "reviewed" and viability.reviewed_by == lab.analyst2
    assert "Quinn Second" in qc2.content()
    screenshot(qc2, "qc-03-reviewed-1280x800")
    assert verify_chain().ok

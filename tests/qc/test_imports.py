"""Instrument imports: a Vi-CELL BLU export becomes viability results with the file and its
SHA-256; an FCS file gated with the method's Gating-ML becomes a %CAR+ result with its gate
counts, file and dot plot; a non-compliant FCS file is refused with a message."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from tests.qc.conftest import Lab, unchanged
from vein2vein.core.errors import DomainError
from vein2vein.qc import services
from vein2vein.qc.demo import GATING_ML, demo_fcs

# The copy of ../shared/data in tests/data (tests/data/README.md).
VICELL = (
    Path(__file__).resolve().parents[1]
    / "data/cell_counters/vi_cell_blu/Beckman_Vi-Cell-BLU_example01_utf16.csv"
)


def test_a_counter_export_becomes_results_with_the_file(lab: Lab) -> None:
    content = VICELL.read_bytes()
    made = services.import_counter_results(
        actor=lab.analyst,
        instrument="BECKMAN_VI_CELL_BLU",
        content=content,
        filename=VICELL.name,
        assignments={0: lab.sample.pk},
        equipment_id=lab.counter.equipment_id,
    )
    assert [r.criterion.method.code for r in made] == ["VIAB"]
    r = made[0]
    assert (r.printed, r.evaluation) == ("96.9 %", "in_spec")
    assert r.file_sha256 == hashlib.sha256(content).hexdigest()
    assert r.file.read() == content
    assert r.details["sample_id"] == "CLB001"


def test_an_fcs_file_is_gated_with_the_methods_strategy(lab: Lab) -> None:
    v = services.add_method_version(
        actor=lab.m.w.supervisor,
        method_id=lab.spec.criteria.get(method__code="CAR").method_id,
        description="With the CAR19 panel strategy",
        gating_ml=GATING_ML,
    )
    assert v.version == 2 and len(v.gating_ml_sha256) == 64
    fcs = demo_fcs()
    r = services.import_flow_result(
        actor=lab.analyst,
        sample_id=lab.sample.pk,
        method="CAR",
        content=fcs,
        filename="panel.fcs",
        gate="CARpos",
        equipment_id=lab.cytometer.equipment_id,
    )
    assert r.method_version == v
    assert r.unit == "%" and r.evaluation == "in_spec"
    gate = r.details["gates"]["CARpos"]
    assert r.value_number == Decimal(gate["percent_of_parent"])
    assert r.file_sha256 == hashlib.sha256(fcs).hexdigest()
    assert r.plot.read().startswith(b"\x89PNG")
    with unchanged(), pytest.raises(DomainError) as exc:
        services.import_flow_result(
            actor=lab.analyst,
            sample_id=lab.sample.pk,
            method="CAR",
            content=b"not an FCS file",
            filename="bad.fcs",
            gate="CARpos",
            equipment_id=lab.cytometer.equipment_id,
        )
    assert exc.value.field == "fcs"
    with unchanged(), pytest.raises(DomainError) as exc:
        services.import_flow_result(
            actor=lab.analyst,
            sample_id=lab.sample.pk,
            method="CAR",
            content=fcs,
            filename="panel.fcs",
            gate="Nope",
            equipment_id=lab.cytometer.equipment_id,
        )
    assert exc.value.field == "gate"


def test_a_bad_gating_ml_is_refused(lab: Lab) -> None:
    with unchanged(), pytest.raises(DomainError) as exc:
        services.add_method_version(
            actor=lab.m.w.supervisor,
            method_id=lab.spec.criteria.get(method__code="CAR").method_id,
            description="Broken",
            gating_ml="<not-gating-ml/>",
        )
    assert exc.value.field == "gating_ml"


@pytest.mark.skipif(not VICELL.is_file(), reason="../shared is not next to this checkout")
def test_the_upload_pages(lab: Lab) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from vein2vein.qc.models import TestResult

    client = Client()
    client.force_login(lab.analyst)
    content = VICELL.read_bytes()
    upload = SimpleUploadedFile(VICELL.name, content, content_type="text/csv")
    response = client.post(
        "/qc/import/counter/", {"instrument": "BECKMAN_VI_CELL_BLU", "file": upload}
    )
    assert response.status_code == 302
    page = client.get("/qc/import/counter/assign/").content.decode()
    assert "CLB001" in page and "96.9" in page
    response = client.post(
        "/qc/import/counter/assign/",
        {"row_0": str(lab.sample.pk), "equipment_id": lab.counter.equipment_id},
    )
    assert response.status_code == 302
    viab = TestResult.objects.get(criterion__method__code="VIAB")
    assert viab.file_sha256 == hashlib.sha256(content).hexdigest()
    result_page = client.get(f"/qc/results/{viab.pk}/").content.decode()
    assert viab.file_sha256 in result_page
    download = client.get(f"/qc/results/{viab.pk}/file/")
    assert download["X-Content-SHA256"] == viab.file_sha256
    # A file that is not an export: refused on the form, with its message.
    bad = SimpleUploadedFile("x.csv", b"hello", content_type="text/csv")
    response = client.post(
        "/qc/import/counter/", {"instrument": "BECKMAN_VI_CELL_BLU", "file": bad}
    )
    assert response.status_code == 400 and "not a readable" in response.content.decode()
    # The FCS page: the flow method with its strategy, the gate, the cytometer.
    services.add_method_version(
        actor=lab.m.w.supervisor,
        method_id=lab.spec.criteria.get(method__code="CAR").method_id,
        description="With the CAR19 panel strategy",
        gating_ml=GATING_ML,
    )
    fcs = SimpleUploadedFile("panel.fcs", demo_fcs(), content_type="application/octet-stream")
    response = client.post(
        f"/qc/samples/{lab.sample.pk}/flow/",
        {
            "method": "CAR",
            "gate": "CARpos",
            "equipment_id": lab.cytometer.equipment_id,
            "file": fcs,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    car = TestResult.objects.get(criterion__method__code="CAR")
    page = client.get(f"/qc/results/{car.pk}/").content.decode()
    assert 'data-testid="dot-plot"' in page and "CARpos" in page
    assert client.get(f"/qc/results/{car.pk}/plot.png").status_code == 200

"""The qc demo: the ARI-0001 release spec approved, LUH-1007's batch with an endotoxin OOS
investigation open, LUH-1008's with every release test reviewed and in spec; through the
services (the chain verifies); idempotent. One test, one demo load."""

from __future__ import annotations

import importlib

from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.management.commands.demo import APP_DEMOS
from vein2vein.core.models import AuditEvent
from vein2vein.qc import demo, selectors
from vein2vein.qc.models import OosInvestigation, Specification, TestResult


def test_the_demo(db) -> None:  # type: ignore[no-untyped-def]
    load_core_demo()
    for name in APP_DEMOS:
        if name != "vein2vein.release.demo":
            importlib.import_module(name).load_demo()
    assert demo.__name__ in APP_DEMOS
    spec = Specification.objects.get(status="approved")
    assert spec.criteria.count() == len(demo.CRITERIA)  # type: ignore[attr-defined]
    by_patient = {}
    for r in TestResult.objects.select_related("batch__order__patient"):
        by_patient.setdefault(r.batch.order.patient.site_patient_id, set()).add(r.batch_id)
    first, second = (by_patient[p].pop() for p in ("LUH-1007", "LUH-1008"))
    oos = OosInvestigation.objects.get(batch_id=first)
    assert oos.phase == "phase_i" and oos.result.printed == "1.2 EU/mL"
    assert oos.deviation.category == "oos" and oos.deviation.status == "open"
    ready = selectors.release_testing(second)
    assert ready.complete and ready.all_in_spec, ready.lines
    flow = TestResult.objects.filter(batch_id=second, criterion__method__code="CAR").get()
    assert flow.file_sha256 and flow.plot and flow.details["gate"] == "CARpos"
    assert verify_chain().ok
    events = AuditEvent.objects.count()
    demo.load_demo()
    assert AuditEvent.objects.count() == events  # a second run writes nothing

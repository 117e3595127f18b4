"""The batch record end to end through the services: start, every step, complete, QA review."""

from __future__ import annotations

from decimal import Decimal

from tests.manufacturing.conftest import PASSWORD, Mfg, run
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import Signature
from vein2vein.manufacturing import selectors, services
from vein2vein.manufacturing.models import Batch


def test_test_mbr_runs_from_start_to_qa_review(mfg: Mfg, batch: Batch) -> None:
    assert batch.number.startswith(f"B-{mfg.w.mfg.code}-")
    assert batch.coi == batch.order.coi
    batch.order.refresh_from_db()
    assert batch.order.status == "in_manufacturing"
    low = {"value": "40000000", "comment": "Low yield; continue (supervisor informed)"}
    entries = run(mfg, batch, cells=low)
    assert entries["cells"].flag == "action"  # below the action limit: a deviation
    assert entries["cells"].deviation
    assert entries["vector_ml"].value_number == Decimal("0.17")  # 4e7 * 5 / 1.2e9
    assert entries["dose"].value_number == Decimal("68500000")  # 68.5 kg * 1e6, under the cap
    services.complete_batch(actor=mfg.operator, batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "completed"
    batch.order.refresh_from_db()
    assert batch.order.status == "in_qc"
    kinds = {x.kind for x in selectors.review_exceptions(batch)}
    assert {"limit", "deviation", "comment"} <= kinds
    services.review_batch(actor=mfg.qa, batch_id=batch.pk, password=PASSWORD, comment="OK")
    batch.refresh_from_db()
    assert batch.status == "reviewed"
    review = Signature.objects.get(record_type="manufacturing.batch", record_id=str(batch.pk))
    assert review.meaning == "reviewed"
    assert verify_chain().ok

"""A reviewed batch of the manufacturing test MBR, with QC's release testing stood in for by
`qc_state` (release reads QC only through qc.selectors.release_testing; these tests replace
that one door so each readiness item can be made to fail on its own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.manufacturing.conftest import MFG_MODELS, Mfg, mfg, received, run, walk, world  # noqa: F401
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.manufacturing import services as mfg_services
from vein2vein.manufacturing.models import Batch
from vein2vein.quality.models import Deviation
from vein2vein.release import selectors
from vein2vein.release.models import Certificate, ClinicalNotice, Disposition

RELEASE_MODELS = (Disposition, ClinicalNotice, Certificate, *MFG_MODELS, Deviation)


@dataclass(frozen=True)
class Line:
    test: str
    method_version: str
    criterion: str
    result: str | None
    status: str
    analyst: str | None = "Ana Analyst"
    reviewer: str | None = "Rob Reviewer"
    reviewed_at: dt.datetime | None = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC)
    url: str | None = None


@dataclass(frozen=True)
class Testing:
    batch_id: int
    specification: str | None
    lines: tuple[Line, ...]
    oos_deviation_ids: tuple[int, ...] = ()

    @property
    def complete(self) -> bool:
        return all(line.status in {"in_spec", "out_of_spec"} for line in self.lines)

    @property
    def all_in_spec(self) -> bool:
        return all(line.status == "in_spec" for line in self.lines)


def in_spec_lines() -> list[Line]:
    return [
        Line("Endotoxin", "QCM-ENDO v1", "<= 5.0 EU/mL", "0.8 EU/mL", "in_spec"),
        Line("Viability", "QCM-VIA v2", ">= 70 %", "91.2 %", "in_spec"),
        Line("CAR+ by flow", "QCM-CAR v1", ">= 20 %", "41.0 %", "in_spec"),
    ]


@dataclass
class QcState:
    """What the stand-in for qc.selectors.release_testing answers; tests change it."""

    specification: str | None = "SPEC-CD19 v1 (release)"
    lines: list[Line] = field(default_factory=in_spec_lines)
    oos_deviation_ids: tuple[int, ...] = ()
    calls: int = 0

    def __call__(self, batch_id: int) -> Testing:
        self.calls += 1
        return Testing(batch_id, self.specification, tuple(self.lines), self.oos_deviation_ids)


@pytest.fixture
def qc_state(monkeypatch: pytest.MonkeyPatch) -> QcState:
    state = QcState()
    monkeypatch.setattr(selectors, "release_testing_of", state)
    return state


def another_patient(m: Mfg, n: int) -> Any:
    from vein2vein.chain import services as chain

    return chain.enroll_patient(
        actor=m.w.clinician,
        site_id=m.w.clinic.pk,
        site_patient_id=f"LUH-0009{n:02d}",
        given_name="Pat",
        family_name=f"Other{n}",
        date_of_birth="1970-01-01",
        weight_kg="70",
        diagnosis="Relapsed B-cell acute lymphoblastic leukaemia",
        consent_status="consented",
        consent_date="2026-01-10",
    )


def completed(m: Mfg, order: Any) -> Batch:
    b = mfg_services.start_batch(actor=m.operator, order_id=order.pk)
    run(m, b)
    return mfg_services.complete_batch(actor=m.operator, batch_id=b.pk)


def reviewed(m: Mfg, order: Any) -> Batch:
    b = completed(m, order)
    return mfg_services.review_batch(actor=m.qa, batch_id=b.pk, password=PASSWORD)


@pytest.fixture
def ready_batch(mfg: Mfg, received, qc_state: QcState) -> Batch:  # type: ignore[no-untyped-def]  # noqa: F811
    """A completed batch, reviewed and signed by QA, every (stood-in) release test in spec."""
    return reviewed(mfg, received())


def unchanged() -> AbstractContextManager[None]:
    """A refused call wrote nothing: no release, manufacturing or quality row, no event."""
    return nothing_written(*RELEASE_MODELS)


@contextmanager
def blocked(action: str = "release.disposition") -> Iterator[list[AuditEvent]]:
    """A refused release (an interlock): every row as it was, and exactly one new audit event,
    `<action>.blocked`; the chain verifies."""
    rows = {
        m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in RELEASE_MODELS
    }
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    events: list[AuditEvent] = []
    yield events
    after = {
        m.__name__: list(m._default_manager.order_by("pk").values_list()) for m in RELEASE_MODELS
    }
    assert after == rows, "a refused release changed rows"
    events.extend(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
    assert [e.action for e in events] == [f"{action}.blocked"], [e.action for e in events]
    assert verify_chain().ok


def release(m: Mfg, b: Batch, **kw: Any) -> Disposition:
    from vein2vein.release import services

    args: dict[str, Any] = {
        "actor": m.approver,
        "batch_id": b.pk,
        "decision": "release",
        "reason": "All release criteria met",
        "password": PASSWORD,
    }
    args.update(kw)
    return services.dispose(**args)


__all__ = [
    "PASSWORD",
    "Callable",
    "Line",
    "QcState",
    "another_patient",
    "blocked",
    "completed",
    "release",
    "reviewed",
    "unchanged",
]

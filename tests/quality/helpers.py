"""Assertions for quality refusals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.core.helpers import nothing_written
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent, NumberSequence
from vein2vein.quality.models import (
    Capa,
    CapaAction,
    CapaDeviation,
    ChangeApproval,
    ChangeControl,
    ChangeTask,
    Deviation,
    DeviationExtension,
    DeviationLink,
    EffectivenessCheck,
)

QUALITY_MODELS = (
    Deviation,
    DeviationLink,
    DeviationExtension,
    Capa,
    CapaDeviation,
    CapaAction,
    EffectivenessCheck,
    ChangeControl,
    ChangeApproval,
    ChangeTask,
    NumberSequence,
)


@contextmanager
def unchanged() -> Iterator[None]:
    """Nothing written: no quality row, no core row, no audit event; the chain verifies."""
    with nothing_written(*QUALITY_MODELS):
        yield


@contextmanager
def only_blocked(action: str) -> Iterator[None]:
    """A refused interlock: no record changed, and exactly one '<action>.blocked' event."""
    before = AuditEvent.objects.count()
    rows = {m.__name__: list(m.objects.order_by("pk").values_list()) for m in QUALITY_MODELS}
    yield
    after = {m.__name__: list(m.objects.order_by("pk").values_list()) for m in QUALITY_MODELS}
    assert after == rows, "a refused action changed quality rows"
    new = list(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert AuditEvent.objects.count() == before + 1, new
    assert new == [f"{action}.blocked"]
    assert verify_chain().ok

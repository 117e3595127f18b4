"""The batch state machine is one table (choices.BATCH_ACTIONS): the batch page offers exactly
the actions it allows in each status, and the services refuse an action outside it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.core.factories import grant
from tests.manufacturing.conftest import PASSWORD, Mfg
from vein2vein.core.errors import Conflict
from vein2vein.core.models import AuditEvent, Role
from vein2vein.manufacturing import services
from vein2vein.manufacturing.choices import (
    BATCH_ACTIONS,
    BATCH_TRANSITIONS,
    BatchAction,
    BatchStatus,
    batch_actions,
)
from vein2vein.manufacturing.models import Batch

pytestmark = pytest.mark.django_db


def test_every_status_change_of_an_action_is_a_transition() -> None:
    for action, (where, to) in BATCH_ACTIONS.items():
        assert where, action
        if to is not None:
            assert all(to in BATCH_TRANSITIONS[s] for s in where), action
    assert batch_actions(BatchStatus.REVIEWED) == frozenset()
    assert batch_actions(BatchStatus.ABORTED) == frozenset()


@pytest.mark.parametrize("status", BatchStatus.values)
def test_page_offers_what_the_table_allows(
    mfg: Mfg, batch: Batch, make_user: Any, status: str
) -> None:
    everyone = make_user(Role.SUPERVISOR, mfg.w.mfg, username="all_roles")
    grant(everyone, Role.QA_APPROVER, mfg.w.mfg)
    Batch.objects.filter(pk=batch.pk).update(status=status)  # each status, as the page sees it
    c = Client()
    c.force_login(everyone)
    r = c.get(reverse("manufacturing:batch_detail", args=[batch.pk]))
    assert r.status_code == 200
    # review has its own page; every other action of the table is offered on the batch page
    assert r.context["offered"] == batch_actions(status) - {BatchAction.REVIEW}


def _attempts(mfg: Mfg, b: Batch) -> dict[str, Any]:
    return {
        BatchAction.HOLD: lambda: services.hold_batch(
            actor=mfg.operator, batch_id=b.pk, reason="Check"
        ),
        BatchAction.RESUME: lambda: services.resume_batch(
            actor=mfg.operator, batch_id=b.pk, reason="Checked"
        ),
        BatchAction.COMPLETE: lambda: services.complete_batch(actor=mfg.operator, batch_id=b.pk),
        BatchAction.ABORT: lambda: services.abort_batch(
            actor=mfg.approver, batch_id=b.pk, reason="Lost", password=PASSWORD
        ),
        BatchAction.REVIEW: lambda: services.review_batch(
            actor=mfg.qa, batch_id=b.pk, password=PASSWORD
        ),
    }


@pytest.mark.parametrize("status", BatchStatus.values)
def test_services_refuse_an_action_outside_the_table(mfg: Mfg, batch: Batch, status: str) -> None:
    Batch.objects.filter(pk=batch.pk).update(status=status)
    for action, attempt in _attempts(mfg, batch).items():
        if action in batch_actions(status):
            continue
        events = AuditEvent.objects.count()
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.field == "batch_id", action
        assert AuditEvent.objects.count() == events
        assert Batch.objects.get(pk=batch.pk).status == status

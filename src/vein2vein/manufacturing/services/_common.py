"""Helpers shared by the manufacturing services: lookups that name the field, locks, numbering,
the recorded refusal. Private to manufacturing.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from vein2vein.core import audit
from vein2vein.core.errors import InterlockBlocked, NotFound
from vein2vein.core.models import User
from vein2vein.core.services import _validate
from vein2vein.core.transactions import in_service_transaction as in_service_transaction

from ..models import Batch, StepEntry

text = _validate.text
reason = _validate.reason
record_id = _validate.record_id
moment = _validate.moment


def batch(batch_id: object, field: str = "batch_id") -> Batch:
    found = (
        Batch.objects.select_related("master_record", "site", "order", "order__patient")
        .filter(pk=record_id(batch_id, field))
        .first()
    )
    if found is None:
        raise NotFound(f"batch {batch_id} does not exist", field=field)
    return found


def locked_batch(pk: int) -> Batch:
    return (
        Batch.objects.select_for_update(no_key=True, of=("self",))
        .select_related("master_record", "site", "order")
        .get(pk=pk)
    )


def entry(entry_id: object, field: str = "entry_id") -> StepEntry:
    found = (
        StepEntry.objects.select_related("batch", "batch__site", "batch__master_record")
        .filter(pk=record_id(entry_id, field))
        .first()
    )
    if found is None:
        raise NotFound(f"step entry {entry_id} does not exist", field=field)
    return found


def refuse(
    *,
    actor: User | None,
    action: str,
    record: Batch,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
) -> InterlockBlocked:
    """Record a blocked attempt on the batch (its own transaction) and return the error."""
    audit.record_blocked_attempt(
        actor=actor,
        action=action,
        record=record,
        reason=message,
        details={k: {"old": None, "new": v} for k, v in (details or {}).items()},
    )
    return InterlockBlocked(message, field=field)


def utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

"""Helpers shared by the manufacturing services: lookups that name the field, locks, numbering,
the recorded refusal. Private to manufacturing.services."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import F

from vein2vein.core import audit
from vein2vein.core.errors import InterlockBlocked, NotFound
from vein2vein.core.models import User
from vein2vein.core.services import _validate
from vein2vein.core.transactions import in_service_transaction as in_service_transaction

from .. import mbr
from ..models import Batch, MasterRecord, StepEntry

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


def locked_batch(pk: int, read: Batch | None = None) -> Batch:
    """The batch row, locked. With `read` (the same batch as read before the transaction) the
    row alone is locked and re-read, and the master record, site and order already read are
    reused: a master record never changes under its id and content hash (`step_index`), and a
    batch keeps its master record, site and order."""
    if read is None:
        return (
            Batch.objects.select_for_update(no_key=True, of=("self",))
            .select_related("master_record", "site", "order")
            .get(pk=pk)
        )
    b = Batch.objects.select_for_update(no_key=True, of=("self",)).get(pk=pk)
    for name in ("master_record", "site", "order"):
        field: Any = Batch._meta.get_field(name)
        if field.is_cached(read) and getattr(b, field.attname) == getattr(read, field.attname):
            field.set_cached_value(b, field.get_cached_value(read))
    return b


def batch_for_step(batch_id: object, field: str = "batch_id") -> Batch:
    """The batch with its site, and its master record from `master_record` (the order and
    patient are read when a step uses them: most steps do not)."""
    found = (
        Batch.objects.select_related("site")
        .annotate(
            mr_sha256=F("master_record__definition_sha256"),
            mr_parsed_at=F("master_record__parsed_at"),
        )
        .filter(pk=record_id(batch_id, field))
        .first()
    )
    if found is None:
        raise NotFound(f"batch {batch_id} does not exist", field=field)
    stamp = (found.master_record_id, found.mr_sha256, found.mr_parsed_at)
    mr_field: Any = Batch._meta.get_field("master_record")
    mr_field.set_cached_value(found, master_record(*stamp))
    return found


# Master records by (pk, definition_sha256, parsed_at), read once per process. A master record
# row is written only by `_store_master_record`, and every write sets a new parsed_at and the
# hash of its definition, so the three name one content of the row for good (a rolled-back
# row's stamp is never another row's). Bounded: the oldest entry goes first. Each caller gets
# its own copy of the instance (its own related-object cache); the definition is shared and
# read-only (`step_index` hands out copies of steps).
_MASTER_RECORDS: dict[tuple[int, str, Any], MasterRecord] = {}
_CACHE_SIZE = 64


def master_record(pk: int, definition_sha256: str, parsed_at: Any) -> MasterRecord:
    """The master record `pk` (with its product) as it stands with this stamp."""
    key = (pk, definition_sha256, parsed_at)
    cached = _MASTER_RECORDS.get(key)
    if cached is None:
        cached = MasterRecord.objects.select_related("product").get(pk=pk)
        if (cached.definition_sha256, cached.parsed_at) != key[1:]:
            return cached  # rewritten since the batch was read (a draft): use it, keep nothing
        while len(_MASTER_RECORDS) >= _CACHE_SIZE:
            _MASTER_RECORDS.pop(next(iter(_MASTER_RECORDS)), None)
        _MASTER_RECORDS[key] = cached
    return copy.copy(cached)


# The steps of each master record by key, built once per process: (pk, definition_sha256) ->
# {step key: step as `mbr.steps` gives it}. A master record's definition changes only while its
# document version is a draft or in review, and then with a new definition_sha256, so a key
# never names two contents; an index is kept only when the definition read hashes to the
# stored definition_sha256. Bounded: the oldest entry goes first.
_STEP_INDEX: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}


def step_index(mr: MasterRecord) -> Mapping[str, Mapping[str, Any]]:
    """Every step of `mr` by key, in execution order (read-only: `step` hands out copies)."""
    key = (mr.pk, mr.definition_sha256)
    index = _STEP_INDEX.get(key)
    if index is None:
        index = {item["key"]: item for item in mbr.steps(mr.definition)}
        if mbr.content_sha256(mr.definition) == mr.definition_sha256:
            while len(_STEP_INDEX) >= _CACHE_SIZE:
                _STEP_INDEX.pop(next(iter(_STEP_INDEX)), None)
            _STEP_INDEX[key] = index
    return index


def step(mr: MasterRecord, key: str) -> dict[str, Any]:
    """One step as `mbr.step` gives it (a copy the caller may keep); KeyError if none."""
    return copy.deepcopy(dict(step_index(mr)[key]))


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

"""The per-process caches of the step path serve no stale data: the master record behind a
batch is re-read when its row was rewritten (a new definition hash and parse time), a step
handed out is the caller's own copy, and the entries read before a step's transaction are
read again under the lock when another entry was written meanwhile."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.manufacturing.conftest import Mfg, run
from vein2vein.core.errors import Conflict, NotFound
from vein2vein.manufacturing import mbr, services
from vein2vein.manufacturing.models import Batch, MasterRecord, StepEntry
from vein2vein.manufacturing.services import _common as c
from vein2vein.manufacturing.services import steps


def _rewrite(mr: MasterRecord, **title: str) -> dict:
    """Rewrite the row as a reparse of a draft does: a new definition, its hash, a new time."""
    definition = dict(mr.definition, **title)
    MasterRecord.objects.filter(pk=mr.pk).update(
        definition=definition,
        definition_sha256=mbr.content_sha256(definition),
        parsed_at=mr.parsed_at + dt.timedelta(seconds=1),
    )
    return definition


def test_the_master_record_is_read_once_and_again_when_its_row_changes(
    mfg: Mfg, batch: Batch
) -> None:
    first = c.batch_for_step(batch.pk).master_record
    with CaptureQueriesContext(connection) as ctx:
        again = c.batch_for_step(batch.pk).master_record
    assert len(ctx.captured_queries) == 1  # the batch (with its site); the record is kept
    assert again is not first  # each caller has its own instance
    assert again.definition == first.definition
    changed = _rewrite(first, title="Changed between two calls")
    seen = c.batch_for_step(batch.pk).master_record
    assert seen.definition == changed
    assert seen.definition["title"] == "Changed between two calls"
    assert seen.definition_sha256 == mbr.content_sha256(changed)


def test_a_step_handed_out_is_a_copy(mfg: Mfg, batch: Batch) -> None:
    mr = c.batch_for_step(batch.pk).master_record
    step = c.step(mr, "cells")
    step["alert"]["low"] = "0"
    step["title"] = "scribbled"
    again = c.step(mr, "cells")
    assert again["title"] == "Viable cells"
    assert again["alert"]["low"] != "0"
    assert again == mbr.step(mr.definition, "cells")
    with pytest.raises(KeyError):
        c.step(mr, "nope")


def test_a_step_index_follows_a_new_definition(mfg: Mfg, batch: Batch) -> None:
    mr = c.batch_for_step(batch.pk).master_record
    assert "cells" in c.step_index(mr)
    definition = dict(mr.definition)
    definition["operations"] = [
        {**op, "steps": [s for s in op["steps"] if s["key"] != "cells"]}
        for op in mr.definition["operations"]
    ]
    changed = MasterRecord(
        pk=mr.pk, definition=definition, definition_sha256=mbr.content_sha256(definition)
    )
    assert "cells" not in c.step_index(changed)
    assert "cells" in c.step_index(mr)


def test_an_index_of_a_definition_that_does_not_match_its_hash_is_not_kept(
    mfg: Mfg, batch: Batch
) -> None:
    mr = c.batch_for_step(batch.pk).master_record
    forged = MasterRecord(pk=mr.pk, definition={"operations": []}, definition_sha256="0" * 64)
    assert dict(c.step_index(forged)) == {}
    assert (mr.pk, "0" * 64) not in c._STEP_INDEX


def test_an_unknown_step_of_a_cached_record_is_refused(mfg: Mfg, batch: Batch) -> None:
    with pytest.raises(NotFound):
        services.record_step(actor=mfg.operator, batch_id=batch.pk, step_key="nope", value="1")


def test_an_entry_written_between_the_read_and_the_lock_is_seen(
    mfg: Mfg, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entries read before the transaction are read again under the batch's lock when its
    sequence moved: here the same step is recorded by someone else in between."""
    run(mfg, batch, until="cells")
    real = c.locked_batch

    def meanwhile(pk: int, read: Batch | None = None) -> Batch:
        monkeypatch.setattr(c, "locked_batch", real)
        other = StepEntry.objects.filter(batch_id=pk).order_by("-seq").first()
        assert other is not None
        Batch.objects.filter(pk=pk).update(last_seq=other.seq + 1)
        StepEntry.objects.create(
            batch_id=pk,
            seq=other.seq + 1,
            step_key="cells",
            step_kind="numeric",
            status="awaiting_verification",
            value_number=2 * 10**8,
            unit="cells",
            performed_by=mfg.operator,
            performed_at=other.performed_at,
            recorded_at=other.recorded_at,
        )
        return real(pk, read=read)

    monkeypatch.setattr(c, "locked_batch", meanwhile)
    with pytest.raises(Conflict, match="changed state meanwhile"):
        services.record_step(
            actor=mfg.operator, batch_id=batch.pk, step_key="cells", value="200000000"
        )
    # The other entry was written inside the refused transaction: it rolled back with it.
    assert "cells" not in steps.current_entries(batch)

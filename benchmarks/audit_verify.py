"""Audit verify rate: verify_chain() over 100,000 events against hashing the same content in memory.

    .venv/bin/python benchmarks/audit_verify.py [N]        (default N = 100000)

Writes N correctly chained events with bulk_create (hashes computed with
standards.audit_chain.event_hash, as append_event does), then times verify_chain(): it reads
every row in seq order from the database, rebuilds the hashed content and checks each hash
and link. Then it times event_hash over the same N content dicts held in memory (no
database). The ratio is what reading and decoding the rows costs on top of the hashing.
Peak RSS is printed after verify (verify streams in chunks, so it should stay flat) and
again at the end (with all N content dicts held in memory).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from typing import Any

import _setup

CHUNK = 5000
ACTIONS = ("site.updated", "lot.received", "batch.step_completed", "sample.result_entered")


def events(n: int, actor_id: int, username: str) -> Iterator[Any]:
    """N chained AuditEvent objects (unsaved), deterministic, hashes filled in."""
    from vein2vein.core.models import AuditEvent
    from vein2vein.standards.audit_chain import GENESIS_HASH, event_hash

    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    prev_hash = GENESIS_HASH
    for i in range(n):
        event = AuditEvent(
            seq=i + 1,
            occurred_at=start + dt.timedelta(milliseconds=37 * i, microseconds=i % 1000),
            actor_id=actor_id,
            actor_username=username,
            action=ACTIONS[i % len(ACTIONS)],
            record_type="core.site",
            record_id=str(i % 97),
            changes={
                "name": {"old": f"Name {i - 1}", "new": f"Name {i}"},
                "volume_ml": {"old": i % 250, "new": (i + 1) % 250},
            },
            reason=f"benchmark correction {i}: entered in the wrong field",
            prev_hash=prev_hash,
        )
        event.hash = prev_hash = event_hash(event.hashed_content())
        yield event


def main(n: int) -> None:
    where = _setup.configure()

    from django.db import connection, transaction

    from vein2vein.core.audit import verify_chain
    from vein2vein.core.models import AuditEvent, User
    from vein2vein.standards.audit_chain import event_hash

    actor = User.objects.create(username="bench-actor", full_name="Bench Actor")

    with _setup.timer() as t_create:
        batch: list[Any] = []
        for event in events(n, actor.pk, actor.username):
            batch.append(event)
            if len(batch) == CHUNK:
                with transaction.atomic():
                    AuditEvent.objects.bulk_create(batch, batch_size=1000)
                batch = []
        if batch:
            with transaction.atomic():
                AuditEvent.objects.bulk_create(batch, batch_size=1000)
    del batch
    connection.close()  # verify starts on a fresh connection

    rss_before_verify = _setup.peak_rss_mb()
    with _setup.timer() as t_verify:
        result = verify_chain()
    assert result.ok, result.problem
    assert result.count == n, result.count
    rss_after_verify = _setup.peak_rss_mb()

    contents = [e.hashed_content() for e in events(n, actor.pk, actor.username)]
    with _setup.timer() as t_hash:
        for content in contents:
            event_hash(content)

    verify_rate = n / t_verify[0]
    hash_rate = n / t_hash[0]
    print(f"audit verify benchmark, N = {n:,} events, on {where}")
    _setup.report("create (bulk_create, chained)", n / t_create[0], t_create[0])
    _setup.report("verify_chain() from database", verify_rate, t_verify[0])
    _setup.report("event_hash in memory (no DB)", hash_rate, t_hash[0])
    _setup.ratio("ratio in-memory / verify", hash_rate / verify_rate)
    print(
        f"  peak RSS before verify: {rss_before_verify:.0f} MB, after verify: "
        f"{rss_after_verify:.0f} MB, at end (N dicts in memory): {_setup.peak_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

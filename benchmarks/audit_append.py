"""Audit append rate: events/s through a real service, through append_event, and bulk.

    .venv/bin/python benchmarks/audit_append.py [N]        (default N = 5000)

Three figures from one run on one fresh database (SQLite file, or PostgreSQL when
DATABASE_URL says so):
  service  - N corrections through core.services.update_site, one transaction each
             (permission check, row lock, site UPDATE, chain lock, audit INSERT, commit);
  append   - N calls of core.audit.append_event, each in its own transaction.atomic();
  bulk     - the same N service events' content re-chained and written with
             AuditEvent.objects.bulk_create in one transaction: the database's raw rate.
The ratios say what the audit trail's guarantees cost against a plain bulk insert.
"""

from __future__ import annotations

import sys

import _setup


def main(n: int) -> None:
    where = _setup.configure()

    from django.db import transaction

    from vein2vein.core import audit, services
    from vein2vein.core.models import AuditEvent
    from vein2vein.standards.audit_chain import event_hash

    site, admin = _setup.installation()
    first_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    with _setup.timer() as t_service:
        for i in range(n):
            services.update_site(
                actor=admin,
                site_id=site.pk,
                reason=f"benchmark correction {i}",
                name=f"Benchmark site {'AB'[i % 2]}",
            )

    with _setup.timer() as t_append:
        for i in range(n):
            with transaction.atomic():
                audit.append_event(
                    actor=admin,
                    action="bench.appended",
                    record=site,
                    changes={"counter": {"old": i, "new": i + 1}},
                    reason=f"benchmark append {i}",
                )

    # The same rows the service wrote, re-numbered and re-linked after the current head,
    # prepared outside the timing so only the INSERTs are measured.
    service_rows = list(AuditEvent.objects.filter(seq__gt=first_seq, seq__lte=first_seq + n))
    head = AuditEvent.objects.order_by("-seq").first()
    assert head is not None
    seq, prev_hash = head.seq, head.hash
    copies = []
    for row in service_rows:
        seq += 1
        copy = AuditEvent(
            seq=seq,
            occurred_at=row.occurred_at,
            actor_id=row.actor_id,
            actor_username=row.actor_username,
            action=row.action,
            record_type=row.record_type,
            record_id=row.record_id,
            changes=row.changes,
            reason=row.reason,
            prev_hash=prev_hash,
        )
        copy.hash = prev_hash = event_hash(copy.hashed_content())
        copies.append(copy)

    with _setup.timer() as t_bulk, transaction.atomic():
        AuditEvent.objects.bulk_create(copies, batch_size=1000)

    result = audit.verify_chain()
    assert result.ok, result.problem
    assert result.count == first_seq + 3 * n

    service_rate = n / t_service[0]
    append_rate = n / t_append[0]
    bulk_rate = n / t_bulk[0]
    print(f"audit append benchmark, N = {n:,} events each, on {where}")
    _setup.report("service (update_site, 1 tx/event)", service_rate, t_service[0])
    _setup.report("append_event (1 tx/event)", append_rate, t_append[0])
    _setup.report("bulk_create (1 tx, same rows)", bulk_rate, t_bulk[0])
    _setup.ratio("ratio bulk / service", bulk_rate / service_rate)
    _setup.ratio("ratio bulk / append_event", bulk_rate / append_rate)
    print(f"  chain verifies: {result.count:,} events")
    print(f"  peak RSS: {_setup.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)

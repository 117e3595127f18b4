"""Electronic batch record: step records per second through the service against raw inserts,
and one step's time with 10 and with 10,000 completed batches in the database.

    .venv/bin/python benchmarks/ebr.py [N [HISTORY [REPS]]]
        (default N = 2000 step records, HISTORY = 10000 completed batches, REPS = 100)

Set-up through the services: a bench MBR of STEPS numeric steps (unit, alert and action
limits, no training requirement, no verification) for an allogeneic product, imported, reviewed
and approved (effective); N / STEPS batches started for donor lots.

1. Throughput: N calls of `services.record_step` (each its own transaction: permission, the
   batch's row lock, order and limit checks, the entry, its audit event with the chain hash),
   then the same N StepEntry rows (every field copied, onto as many other batches) written
   with `StepEntry.objects.bulk_create` in one transaction. It prints both rates and the
   ratio bulk / service: the price of the interlocks and the audit trail.
2. Flat: REPS times, a fresh batch is started (not timed) and its first numeric step is
   recorded through the service (timed; median), with 10 completed batches of STEPS entries
   in the tables, then again after bulk-creating HISTORY completed batches (rows written
   directly: a benchmark needs volume, not an audit trail). It prints both medians and their
   ratio and the queries one step makes; the reads are by batch, so the time should stay near 1
   and the query count constant. Exits non-zero above 2 or when the count grows.

Tables are ANALYZEd (and SQLite's WAL checkpointed) before each timing. Peak RSS at the end.
About 1.5 minutes on SQLite, 2 on PostgreSQL (2 cores).
"""

from __future__ import annotations

import datetime as dt
import secrets
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

import _setup

STEPS = 20
CHUNK = 500  # history batches per bulk_create round
LIMIT_RATIO = 2.0
PASSWORD = secrets.token_urlsafe(12) + "Aa1!"
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


def bench_mbr() -> str:
    steps = "\n".join(
        f"      - {{key: s{i:02d}, kind: numeric, title: Reading {i}, unit: cells, decimals: 0,"
        f" alert: {{low: 1.0e8}}, action: {{low: 5.0e7}}, range: {{low: 0, high: 1.0e11}}}}"
        for i in range(1, STEPS + 1)
    )
    return (
        "schema: vein2vein-mbr/1\nproduct: ALLO-NK\nprocess_version: '1.0'\n"
        "title: Bench allogeneic process\noperations:\n  - key: op\n    title: Readings\n"
        f"    steps:\n{steps}\n"
    )


class World:
    """A site, four people with their roles, an allogeneic product and its effective MBR."""

    def __init__(self) -> None:
        from vein2vein.chain.models import TherapyProduct
        from vein2vein.core.models import RoleAssignment, User
        from vein2vein.documents import services as documents
        from vein2vein.manufacturing import services

        site, _admin = _setup.installation()
        self.site = site
        people = {}
        for username, role in (
            ("sup", "supervisor"),
            ("qarev", "qa_reviewer"),
            ("qaa", "qa_approver"),
            ("op", "operator"),
        ):
            user = User.objects.create(username=username, full_name=f"Bench {username}")
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
            RoleAssignment.objects.create(user=user, site=site, role=role, granted_at=START)
            people[username] = user
        self.operator = people["op"]
        TherapyProduct.objects.create(
            code="ALLO-NK",
            name="Allogeneic NK cells",
            autologous=False,
            isbt_description_code="S9999",
            max_hours_to_manufacture=48,
            fresh_min_c=Decimal("2.0"),
            fresh_max_c=Decimal("8.0"),
        )
        mr = services.import_master_record(
            actor=people["sup"], yaml_text=bench_mbr(), change_summary="Bench", title="Bench MBR"
        )
        version = mr.document_version
        documents.submit_for_review(actor=people["sup"], version_id=version.pk)
        documents.review_version(actor=people["qarev"], version_id=version.pk, password=PASSWORD)
        documents.approve_version(actor=people["qaa"], version_id=version.pk, password=PASSWORD)
        mr.refresh_from_db()
        self.mr = mr
        self.lots = 0

    def start(self) -> Any:
        from vein2vein.manufacturing import services

        self.lots += 1
        return services.start_batch(
            actor=self.operator,
            donor_lot=f"DL-{self.lots:06d}",
            master_record_id=self.mr.pk,
            site_id=self.site.pk,
        )


def value(i: int) -> str:
    return str(150_000_000 + (i * 7919) % 50_000_000)


def throughput(w: World, n: int) -> tuple[float, float]:
    """(service records/s, bulk rows/s) for the same n StepEntry rows."""
    from django.db import transaction

    from vein2vein.manufacturing import services
    from vein2vein.manufacturing.models import Batch, StepEntry

    batches = [w.start() for _ in range((n + STEPS - 1) // STEPS)]
    calls = [(b.pk, f"s{k:02d}") for b in batches for k in range(1, STEPS + 1)][:n]
    with _setup.timer() as t_service:
        for i, (pk, key) in enumerate(calls):
            services.record_step(actor=w.operator, batch_id=pk, step_key=key, value=value(i))
    service_rate = n / t_service[0]

    copies = Batch.objects.bulk_create(
        [
            Batch(
                number=f"{b.number}-C",
                master_record=w.mr,
                site=w.site,
                donor_lot=f"{b.donor_lot}-C",
                status=b.status,
                started_by=w.operator,
                started_at=b.started_at,
                recorded_at=b.recorded_at,
                last_seq=STEPS,
            )
            for b in batches
        ]
    )
    to_copy = {b.pk: c.pk for b, c in zip(batches, copies, strict=True)}
    skip = {"id", "batch"}
    fields = [f.attname for f in StepEntry._meta.concrete_fields if f.name not in skip]
    rows = [
        StepEntry(batch_id=to_copy[e.pop("batch_id")], **e)
        for e in StepEntry.objects.filter(batch__in=batches)
        .order_by("pk")
        .values("batch_id", *fields)
    ]
    assert len(rows) == n
    with _setup.timer() as t_bulk, transaction.atomic():
        StepEntry.objects.bulk_create(rows, batch_size=1000)
    return service_rate, n / t_bulk[0]


def history(w: World, first: int, last: int) -> None:
    """Completed batches `first` .. `last - 1`, STEPS entries each, written directly."""
    from django.db import transaction

    from vein2vein.manufacturing.models import Batch, StepEntry

    limits = {"alert": {"low": "1.0e8"}, "action": {"low": "5.0e7"}}
    for lo in range(first, last, CHUNK):
        hi = min(lo + CHUNK, last)
        with transaction.atomic():
            batches = Batch.objects.bulk_create(
                [
                    Batch(
                        number=f"B-HIST-{i:06d}",
                        master_record=w.mr,
                        site=w.site,
                        donor_lot=f"HL-{i:06d}",
                        status="completed",
                        started_by=w.operator,
                        started_at=START + dt.timedelta(hours=i),
                        recorded_at=START + dt.timedelta(hours=i),
                        completed_at=START + dt.timedelta(hours=i + 6),
                        last_seq=STEPS,
                    )
                    for i in range(lo, hi)
                ]
            )
            StepEntry.objects.bulk_create(
                [
                    StepEntry(
                        batch=b,
                        seq=k,
                        step_key=f"s{k:02d}",
                        step_kind="numeric",
                        status="done",
                        value_number=Decimal(value(k)),
                        unit="cells",
                        details={"limits": limits},
                        performed_by=w.operator,
                        performed_at=b.started_at + dt.timedelta(minutes=k),
                        recorded_at=b.started_at + dt.timedelta(minutes=k),
                    )
                    for b in batches
                    for k in range(1, STEPS + 1)
                ],
                batch_size=2000,
            )


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":  # fold the bulk load's WAL back, as a checkpoint would
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def one_step_ms(w: World, reps: int) -> tuple[float, int]:
    """(median ms of one record_step on a fresh batch, the queries it makes)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vein2vein.manufacturing import services

    analyze()
    for _ in range(3):  # warm up
        services.record_step(actor=w.operator, batch_id=w.start().pk, step_key="s01", value="1e8")
    samples = []
    for i in range(reps):
        b = w.start()
        start = time.perf_counter()
        services.record_step(actor=w.operator, batch_id=b.pk, step_key="s01", value=value(i))
        samples.append(time.perf_counter() - start)
    b = w.start()
    with CaptureQueriesContext(connection) as ctx:
        services.record_step(actor=w.operator, batch_id=b.pk, step_key="s01", value="1e8")
    return statistics.median(samples) * 1000, len(ctx.captured_queries)


def rates(label: str, rate: float, n: int) -> None:
    print(f"  {label + ':':<34} {rate:10,.0f} records/s  ({n / rate:.2f} s)")


def main(n: int, large: int, reps: int) -> int:
    if n <= 0 or large <= 10:
        raise SystemExit("need N > 0 and HISTORY > 10")
    where = _setup.configure()
    print(f"EBR benchmark on {where}")
    w = World()

    service_rate, bulk_rate = throughput(w, n)
    print(f"  1. {n:,} step records ({STEPS} numeric steps per batch):")
    rates("record_step (service)", service_rate, n)
    rates("bulk_create (raw rows)", bulk_rate, n)
    _setup.ratio("bulk / service", bulk_rate / service_rate)

    history(w, 0, 10)
    small, q_small = one_step_ms(w, reps)
    with _setup.timer() as t_build:
        history(w, 10, large)
    print(
        f"  2. one numeric step on a fresh batch (median of {reps}); grew the history to "
        f"{large:,} completed batches ({large * STEPS:,} entries) in {t_build[0]:.1f} s"
    )
    big, q_big = one_step_ms(w, reps)
    ratio = big / small
    print(f"  {'with 10 completed batches:':<34} {small:10.2f} ms  ({q_small} queries)")
    print(f"  {f'with {large:,} completed batches:':<34} {big:10.2f} ms  ({q_big} queries)")
    _setup.ratio(f"{large:,} / 10 (limit {LIMIT_RATIO})", ratio)
    print(f"  peak RSS: {_setup.peak_rss_mb():.0f} MB")
    if ratio > LIMIT_RATIO or q_big != q_small:
        print("FAILED: one step's time or query count grew with the number of batches")
        return 1
    return 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    sys.exit(main(*(args + [2000, 10_000, 100][len(args) :])))

"""Electronic batch record: step records per second through the service against raw inserts,
and one step's time with 10 and with 10,000 completed batches in the database.

    .venv/bin/python benchmarks/ebr.py [N [HISTORY [REPS]]]
        (quick defaults for `make bench`: N = 400, HISTORY = 500, REPS = 30, or the
        environment's BENCH_EBR_N, BENCH_EBR_HISTORY, BENCH_EBR_REPS; full size 2000 10000 100)

Set-up through the services: a bench MBR of STEPS numeric steps (unit, alert and action
limits, no training requirement, no verification) for an allogeneic product, imported, reviewed
and approved (effective); N / STEPS batches started for donor lots.

1. Throughput: N calls of `services.record_step` (each its own transaction: permission, the
   batch's row lock, order and limit checks, the entry, its audit event with the chain hash),
   then the same N StepEntry rows (every field copied, onto as many other batches) written
   with `StepEntry.objects.bulk_create` in one transaction. It prints both rates and the
   ratio bulk / service: the price of the interlocks and the audit trail. The fair limit:
   the same StepEntry rows written with the driver (psycopg or sqlite3), one INSERT and one
   COMMIT each (the durability of one user action), timed in 5 rounds alternating with the
   service's (each round's own rows), so both meet the same load of a shared machine; the
   service rate is printed as a fraction of it (goal >= 0.5). The same for N / 4 material
   scans (a second MBR of STEPS material steps, each scanning a released lot received and
   released through the materials services).
   The query count of each call along one batch (step 1 with no entries .. step STEPS with
   STEPS - 1) is printed: it must not grow with the batch's entries.
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


def bench_mbr(product: str = "ALLO-NK", material: str = "") -> str:
    if material:
        steps = "\n".join(
            f"      - {{key: s{i:02d}, kind: material, title: Add {i}, part: {material},"
            f" quantity: 1, unit: vial}}"
            for i in range(1, STEPS + 1)
        )
    else:
        steps = "\n".join(
            f"      - {{key: s{i:02d}, kind: numeric, title: Reading {i}, unit: cells,"
            f" decimals: 0, alert: {{low: 1.0e8}}, action: {{low: 5.0e7}},"
            f" range: {{low: 0, high: 1.0e11}}}}"
            for i in range(1, STEPS + 1)
        )
    return (
        f"schema: vein2vein-mbr/1\nproduct: {product}\nprocess_version: '1.0'\n"
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
        mrs = []
        for code, material in (("ALLO-NK", ""), ("ALLO-MAT", "MAT-EBR")):
            TherapyProduct.objects.create(
                code=code,
                name=f"Allogeneic cells {code}",
                autologous=False,
                isbt_description_code="S9999",
                max_hours_to_manufacture=48,
                fresh_min_c=Decimal("2.0"),
                fresh_max_c=Decimal("8.0"),
            )
            if material:
                self.material_lots, _qc = _setup.material_lots(site, material, 2, release=True)
            mr = services.import_master_record(
                actor=people["sup"],
                yaml_text=bench_mbr(code, material),
                change_summary="Bench",
                title=f"Bench MBR {code}",
            )
            version = mr.document_version
            documents.submit_for_review(actor=people["sup"], version_id=version.pk)
            documents.review_version(
                actor=people["qarev"], version_id=version.pk, password=PASSWORD
            )
            documents.approve_version(actor=people["qaa"], version_id=version.pk, password=PASSWORD)
            mr.refresh_from_db()
            mrs.append(mr)
        self.mr, self.mr_material = mrs
        self.lots = 0

    def start(self, material: bool = False) -> Any:
        from vein2vein.manufacturing import services

        self.lots += 1
        return services.start_batch(
            actor=self.operator,
            donor_lot=f"DL-{self.lots:06d}",
            master_record_id=(self.mr_material if material else self.mr).pk,
            site_id=self.site.pk,
        )


def value(i: int) -> str:
    return str(150_000_000 + (i * 7919) % 50_000_000)


def in_rounds(calls: list[tuple[int, str]], record: Any) -> tuple[float, float]:
    """(service seconds, limit rate): `calls` through `record(i, batch_id, step_key)` in
    `_setup.ROUNDS` slices, each followed by the driver writing the entries that slice wrote,
    so that the service and its limit meet the same load of the machine."""
    from vein2vein.manufacturing.models import StepEntry

    limit = _setup.DriverLimit(StepEntry)
    seconds = 0.0
    for r in range(_setup.ROUNDS):
        part = range(r * len(calls) // _setup.ROUNDS, (r + 1) * len(calls) // _setup.ROUNDS)
        last = StepEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        with _setup.timer() as t:
            for i in part:
                record(i, *calls[i])
        seconds += t[0]
        rows = list(StepEntry.objects.filter(pk__gt=last).order_by("pk"))
        assert len(rows) == len(part)
        limit.time(rows)
    limit.close()
    return seconds, limit.rate


def throughput(w: World, n: int) -> tuple[float, float, float]:
    """(service records/s, limit rows/s, bulk rows/s) for the same n StepEntry rows."""
    from django.db import transaction

    from vein2vein.manufacturing import services
    from vein2vein.manufacturing.models import Batch, StepEntry

    batches = [w.start() for _ in range((n + STEPS - 1) // STEPS)]
    calls = [(b.pk, f"s{k:02d}") for b in batches for k in range(1, STEPS + 1)][:n]
    seconds, limit_rate = in_rounds(
        calls,
        lambda i, pk, key: services.record_step(
            actor=w.operator, batch_id=pk, step_key=key, value=value(i)
        ),
    )
    service_rate = n / seconds

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
    return service_rate, limit_rate, n / t_bulk[0]


def material_scans(w: World, n: int) -> tuple[float, float]:
    """(service scans/s, limit rows/s): n material steps, each scanning a released lot."""
    from vein2vein.manufacturing import services

    batches = [w.start(material=True) for _ in range((n + STEPS - 1) // STEPS)]
    calls = [(b.pk, f"s{k:02d}") for b in batches for k in range(1, STEPS + 1)][:n]
    lots = [lot.lot_number for lot in w.material_lots]
    seconds, limit_rate = in_rounds(
        calls,
        lambda i, pk, key: services.record_step(
            actor=w.operator, batch_id=pk, step_key=key, scan=lots[i % 2]
        ),
    )
    return n / seconds, limit_rate


def counts_along_batch(w: World, material: bool) -> list[int]:
    """Queries of each record_step call along one fresh batch, step 1 to step STEPS."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vein2vein.manufacturing import services

    b = w.start(material=material)
    lot = w.material_lots[0].lot_number
    counts = []
    for k in range(1, STEPS + 1):
        given = {"scan": lot} if material else {"value": value(k)}
        with CaptureQueriesContext(connection) as ctx:
            services.record_step(actor=w.operator, batch_id=b.pk, step_key=f"s{k:02d}", **given)
        counts.append(len(ctx.captured_queries))
    return counts


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

    service_rate, numeric_limit, bulk_rate = throughput(w, n)
    m = max(n // 4, STEPS)
    scan_rate, scan_limit = material_scans(w, m)
    print(f"  1. {n:,} step records ({STEPS} numeric steps per batch), {m:,} material scans:")
    rates("record_step numeric (service)", service_rate, n)
    rates("limit (driver, 1 INSERT+COMMIT)", numeric_limit, n)
    rates("record_step material scan", scan_rate, m)
    rates("limit (driver, same scan rows)", scan_limit, m)
    rates("info: bulk_create (raw rows)", bulk_rate, n)
    _setup.limit_ratio("numeric step", service_rate, numeric_limit)
    _setup.limit_ratio("material scan", scan_rate, scan_limit)
    _setup.ratio("info: bulk / service", bulk_rate / service_rate)
    along_numeric = counts_along_batch(w, material=False)
    along_scan = counts_along_batch(w, material=True)
    print(f"  queries per call along a batch, numeric step 1..{STEPS}: {along_numeric}")
    print(f"  queries per call along a batch, material step 1..{STEPS}: {along_scan}")
    # The last step of the MBR may read once more (the operation is finished); the others
    # must be flat from step 2 (with one entry) to step STEPS - 1 (with STEPS - 2).
    grows = along_numeric[-2] > along_numeric[1] or along_scan[-2] > along_scan[1]

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
    if grows:
        print("FAILED: a step's query count grew with the batch's entries")
        return 1
    if ratio > LIMIT_RATIO or q_big != q_small:
        print("FAILED: one step's time or query count grew with the number of batches")
        return 1
    return 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    quick = [
        _setup.env_int("BENCH_EBR_N", 400),
        _setup.env_int("BENCH_EBR_HISTORY", 500),
        _setup.env_int("BENCH_EBR_REPS", 30),
    ]
    sys.exit(main(*(args + quick[len(args) :])))

"""Release readiness: one batch's checklist with 10 and with 10,000 released batches in the
tables; the ratio of the two medians (limit 1.2) and the query count (must not grow).

    .venv/bin/python benchmarks/release.py [HISTORY [REPS]]
        (quick defaults for `make bench`: HISTORY = 1000, REPS = 50, or the environment's
        BENCH_RELEASE_HISTORY, BENCH_RELEASE_REPS; full size 10000 200)

Set-up through the services (benchmarks/ebr.py's World: a site, its people, an allogeneic
product and its effective bench MBR of 20 numeric steps): the measured batch is started for a
donor lot, its 20 steps recorded, completed and reviewed by exception with the QA reviewer's
signature (manufacturing.services), a deviation raised against it (quality.services) so the
deviation query has a row to find. Then `release.selectors.readiness(batch)` is timed REPS
times (median; the QC part is the real `qc.selectors.release_testing`, which finds no approved
specification for the bench product: its early answer), with 10 released batches of filler,
and again with HISTORY. The filler is written with bulk_create, documented as such: a
benchmark needs volume, not an audit trail; each filler batch has 20 entries, a review
signature row and a release disposition (ebr.history plus rows of this module).

The bench MBR has no COI check, so the checklist's COI item is red: the same work for both
sizes. Tables are ANALYZEd before each timing. Peak RSS at the end.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time

import _setup
import ebr

LIMIT_RATIO = 1.2
CHUNK = 500


def measured_batch(w: ebr.World) -> int:
    from vein2vein.core.models import User
    from vein2vein.manufacturing import services
    from vein2vein.quality import services as quality

    b = w.start()
    for k in range(1, ebr.STEPS + 1):
        services.record_step(
            actor=w.operator, batch_id=b.pk, step_key=f"s{k:02d}", value=ebr.value(k)
        )
    services.complete_batch(actor=w.operator, batch_id=b.pk)
    qarev = User.objects.get(username="qarev")
    services.review_batch(actor=qarev, batch_id=b.pk, password=ebr.PASSWORD)
    quality.raise_deviation(
        source=b,
        category="process",
        title="Bench deviation",
        description="For the readiness query to find",
        actor=w.operator,
        site=w.site,
    )
    return int(b.pk)


def released_filler(w: ebr.World, first: int, last: int) -> None:
    """Batches `first` .. `last - 1` (ebr.history), then reviewed, signed and released: rows
    written directly (bulk_create), not through the services."""
    from django.db import transaction

    from vein2vein.core.models import Signature, User
    from vein2vein.manufacturing.models import Batch
    from vein2vein.release.models import Disposition

    ebr.history(w, first, last)
    qarev = User.objects.get(username="qarev")
    qaa = User.objects.get(username="qaa")
    numbers = [f"B-HIST-{i:06d}" for i in range(first, last)]
    for lo in range(0, len(numbers), CHUNK):
        part = numbers[lo : lo + CHUNK]
        with transaction.atomic():
            Batch.objects.filter(number__in=part).update(status="reviewed")
            batches = list(Batch.objects.filter(number__in=part).only("pk", "started_at"))
            when = {b.pk: b.started_at + dt.timedelta(hours=8) for b in batches}
            Signature.objects.bulk_create(
                [
                    Signature(
                        signer=qarev,
                        signer_name=qarev.printed_name,
                        meaning="reviewed",
                        record_type="manufacturing.batch",
                        record_id=str(b.pk),
                        content_hash="0" * 64,
                        signed_at=when[b.pk],
                        time_zone="UTC",
                    )
                    for b in batches
                ]
            )
            Disposition.objects.bulk_create(
                [
                    Disposition(
                        batch_id=b.pk,
                        decision="release",
                        reason="Bench filler",
                        readiness={"ready": True},
                        record_sha256="0" * 64,
                        decided_by=qaa,
                        decided_at=when[b.pk] + dt.timedelta(hours=1),
                    )
                    for b in batches
                ]
            )


def readiness_ms(batch_id: int, reps: int) -> tuple[float, int, bool]:
    """(median ms, queries of one call, ready) of `readiness(batch_id)`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vein2vein.release import selectors

    ebr.analyze()
    selectors.readiness(batch_id)  # warm: URL resolver, caches
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        selectors.readiness(batch_id)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        r = selectors.readiness(batch_id)
    return statistics.median(times), len(ctx.captured_queries), r.ready


def main(large: int, reps: int) -> int:
    if large <= 10 or reps <= 0:
        raise SystemExit("need HISTORY > 10 and REPS > 0")
    where = _setup.configure()
    print(f"Release readiness benchmark on {where}")
    w = ebr.World()
    batch_id = measured_batch(w)
    released_filler(w, 0, 10)
    small, q_small, _ = readiness_ms(batch_id, reps)
    with _setup.timer() as t_build:
        released_filler(w, 10, large)
    print(
        f"  readiness of one reviewed batch (median of {reps}); grew the filler to {large:,} "
        f"released batches ({large * ebr.STEPS:,} entries) in {t_build[0]:.1f} s"
    )
    big, q_big, _ = readiness_ms(batch_id, reps)
    ratio = big / small
    print(f"  {'with 10 released batches:':<36} {small:10.2f} ms  ({q_small} queries)")
    print(f"  {f'with {large:,} released batches:':<36} {big:10.2f} ms  ({q_big} queries)")
    _setup.ratio(f"{large:,} / 10 (limit {LIMIT_RATIO})", ratio)
    print(f"  peak RSS: {_setup.peak_rss_mb():.0f} MB")
    if ratio > LIMIT_RATIO or q_big != q_small:
        print("FAILED: readiness time or query count grew with the number of batches")
        return 1
    return 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    quick = [
        _setup.env_int("BENCH_RELEASE_HISTORY", 1000),
        _setup.env_int("BENCH_RELEASE_REPS", 50),
    ]
    sys.exit(main(*(args + quick[len(args) :])))

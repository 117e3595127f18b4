"""Vein-to-vein timeline read time with 1,000 and with 100,000 orders of 12 custody events each.

    .venv/bin/python benchmarks/timeline.py [SMALL [LARGE [REPS]]]
        (default SMALL = 1000 orders, LARGE = 100000 orders, REPS = 300 reads per figure)

Builds SMALL orders, each with its patient, collection, used slot booking, receipt and 12
custody events (collected, six handoffs to goods-in, received, into the cleanroom, three
stage changes to released, shipped) with bulk_create: rows valid for the models, written
directly because a benchmark needs a million rows, not an audit trail. Then it reads one
order's timeline three ways, each REPS times over orders spread through the table (median):

- selector: `selectors.order_for` + `selectors.vein_to_vein` (what the page and API read);
- serializer: the API's `timeline_out` to JSON (the route's own code, without HTTP);
- HTTP: GET /api/v1/chain/orders/<id>/timeline through Django's test client with a token.

It counts the queries of each read for orders with 1, 12 and 48 events (the count must
not grow with the events: no N+1), grows the tables to LARGE orders and reads again. It
prints both medians, their ratio (the issue asks for at most 2x: the reads are index
range lookups), the query counts and peak RSS, and exits non-zero if the ratio exceeds 2 or
a query count grows. Tables are ANALYZEd after each build, as autovacuum would.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import _setup

CHUNK = 2000  # orders per bulk_create round
EVENTS = 12
FIN_MFG, FIN_APH = "B2345", "D4567"
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
LIMIT_RATIO = 2.0
ONE_EVENT, MANY_EVENTS = 999_998, 999_999  # sequence numbers of the two extra orders


class World:
    """The sites, people and product every bulk-built order refers to."""

    def __init__(self) -> None:
        from vein2vein.chain.models import TherapyProduct
        from vein2vein.core import services as core_services
        from vein2vein.core.models import RoleAssignment, Site, User

        self.mfg = Site.objects.create(
            code="MFG-B",
            name="Boston cell therapy facility",
            kind="manufacturing",
            time_zone="America/New_York",
            fin=FIN_MFG,
            country="US",
        )
        self.clinic = Site.objects.create(
            code="CLIN-C", name="Chicago clinic", kind="clinical", time_zone="America/Chicago"
        )
        self.aph = Site.objects.create(
            code="APH-D",
            name="Denver apheresis center",
            kind="apheresis",
            time_zone="America/Denver",
            fin=FIN_APH,
            country="US",
        )
        self.clinician = User.objects.create(username="clin", full_name="Carla Clinic")
        self.operator = User.objects.create(username="op", full_name="Olivia Operator")
        for user, site, role in (
            (self.clinician, self.clinic, "clinical_site"),
            (self.operator, self.mfg, "operator"),
        ):
            RoleAssignment.objects.create(user=user, site=site, role=role, granted_at=START)
        self.product = TherapyProduct.objects.create(
            code="CD19-CART",
            name="Autologous anti-CD19 CAR-T",
            isbt_description_code="S1234",
            max_hours_to_manufacture=48,
            fresh_min_c=Decimal("2.0"),
            fresh_max_c=Decimal("8.0"),
        )
        _, raw = core_services.create_api_token(actor=None, user=self.operator, name="bench")
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# What happens to the bag, hour by hour after the end of collection: (hours, kind, to
# custodian, to location, status after). Twelve events, as the acceptance has.
CHAIN: list[tuple[float, str, str, str, str]] = [
    (0.0, "collected", "Denver apheresis center", "APH-D apheresis unit", "collected"),
    (0.5, "handoff", "World Courier (J. Smith)", "Courier van", "in_transit"),
    (1.5, "handoff", "World Courier DEN hub", "Denver airport cold room", "in_transit"),
    (3.0, "handoff", "Flight UA 1742 (cargo)", "Aircraft hold", "in_transit"),
    (6.5, "handoff", "World Courier BOS hub", "Boston airport cold room", "in_transit"),
    (7.5, "handoff", "World Courier (M. Lee)", "Courier van", "in_transit"),
    (8.5, "received", "Olivia Operator (MFG-B)", "Goods-in", "received"),
    (9.0, "handoff", "Olivia Operator (MFG-B)", "Cleanroom B, BSC 2", "received"),
    (10.0, "stage", "Olivia Operator (MFG-B)", "Cleanroom B", "in_manufacturing"),
    (250.0, "stage", "Quinn QC (MFG-B)", "QC lab", "in_qc"),
    (400.0, "stage", "Amara Approver (MFG-B)", "LN2 dry shipper store", "released"),
    (420.0, "handoff", "Cryoport (K. Patel)", "LN2 dry shipper", "shipped"),
]
assert len(CHAIN) == EVENTS


def _events(order: Any, n_events: int, w: World) -> list[Any]:
    """`n_events` custody events for `order` (the 12-step chain, repeated handoffs past it)."""
    from vein2vein.chain.models import CustodyEvent

    ended = order.stability_deadline - dt.timedelta(hours=48)
    out: list[Any] = []
    prev_custodian, prev_location = "", ""
    for seq in range(1, n_events + 1):
        hours, kind, custodian, location, status = CHAIN[min(seq, EVENTS) - 1]
        if seq > EVENTS:
            hours += seq - EVENTS
            custodian, location = f"Clinic courier {seq}", f"Van {seq}"
        at = ended + dt.timedelta(hours=hours)
        scanned = "" if kind in ("collected", "stage") else order.coi
        out.append(
            CustodyEvent(
                order_id=order.pk,
                seq=seq,
                kind=kind,
                item="Apheresis bag" if seq <= 9 else f"CD19-CART product {order.coi}",
                from_custodian=prev_custodian,
                from_location=prev_location,
                to_custodian=custodian,
                to_location=location,
                occurred_at=at,
                recorded_at=at + dt.timedelta(minutes=2 if seq % 4 else 45),
                temperature_c=Decimal("4.5") if seq <= 9 else Decimal("-180.0"),
                scanned_text=scanned,
                matched="COI identifier" if scanned else "",
                status_after=status,
                recorded_by_id=w.operator.pk,
                site_id=(w.aph if seq <= 2 else w.mfg).pk,
            )
        )
        prev_custodian, prev_location = custodian, location
    return out


def build(w: World, first: int, last: int, n_events: int = EVENTS) -> None:
    """Orders number `first` .. `last - 1`, with everything their timeline reads."""
    from django.db import transaction

    from vein2vein.chain.models import (
        Collection,
        CustodyEvent,
        Patient,
        Receipt,
        SlotBooking,
        TherapyOrder,
    )

    for lo in range(first, last, CHUNK):
        hi = min(lo + CHUNK, last)
        with transaction.atomic():
            patients = Patient.objects.bulk_create(
                [
                    Patient(
                        site=w.clinic,
                        site_patient_id=f"P-{i:07d}",
                        given_name="Bench",
                        family_name=f"Patient {i}",
                        date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=i % 20000),
                        weight_kg=Decimal("70.0"),
                        diagnosis="Relapsed DLBCL",
                        consent_status="consented",
                        consent_date=dt.date(2025, 1, 10),
                        enrolled_by=w.clinician,
                        enrolled_at=START,
                    )
                    for i in range(lo, hi)
                ],
                batch_size=1000,
            )
            orders = []
            for i, p in zip(range(lo, hi), patients, strict=True):
                ended = START + dt.timedelta(minutes=7 * i)
                _, _, custodian, location, status = CHAIN[min(n_events, EVENTS) - 1]
                orders.append(
                    TherapyOrder(
                        coi=f"CH{FIN_MFG}25{i:06d}",
                        patient=p,
                        product=w.product,
                        treating_physician="Dr. Rivera",
                        requested_collection_date=ended.date(),
                        ordering_site=w.clinic,
                        collection_site=w.aph,
                        manufacturing_site=w.mfg,
                        status=status,
                        ordered_by=w.clinician,
                        ordered_at=ended - dt.timedelta(days=10),
                        current_custodian=custodian if n_events <= EVENTS else "Clinic courier",
                        current_location=location if n_events <= EVENTS else "Van",
                        last_event_seq=n_events,
                        stability_deadline=ended + dt.timedelta(hours=48),
                        manufacturing_started_at=(
                            ended + dt.timedelta(hours=10) if n_events >= 9 else None
                        ),
                    )
                )
            orders = TherapyOrder.objects.bulk_create(orders, batch_size=1000)
            Collection.objects.bulk_create(
                [
                    Collection(
                        order=o,
                        site=w.aph,
                        din=f"{FIN_APH}25{i:06d}",
                        started_at=o.stability_deadline - dt.timedelta(hours=51),
                        ended_at=o.stability_deadline - dt.timedelta(hours=48),
                        time_zone=w.aph.time_zone,
                        volume_ml=Decimal("250.0"),
                        anticoagulant="ACD-A",
                        wbc_10e9_per_l=Decimal("12.50"),
                        recorded_by=w.clinician,
                        recorded_at=o.stability_deadline - dt.timedelta(hours=47),
                    )
                    for i, o in zip(range(lo, hi), orders, strict=True)
                ],
                batch_size=1000,
            )
            SlotBooking.objects.bulk_create(
                [
                    SlotBooking(
                        order=o,
                        site=w.mfg,
                        day=o.requested_collection_date,
                        status="used",
                        booked_by=w.clinician,
                        booked_at=o.ordered_at,
                    )
                    for o in orders
                ],
                batch_size=1000,
            )
            if n_events >= 7:
                Receipt.objects.bulk_create(
                    [
                        Receipt(
                            order=o,
                            site=w.mfg,
                            received_by=w.operator,
                            received_at=o.stability_deadline - dt.timedelta(hours=39.5),
                            scans=[f"={FIN_APH}25{i:06d}00", f"&/{o.coi}", "=#00********"],
                            matched=["DIN", "COI identifier", "patient date of birth"],
                            arrival_temperature_c=Decimal("5.0"),
                            logger_serial=f"TL-{i}",
                            logger_min_c=Decimal("3.1"),
                            logger_max_c=Decimal("6.2"),
                            temperature_ok=True,
                            decision="accepted",
                        )
                        for i, o in zip(range(lo, hi), orders, strict=True)
                    ],
                    batch_size=1000,
                )
            CustodyEvent.objects.bulk_create(
                [e for o in orders for e in _events(o, n_events, w)], batch_size=2000
            )


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def order_pk(coi_number: int) -> int:
    from vein2vein.chain.models import TherapyOrder

    return TherapyOrder.objects.values_list("pk", flat=True).get(
        coi=f"CH{FIN_MFG}25{coi_number:06d}"
    )


def readers(w: World) -> dict[str, Callable[[int], Any]]:
    from django.test import Client

    from vein2vein.chain import selectors
    from vein2vein.chain.api import _order, timeline_out

    client = Client()

    def selector(pk: int) -> Any:
        order = selectors.order_for(w.operator, pk)
        assert order is not None
        v2v = selectors.vein_to_vein(order)
        assert v2v["timeline"], pk
        return v2v

    def serializer(pk: int) -> Any:
        return timeline_out(w.operator, _order(w.operator, pk)).model_dump_json()

    def http(pk: int) -> Any:
        response = client.get(f"/api/v1/chain/orders/{pk}/timeline", secure=True, **w.auth)
        assert response.status_code == 200, response.content[:300]
        return response.content

    return {"selector": selector, "serializer": serializer, "HTTP": http}


def queries(read: Callable[[int], Any], pk: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        read(pk)
    return len(ctx.captured_queries)


def median_ms(read: Callable[[int], Any], pks: list[int], reps: int) -> float:
    for pk in pks:  # warm up: connection, statement caches, the pages of these orders
        read(pk)
    samples = []
    for r in range(reps):
        pk = pks[r % len(pks)]
        start = time.perf_counter()
        read(pk)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def sample(n_orders: int, k: int = 50) -> list[int]:
    """`k` orders spread evenly over the first `n_orders` (the newest included)."""
    step = max(n_orders // k, 1)
    return [order_pk(i) for i in range(step // 2, n_orders, step)][:k]


def measure(
    label: str, w: World, n_orders: int, reps: int, extra: dict[int, int]
) -> tuple[dict[str, float], dict[str, dict[int, int]]]:
    analyze()
    pks = sample(n_orders)
    out: dict[str, float] = {}
    counts: dict[str, dict[int, int]] = {}
    for name, read in readers(w).items():
        counts[name] = {n: queries(read, pk) for n, pk in extra.items()}
        counts[name][EVENTS] = queries(read, pks[len(pks) // 2])
        out[name] = median_ms(read, pks, reps)
    print(f"  {label}: {n_orders:,} orders x {EVENTS} events")
    for name in out:
        per = ", ".join(f"{n} events: {q}" for n, q in sorted(counts[name].items()))
        print(f"    {name + ':':<12} median {out[name]:7.2f} ms   queries ({per})")
    return out, counts


def main(small: int, large: int, reps: int) -> int:
    if not 0 < small < large < ONE_EVENT:
        raise SystemExit(f"need 0 < SMALL < LARGE < {ONE_EVENT:,}")
    where = _setup.configure()

    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, as in the test suite

    w = World()
    print(f"timeline benchmark on {where}")
    with _setup.timer() as t_small:
        build(w, 0, small)
        # Two more orders to show the query count does not follow the number of events.
        build(w, ONE_EVENT, ONE_EVENT + 1, n_events=1)
        build(w, MANY_EVENTS, MANY_EVENTS + 1, n_events=48)
    print(f"  built {small:,} orders ({small * EVENTS:,} events) in {t_small[0]:.1f} s")
    extra = {1: order_pk(ONE_EVENT), 48: order_pk(MANY_EVENTS)}
    first, counts_small = measure("small", w, small, reps, extra)

    with _setup.timer() as t_large:
        build(w, small, large)
    rate = (large - small) * EVENTS / t_large[0]
    print(
        f"  grew to {large:,} orders ({large * EVENTS:,} events) in {t_large[0]:.1f} s "
        f"({rate:,.0f} events/s)"
    )
    second, counts_large = measure("large", w, large, reps, extra)

    failed = False
    print("  ratio large / small (limit 2.0 x):")
    for name in first:
        ratio = second[name] / first[name]
        flat = len(set(counts_small[name].values()) | set(counts_large[name].values())) == 1
        failed |= ratio > LIMIT_RATIO or not flat
        print(
            f"    {name + ':':<12} {first[name]:7.2f} ms -> {second[name]:7.2f} ms = "
            f"{ratio:4.2f} x; queries {'constant' if flat else 'GROW'} "
            f"({counts_large[name][EVENTS]} per read)"
        )
    print(f"  peak RSS: {_setup.peak_rss_mb():.0f} MB")
    if failed:
        print("FAILED: a read grew by more than 2x or its query count grew with the events")
    return 1 if failed else 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    sys.exit(main(*(args + [1000, 100_000, 300][len(args) :])))

"""The main pages and API lists at demo size and after the plant has grown to N orders.

    .venv/bin/python benchmarks/scale.py [N [REPS]]
        (default N = 50 orders, so `make bench` takes a few minutes; the issue's target is
        N = 5000; REPS = 7 timed reads of each page, after one untimed warm-up read)

On a throw-away database (_setup.py: SQLite, or PostgreSQL when DATABASE_URL points at it) it
loads the demo with `vein2vein simulate --orders 0 --history-days D` (the demo on the
simulated clock D days back, room for N orders at 80 a day, its completed batch complete),
then logs the demo's QA reviewer in (Rita Reyes sees every page measured; a login writes no
audit event, so the history can still follow the demo). It times each page and API list
below through Django's test client (the whole middleware stack, the session, the template or
the JSON), REPS times, and takes the median and the query count of a read. Then it grows the
plant with `vein2vein simulate --orders N` (every order through the real services, its batch
completed, 80 orders a simulated day), ANALYZEs the tables as autovacuum would, and times the
same pages again: the same objects (the demo's completed batch LUH-1008 and its order).

Passwords are hashed with MD5 here, as in the test suite: the demo's people sign every sign-off
and verification with their password, and Argon2 (the production hasher, about 0.12 s a check,
some 33 checks a batch) would be half the simulation's time while costing the pages nothing.
`vein2vein simulate` itself keeps the configured hasher.

It prints, for each page, the median at demo size and at N, their ratio, the query count both
times and whether the page meets the issue's goal (at N = 5000: under 300 ms and at most 1.5x
its demo-size time), then the peak RSS. It exits non-zero when a page does not answer 200 or
a query count grows with N (an N+1, or a list read whole), never on a time.
"""

from __future__ import annotations

import io
import math
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import _setup

QUICK_N = 50
TARGET_N = 5000
REPS = 7
GOAL_MS = 300.0
GOAL_RATIO = 1.5
READER = "qa"  # Rita Reyes, QA reviewer at MFG-PHL: she sees every page measured


@dataclass
class Figure:
    """One page read REPS times: the median wall time and the queries of one read."""

    status: int
    median_ms: float
    queries: int


def pages() -> list[tuple[str, str]]:
    """(label, URL) of every page measured, filled from the demo's objects."""
    from vein2vein.manufacturing.demo import COMPLETED
    from vein2vein.manufacturing.models import Batch

    batch = Batch.objects.select_related("order").get(order__patient__site_patient_id=COMPLETED)
    assert batch.order is not None
    b, o = batch.pk, batch.order.pk
    return [
        ("dashboard", "/"),
        ("batch list", "/manufacturing/"),
        ("batch detail", f"/manufacturing/batches/{b}/"),
        ("batch review", f"/manufacturing/batches/{b}/review/"),
        ("order list", "/chain/"),
        ("order timeline", f"/chain/orders/{o}/"),
        ("lot list", "/materials/"),
        ("stock report", "/materials/reports/stock/"),
        ("deviation list", "/quality/"),
        ("training matrix", "/training/matrix/"),
        ("audit trail", "/audit/"),
        ("equipment list", "/equipment/"),
        ("document list", "/documents/"),
        ("API batches", "/api/v1/manufacturing/batches"),
        ("API batch", f"/api/v1/manufacturing/batches/{b}"),
        ("API batch review", f"/api/v1/manufacturing/batches/{b}/review"),
        ("API orders", "/api/v1/chain/orders"),
        ("API timeline", f"/api/v1/chain/orders/{o}/timeline"),
        ("API lots", "/api/v1/materials/lots"),
        ("API low stock", "/api/v1/materials/low-stock"),
        ("API deviations", "/api/v1/quality/deviations"),
        ("API training matrix", "/api/v1/training/matrix"),
        ("API audit events", "/api/v1/audit/events"),
        ("API equipment", "/api/v1/equipment/units"),
        ("API documents", "/api/v1/documents"),
    ]


def measure(client: Any, url: str, reps: int) -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up: caches, the first compilation of the template
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    queries = len(captured)  # now: the next request's reset_queries empties the log it reads
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - start)
    return Figure(response.status_code, statistics.median(times) * 1000, queries)


def measure_all(client: Any, urls: list[tuple[str, str]], reps: int) -> dict[str, Figure]:
    return {label: measure(client, url, reps) for label, url in urls}


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def counts() -> str:
    from vein2vein.chain.models import TherapyOrder
    from vein2vein.core.models import AuditEvent
    from vein2vein.manufacturing.models import Batch, StepEntry

    return (
        f"{TherapyOrder.objects.count():,} orders, {Batch.objects.count():,} batches "
        f"({Batch.objects.filter(status='completed').count():,} completed), "
        f"{StepEntry.objects.count():,} step entries, {AuditEvent.objects.count():,} audit events"
    )


class _Progress(io.TextIOBase):
    """The simulation's lines, indented and flushed as they come (a long run shows progress)."""

    def write(self, text: str) -> int:
        sys.stdout.write("".join(f"  {line}" for line in text.splitlines(keepends=True)))
        sys.stdout.flush()
        return len(text)


def simulate(orders: int, *options: str) -> None:
    """`vein2vein simulate --orders N`, its progress, rate and peak RSS printed as it goes."""
    from django.core.management import call_command

    call_command("simulate", "--orders", str(orders), *options, stdout=_Progress())


def cheap_hashing() -> None:
    """MD5 first, as tests/conftest.py does (its cache cleared by the setting_changed signal)."""
    from django.conf import settings
    from django.test.utils import override_settings

    fast = "django.contrib.auth.hashers.MD5PasswordHasher"
    override_settings(PASSWORD_HASHERS=[fast, *settings.PASSWORD_HASHERS]).enable()


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else QUICK_N
    reps = int(argv[2]) if len(argv) > 2 else REPS
    where = _setup.configure()
    cheap_hashing()
    print(f"scale: {where}; N = {n:,} orders, {reps} timed reads a page (median)", flush=True)

    from django.test import Client

    from vein2vein.core.models import User
    from vein2vein.manufacturing.management.commands.simulate import PER_DAY

    start = time.perf_counter()
    # The demo far enough back for N orders at PER_DAY a day (and a day to spare) to follow.
    simulate(0, "--history-days", str(math.ceil(n / PER_DAY) + 3))
    user = User.objects.get(username=READER)
    analyze()
    print(f"demo loaded in {time.perf_counter() - start:.0f} s: {counts()}", flush=True)
    client = Client()
    client.force_login(user)
    urls = pages()
    small = measure_all(client, urls, reps)
    rss_small = _setup.peak_rss_mb()

    print(f"growing to {n:,} orders through `vein2vein simulate`:", flush=True)
    with _setup.timer() as t:
        simulate(n)
    analyze()
    print(f"grown in {t[0]:.0f} s ({n / t[0]:.2f} orders/s): {counts()}")
    large = measure_all(client, urls, reps)

    return report(urls, small, large, n, rss_small)


def report(
    urls: list[tuple[str, str]],
    small: dict[str, Figure],
    large: dict[str, Figure],
    n: int,
    rss_small: float,
) -> int:
    at = f"N={n:,}"
    print()
    print(f"  {'page':<22} {'demo ms':>8} {at + ' ms':>11} {'ratio':>6} {'queries':>11}  goal")
    failures: list[str] = []
    misses = 0
    for label, url in urls:
        s, g = small[label], large[label]
        ratio = g.median_ms / s.median_ms if s.median_ms else float("inf")
        goal = g.median_ms < GOAL_MS and ratio <= GOAL_RATIO
        misses += not goal
        verdict = "ok" if goal else "MISSED"
        if g.queries > s.queries:
            verdict += f"  queries grow ({s.queries} -> {g.queries})"
            failures.append(
                f"{label} ({url}): {s.queries} queries at demo size, {g.queries} at {at}"
            )
        if s.status != 200 or g.status != 200:
            verdict += f"  HTTP {s.status}/{g.status}"
            failures.append(f"{label} ({url}): HTTP {s.status} at demo size, {g.status} at {at}")
        print(
            f"  {label:<22} {s.median_ms:8.1f} {g.median_ms:11.1f} {ratio:5.2f}x "
            f"{s.queries:5} {g.queries:5}  {verdict}"
        )
    scope = (
        "the issue's target" if n >= TARGET_N else f"measured at {at}; the target is {TARGET_N:,}"
    )
    print()
    print(
        f"  goal: each page < {GOAL_MS:.0f} ms at N={TARGET_N:,} and <= {GOAL_RATIO}x its "
        f"demo-size time ({scope}): {len(urls) - misses}/{len(urls)} pages meet it"
    )
    print(f"  peak RSS: {rss_small:.0f} MB at demo size, {_setup.peak_rss_mb():.0f} MB at the end")
    for line in failures:
        print(f"  FAIL: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Shared set-up for the benchmarks: Django on a throw-away database, migrated.

SQLite by default (a fresh file in a temporary directory, with the project's own SQLite
options); when DATABASE_URL points at PostgreSQL, a throw-away database is created next to
the named one and dropped at exit, so a benchmark never touches real data.
"""

from __future__ import annotations

import atexit
import os
import resource
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def configure() -> str:
    """Configure and set up Django, migrate a fresh database; returns a one-line description."""
    tmp = tempfile.mkdtemp(prefix="v2v-bench-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ["VEIN2VEIN_DATA_DIR"] = tmp
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.pop("VEIN2VEIN_DEBUG", None)  # DEBUG would keep every query in memory
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "vein2vein.settings"
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0, interactive=False)
        where = f"SQLite {connection.settings_dict['NAME']}"
    else:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"v2v_bench_{os.getpid()}"
        old_name = connection.settings_dict["NAME"]
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        atexit.register(_drop, old_name)
        where = f"{connection.vendor} database {name} (dropped at exit)"
    return where


def _drop(old_name: str) -> None:
    from django.db import connection

    connection.close()
    connection.creation.destroy_test_db(old_name, verbosity=0)


def installation():  # type: ignore[no-untyped-def]
    """The first site and administrator, made through the bootstrap service."""
    from vein2vein.core.services import bootstrap_installation

    return bootstrap_installation(
        site_code="BENCH",
        site_name="Benchmark site",
        site_kind="manufacturing",
        time_zone="UTC",
        username="bench-admin",
        full_name="Bench Admin",
        password=secrets.token_urlsafe(16) + "Aa1!",
        must_change_password=False,
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


@contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t: ...` then t[0] is the elapsed wall time in seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def report(label: str, rate: float, seconds: float) -> None:
    print(f"  {label + ':':<34} {rate:10,.0f} events/s  ({seconds:.2f} s)")


def ratio(label: str, value: float) -> None:
    print(f"  {label + ':':<34} {value:10.1f} x")


def env_int(name: str, quick: int) -> int:
    """An integer from the environment (full-size runs), or the quick default of `make bench`."""
    return int(os.environ.get(name) or quick)


class DriverLimit:
    """The fair physical limit: rows written with the driver itself (psycopg or sqlite3), one
    INSERT and one COMMIT per row, the durability of one user action, on a new connection with
    the project's own connection options (SQLite: WAL, synchronous=NORMAL, BEGIN IMMEDIATE).

    The rows go into a scratch copy of their table with the same indexes (PostgreSQL:
    `LIKE ... INCLUDING ALL`; SQLite: the table's and indexes' own CREATE statements), so the
    real table is not touched; values are converted for the database before the timing.
    `time(rows)` may be called in rounds between the service's own rounds, so that the two
    rates meet the same load on a machine shared with other work; `seconds` sums the rounds.
    """

    def __init__(self, model: Any) -> None:
        from django.db import connection

        self.model = model
        table = model._meta.db_table
        self.scratch = f"bench_limit_{table}"
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.raw = connection.get_new_connection(connection.get_connection_params())
        self.vendor = connection.vendor
        self.seconds = 0.0
        self.rows = 0
        cur = self.raw.cursor()
        if self.vendor == "sqlite":
            self.raw.isolation_level = None  # explicit BEGIN IMMEDIATE ... COMMIT, as Django does
            cur.execute(f'DROP TABLE IF EXISTS "{self.scratch}"')
            cur.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                "AND type IN ('table', 'index') "
                "ORDER BY type = 'index'",
                [table],
            )
            for (sql,) in cur.fetchall():
                sql = sql.replace(f'"{table}"', f'"{self.scratch}"')
                sql = sql.replace('INDEX "', 'INDEX "bl_')
                cur.execute(sql)
            marks = ", ".join("?" * len(self.fields))
        else:
            self.raw.autocommit = False
            cur.execute(f'DROP TABLE IF EXISTS "{self.scratch}"')
            cur.execute(f'CREATE TABLE "{self.scratch}" (LIKE "{table}" INCLUDING ALL)')
            self.raw.commit()
            marks = ", ".join(["%s"] * len(self.fields))
        self.insert = f'INSERT INTO "{self.scratch}" ({columns}) VALUES ({marks})'

    def time(self, objs: list[Any]) -> float:
        """Write `objs` (rows of the model) one INSERT + COMMIT each; returns the seconds."""
        from django.db import connection

        values = [
            [f.get_db_prep_save(getattr(o, f.attname), connection) for f in self.fields]
            for o in objs
        ]
        cur = self.raw.cursor()
        start = time.perf_counter()
        if self.vendor == "sqlite":
            for row in values:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(self.insert, row)
                cur.execute("COMMIT")
        else:
            for row in values:
                cur.execute(self.insert, row)
                self.raw.commit()
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self.rows += len(values)
        return elapsed

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    def close(self) -> None:
        cur = self.raw.cursor()
        cur.execute(f'DROP TABLE "{self.scratch}"')
        if self.vendor != "sqlite":
            self.raw.commit()
        self.raw.close()


def physical_limit(objs: list[Any]) -> float:
    """Rows/s of `objs` written by `DriverLimit` in one go."""
    limit = DriverLimit(type(objs[0]))
    try:
        limit.time(objs)
        return limit.rate
    finally:
        limit.close()


ROUNDS = 5
"""Service and limit are timed in alternating rounds (the load of other work meets both)."""


def limit_ratio(label: str, rate: float, limit: float) -> None:
    """A service rate as a fraction of the physical limit (the issue's goal is >= 0.5)."""
    verdict = "ok" if rate / limit >= 0.5 else "below the 0.5 goal"
    print(f"  {label + ' / limit:':<34} {rate / limit:10.2f}    ({verdict})")


PASSWORD = secrets.token_urlsafe(12) + "Aa1!"
COA = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def person(site: Any, username: str, *roles: str) -> Any:
    """A user with `roles` at `site` (written directly: set-up, not what is measured)."""
    import datetime as dt

    from vein2vein.core.models import RoleAssignment, User

    user = User.objects.create(username=username, full_name=f"Bench {username}")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    for role in roles:
        RoleAssignment.objects.create(
            user=user, site=site, role=role, granted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        )
    return user


def material_lots(site: Any, part: str, count: int, *, release: bool) -> tuple[list[Any], Any]:
    """`count` lots of a new material `part` from an approved supplier, received through the
    materials services (released too when `release`); returns (lots, the QC user)."""
    import datetime as dt

    from django.core.files.uploadedfile import SimpleUploadedFile

    from vein2vein.core.time import now
    from vein2vein.materials import services as materials

    qa = person(site, f"qa-{part}", "qa_reviewer")
    qc = person(site, f"qc-{part}", "qc_analyst")
    goods_in = person(site, f"in-{part}", "logistics")
    today = now().date()
    supplier = materials.create_supplier(
        actor=qa,
        name=f"Supplier of {part}",
        status="approved",
        qualification_date=today - dt.timedelta(days=100),
        reevaluation_due=today + dt.timedelta(days=300),
        contact="qa@example.org",
    )
    material = materials.create_material(
        actor=qa,
        part_number=part,
        name=f"Bench reagent {part}",
        kind="reagent",
        unit="vial",
        storage_condition="2_8c",
    )
    materials.approve_supplier_for_material(
        actor=qa, material_id=material.pk, supplier_id=supplier.pk
    )
    inspected = dict.fromkeys(
        ("packaging_intact", "labels_match", "temperature_ok", "coa_matches"), True
    )
    lots = []
    for i in range(count):
        lot = materials.receive_lot(
            actor=goods_in,
            site_id=site.pk,
            material_id=material.pk,
            supplier_id=supplier.pk,
            supplier_lot=f"{part}-{i:06d}",
            quantity="100000",
            expiry_date=today + dt.timedelta(days=200),
            location="Bench fridge",
            inspection=inspected,
            coa_file=SimpleUploadedFile(f"coa-{i}.pdf", COA),
        )
        if release:
            lot = materials.release_lot(actor=qc, lot_id=lot.pk, password=PASSWORD, reason="CoA ok")
        lots.append(lot)
    return lots, qc


LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"


def throwaway_postgres(prefix: str = "v2v_bench") -> str:
    """A new, empty PostgreSQL database `<prefix>_<pid>` next to the one DATABASE_URL names
    (the local test server when DATABASE_URL is unset or not PostgreSQL), dropped at exit;
    returns its URL. The named database is only connected to (to create and drop the new
    one), never written."""
    import urllib.parse

    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = LOCAL_POSTGRES
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop_postgres, url, name)
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


def _drop_postgres(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_peaks_mb(master_pid: int) -> dict[int, float]:
    """Peak RSS (VmHWM from /proc, MB) of each live child of `master_pid`: gunicorn's workers."""
    from pathlib import Path

    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return {}
    peaks: dict[int, float] = {}
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # the worker exited between the two reads
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[int(pid)] = int(line.split()[1]) / 1024
    return peaks

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

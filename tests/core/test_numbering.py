"""core.numbering: the one allocator of record numbers. Sequential, per scope, per year in the
site's zone, safe under concurrent writers (PostgreSQL), and the data migrations that retired
the apps' own counters carry their last values over so no number is issued twice."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connection, transaction

from vein2vein.core import numbering
from vein2vein.core.errors import Conflict
from vein2vein.core.models import NumberSequence, Site

pytestmark = pytest.mark.django_db

NEW_YEARS_EVE = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def berlin(make_site) -> Site:  # type: ignore[no-untyped-def]
    return make_site(code="MFG-BER", time_zone="Europe/Berlin")


@pytest.fixture
def new_york(make_site) -> Site:  # type: ignore[no-untyped-def]
    return make_site(code="MFG-NYC", time_zone="America/New_York")


def _take(key: str, times: int = 1, **kw: Any) -> list[numbering.Allocated]:
    with transaction.atomic():
        return [numbering.allocate(key, **kw) for _ in range(times)]


def test_numbers_are_sequential_per_key(berlin: Site) -> None:
    at = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    assert _take("DEV", 3, site=berlin, yearly=True, at=at) == [(2026, 1), (2026, 2), (2026, 3)]
    assert _take("CAPA", site=berlin, yearly=True, at=at) == [(2026, 1)]
    assert _take("SOP", 2, site=None, yearly=False) == [(0, 1), (0, 2)]
    assert set(NumberSequence.objects.values_list("key", "scope", "year", "last")) == {
        ("DEV", "", 2026, 3),
        ("CAPA", "", 2026, 1),
        ("SOP", "", 0, 2),
    }


def test_each_scope_counts_on_its_own(berlin: Site, new_york: Site) -> None:
    at = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    for s in (berlin, berlin, new_york, berlin):
        _take("B", site=s, yearly=True, scope=s.code, at=at)
    assert dict(NumberSequence.objects.filter(key="B").values_list("scope", "last")) == {
        "MFG-BER": 3,
        "MFG-NYC": 1,
    }
    # One count across sites: the scope is '' whichever site's zone gives the year.
    assert [n for _, n in _take("LOT", site=berlin, yearly=True, at=at)] == [1]
    assert [n for _, n in _take("LOT", site=new_york, yearly=True, at=at)] == [2]


def test_the_year_is_the_sites_year_east_of_utc_it_is_already_next_year(berlin: Site) -> None:
    """23:30 UTC on 31 December is 00:30 on 1 January in Berlin: next year's count, from 1."""
    _take("DEV", 2, site=berlin, yearly=True, at=NEW_YEARS_EVE - dt.timedelta(hours=2))
    assert _take("DEV", site=berlin, yearly=True, at=NEW_YEARS_EVE) == [(2027, 1)]
    assert numbering.year_at(berlin, NEW_YEARS_EVE) == 2027


def test_the_year_is_the_sites_year_west_of_utc_it_is_still_this_year(new_york: Site) -> None:
    """23:30 UTC on 31 December is 18:30 the same day in New York: still this year's count."""
    _take("DEV", 2, site=new_york, yearly=True, at=NEW_YEARS_EVE - dt.timedelta(hours=2))
    assert _take("DEV", site=new_york, yearly=True, at=NEW_YEARS_EVE) == [(2026, 3)]
    assert _take("DEV", site=new_york, yearly=True, at=NEW_YEARS_EVE + dt.timedelta(hours=6)) == [
        (2027, 1)
    ]


def test_the_year_defaults_to_now_at_the_site(berlin: Site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("vein2vein.core.numbering.now", lambda: NEW_YEARS_EVE)
    assert _take("LOT", site=berlin, yearly=True) == [(2027, 1)]


def test_a_rollback_gives_the_number_back(berlin: Site) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        numbering.allocate("KIT", site=berlin, yearly=True)
        raise RuntimeError("the record was refused")
    assert [n for _, n in _take("KIT", site=berlin, yearly=True)] == [1]


def test_a_maximum_refuses_rather_than_overflow(berlin: Site) -> None:
    _take("DIN", 2, site=berlin, yearly=True, scope="B2345", maximum=2)
    with pytest.raises(Conflict, match="used up"), transaction.atomic():
        numbering.allocate("DIN", site=berlin, yearly=True, scope="B2345", maximum=2)
    assert NumberSequence.objects.get(key="DIN").last == 2


def test_refusals_of_misuse(berlin: Site) -> None:
    with pytest.raises(ValueError, match="needs the site"), transaction.atomic():
        numbering.allocate("DEV", site=None, yearly=True)
    with pytest.raises(ValueError, match="too long"), transaction.atomic():
        numbering.allocate("X" * 41, site=None, yearly=False)
    assert not NumberSequence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses(berlin: Site) -> None:
    """Autocommit would release the row lock at once: two writers could share a number."""
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        numbering.allocate("DEV", site=berlin, yearly=True)
    assert not NumberSequence.objects.exists()


def test_hold_locks_without_advancing() -> None:
    with transaction.atomic():
        numbering.hold("SOP", site=None, yearly=False)
    assert NumberSequence.objects.get(key="SOP").last == 0
    assert _take("SOP", site=None, yearly=False) == [(0, 1)]


# --- concurrency (PostgreSQL) -----------------------------------------------------------------

THREADS = 8
EACH = 25


@pytest.mark.xdist_group("concurrency")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_a_number(berlin: Site) -> None:
    """Eight threads, each on its own connection, race for a key that has no row yet (the
    first-writer race) and then keep allocating: every number 1..200 is handed out once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the SQLite test database is in memory, one connection")
    from django.db import connections

    start = threading.Barrier(THREADS)
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(EACH):
                with transaction.atomic():
                    _, n = numbering.allocate("RACE", site=berlin, yearly=True)
                with lock:
                    got.append(n)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(got) == list(range(1, THREADS * EACH + 1))
    assert NumberSequence.objects.get(key="RACE").last == THREADS * EACH


# --- the data migrations that retired the apps' counters ---------------------------------------

MIGRATIONS = {
    ("quality", "NumberSequence"): "vein2vein.quality.migrations.0002_number_sequence_to_core",
    ("materials", "NumberSequence"): "vein2vein.materials.migrations.0002_number_sequence_to_core",
    ("manufacturing", "NumberSequence"): (
        "vein2vein.manufacturing.migrations.0002_number_sequence_to_core"
    ),
    ("chain", "IdentifierSequence"): "vein2vein.chain.migrations.0002_identifier_sequence_to_core",
    ("documents", "DocumentNumberCounter"): (
        "vein2vein.documents.migrations.0003_number_counter_to_core"
    ),
}

OLD_ROWS: dict[tuple[str, str], list[tuple[Any, ...]]] = {
    ("quality", "NumberSequence"): [("DEV", 2026, 14), ("CAPA", 2026, 3), ("DEV", 2025, 40)],
    ("materials", "NumberSequence"): [("LOT", 2026, 120), ("KIT", 2026, 7)],
    ("manufacturing", "NumberSequence"): [("B-MFG-PHL", 2026, 9), ("B-MFG-BCN", 2026, 2)],
    ("chain", "IdentifierSequence"): [("coi", "B2345", "26", 5), ("din", "C3456", "26", 11)],
    ("documents", "DocumentNumberCounter"): [("SOP", 12), ("MBR", 3)],
}

IN_CORE = {
    ("DEV", "", 2026, 14),
    ("CAPA", "", 2026, 3),
    ("DEV", "", 2025, 40),
    ("LOT", "", 2026, 120),
    ("KIT", "", 2026, 7),
    ("B", "MFG-PHL", 2026, 9),
    ("B", "MFG-BCN", 2026, 2),
    ("COI", "B2345", 2026, 5),
    ("DIN", "C3456", 2026, 11),
    ("SOP", "", 0, 12),
    ("MBR", "", 0, 3),
}


class _OldRows:
    """Stands in for a retired model's manager: values_list gives the rows it held."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.rows = list(rows)
        self.written: list[dict[str, Any]] = []

    def values_list(self, *fields: str) -> list[tuple[Any, ...]]:
        return self.rows

    def update_or_create(self, defaults: dict[str, Any], **keys: Any) -> None:
        self.written.append({**keys, **defaults})


class _Apps:
    """The historical app registry a migration receives: the retired model is the stand-in,
    core's NumberSequence the real table."""

    def __init__(self, old: tuple[str, str], rows: _OldRows) -> None:
        self.old, self.model = old, type("Old", (), {"_default_manager": rows})

    def get_model(self, app: str, name: str) -> Any:
        return self.model if (app, name) == self.old else NumberSequence


def _carry(module: str) -> Any:
    """The migration's RunPython (its first operation), checked to be the retirement."""
    migration = importlib.import_module(module).Migration
    carry, delete = migration.operations
    assert ("core", "0004_shared_integrity_tables") in migration.dependencies
    assert type(delete).__name__ == "DeleteModel"
    return carry


def test_each_migration_carries_the_last_values_over() -> None:
    for old, module in MIGRATIONS.items():
        _carry(module).code(_Apps(old, _OldRows(OLD_ROWS[old])), None)
    assert set(NumberSequence.objects.values_list("key", "scope", "year", "last")) == IN_CORE


def test_numbers_continue_after_the_carry_over(make_site) -> None:  # type: ignore[no-untyped-def]
    phl = make_site(code="MFG-PHL", time_zone="America/New_York")
    old = ("manufacturing", "NumberSequence")
    _carry(MIGRATIONS[old]).code(_Apps(old, _OldRows(OLD_ROWS[old])), None)
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert _take("B", site=phl, yearly=True, scope="MFG-PHL", at=at) == [(2026, 10)]


def test_the_carry_over_never_lowers_a_counter() -> None:
    """Run twice, or after core already counted further: the higher value stays."""
    NumberSequence.objects.create(key="DEV", scope="", year=2026, last=20)
    rows = [("DEV", "", 2026, 14), ("DEV", "", 2027, 1)]
    assert numbering.carry_over(NumberSequence, rows) == 1
    assert numbering.carry_over(NumberSequence, rows) == 0
    assert set(NumberSequence.objects.values_list("key", "year", "last")) == {
        ("DEV", 2026, 20),
        ("DEV", 2027, 1),
    }


def test_each_migration_copies_the_counters_back_when_reversed() -> None:
    for old, module in MIGRATIONS.items():
        _carry(module).code(_Apps(old, _OldRows(OLD_ROWS[old])), None)
    back: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for old, module in MIGRATIONS.items():
        rows = _OldRows([])
        _carry(module).reverse_code(_Apps(old, rows), None)
        back[old] = rows.written
    assert sorted(back[("quality", "NumberSequence")], key=str) == sorted(
        [
            {"prefix": "DEV", "year": 2026, "last": 14},
            {"prefix": "CAPA", "year": 2026, "last": 3},
            {"prefix": "DEV", "year": 2025, "last": 40},
        ],
        key=str,
    )
    assert {r["prefix"] for r in back[("materials", "NumberSequence")]} == {"LOT", "KIT"}
    assert {r["prefix"] for r in back[("manufacturing", "NumberSequence")]} == {
        "B-MFG-PHL",
        "B-MFG-BCN",
    }
    assert sorted(back[("chain", "IdentifierSequence")], key=str) == [
        {"kind": "coi", "fin": "B2345", "year": "26", "last": 5},
        {"kind": "din", "fin": "C3456", "year": "26", "last": 11},
    ]
    assert sorted(back[("documents", "DocumentNumberCounter")], key=str) == [
        {"prefix": "MBR", "last_number": 3},
        {"prefix": "SOP", "last_number": 12},
    ]

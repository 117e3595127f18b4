"""Row locks never deadlock against the audit chain.

A service locks its rows first and takes the chain's lock at its first append. Another writer
may already hold the chain and, at its COMMIT, run the deferred foreign-key checks of the rows
it inserted: each takes FOR KEY SHARE on the row referenced. FOR UPDATE conflicts with that,
and with joined rows in the query it also locks the site, material or patient rows every
record shares: the two writers wait for each other (seen as 500s under benchmarks/load.py).
FOR NO KEY UPDATE OF the queried table only does not conflict with KEY SHARE.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from django.db import OperationalError, connection, models, transaction

import vein2vein
from tests.equipment.factories import register
from vein2vein.core import audit
from vein2vein.core.choices import Role
from vein2vein.core.models import Site, User
from vein2vein.equipment.models import Equipment
from vein2vein.equipment.services import _common as equipment_rows

SRC = Path(vein2vein.__file__).parent


def _lock_arguments(call: ast.Call) -> dict[str, str]:
    return {k.arg or "**": ast.unparse(k.value) for k in call.keywords}


def test_every_row_lock_is_no_key_and_of_its_own_table() -> None:
    """The rule for every later app: `select_for_update(no_key=True, of=("self",))`."""
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "select_for_update"
                and _lock_arguments(node) != {"no_key": "True", "of": "('self',)"}
            ):
                wrong.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert wrong == []


def test_the_lock_rule_test_sees_a_plain_lock(tmp_path: Path) -> None:
    """The guard above is not vacuous: a bare select_for_update() is reported."""
    tree = ast.parse("Lot.objects.select_for_update().get(pk=1)")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    locks = [c for c in calls if getattr(c.func, "attr", "") == "select_for_update"]
    assert len(locks) == 1 and _lock_arguments(locks[0]) == {}


@pytest.mark.xdist_group("concurrency")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("referenced", [Site, Equipment], ids=["its site", "the unit"])
def test_a_locked_unit_does_not_deadlock_a_writer_holding_the_chain(
    make_user, site: Site, referenced: type[models.Model]
) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks")
    supervisor: User = make_user(Role.SUPERVISOR, username="super1")
    unit = register(supervisor, site)
    row = site.pk if referenced is Site else unit.pk
    locked = threading.Event()
    outcome: dict[str, str] = {}

    def equipment_writer() -> None:
        try:
            with transaction.atomic():
                equipment_rows.equipment(unit.equipment_id, lock=True)
                locked.set()
                audit._lock_chain()  # waits for the writer below to commit
            outcome["equipment writer"] = "committed"
        except OperationalError as exc:
            outcome["equipment writer"] = str(exc)
        finally:
            locked.set()
            connection.close()

    thread = threading.Thread(target=equipment_writer)
    with transaction.atomic():
        audit._lock_chain()
        thread.start()
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '10s'")
            # What the deferred foreign-key check of a row referencing `row` takes at COMMIT.
            table, key = referenced._meta.db_table, referenced._meta.pk.column
            cursor.execute(
                f"SELECT 1 FROM {connection.ops.quote_name(table)} "
                f"WHERE {connection.ops.quote_name(key)} = %s FOR KEY SHARE",
                [row],
            )
    thread.join(timeout=30)
    assert outcome == {"equipment writer": "committed"}

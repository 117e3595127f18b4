"""Acceptance: 8 processes x 500 audited writes in parallel on PostgreSQL: 4,000 events,
chain verifies.

Eight real OS processes, each with its own Django and its own database connection to the
test database, correct their own site 500 times through `update_site`. The appends race for
the chain's head; the advisory lock in `append_event` must serialise them so that no seq is
lost or duplicated and every link holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from vein2vein.core import services
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent

PROCESSES = 8
WRITES = 500
TIMEOUT_S = 600

# Each child: set up Django on the test database, say "ready", wait for "go", then write.
CHILD = """
import sys
import django

django.setup()

from django.db import connection
from vein2vein.core import services
from vein2vein.core.models import User

site_id, actor_id, writes = (int(a) for a in sys.argv[1:4])
actor = User.objects.get(pk=actor_id)
connection.ensure_connection()
print("ready", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit(3)
for i in range(writes):
    name = f"{site_id} {'AB'[i % 2]}"
    services.update_site(actor=actor, site_id=site_id, reason=f"write {i}", name=name)
print("done", flush=True)
"""


def _database_url() -> str:
    """The test database (not the configured one) as a DATABASE_URL for the children."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


def _runs(labels: list[str]) -> int:
    """How many stretches of consecutive equal labels: 8 means the writers took turns whole."""
    return sum(1 for i, label in enumerate(labels) if i == 0 or labels[i - 1] != label)


@pytest.mark.xdist_group("concurrency")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_processes_times_500_audited_writes(admin_user, tmp_path: Path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the SQLite test database is in memory, one process only")

    sites = [
        services.create_site(
            actor=admin_user,
            code=f"CONC-{i}",
            name=f"Concurrent {i}",
            kind="manufacturing",
            time_zone="UTC",
        )
        for i in range(PROCESSES)
    ]
    before = AuditEvent.objects.count()
    assert verify_chain().ok

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "vein2vein.settings",
        "VEIN2VEIN_DATA_DIR": str(tmp_path),
        # The writers seal with the same key as this process verifies with (ADR 0002).
        "VEIN2VEIN_AUDIT_KEY_FILE": str(settings.AUDIT_SEAL_KEY_FILE),
        "CONN_MAX_AGE": "600",
    }
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(site.pk), str(admin_user.pk), str(WRITES)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for site in sites
    ]
    try:
        for child in children:  # all set up and connected before anyone writes
            line = child.stdout.readline()  # type: ignore[union-attr]
            assert line.strip() == "ready", child.communicate(timeout=TIMEOUT_S)[1][-3000:]
        started = time.perf_counter()
        for child in children:
            child.stdin.write("go\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
        outcomes = [child.communicate(timeout=TIMEOUT_S) for child in children]
        elapsed = time.perf_counter() - started
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (out, err) in zip(children, outcomes, strict=True):
        assert child.returncode == 0, err[-3000:]
        assert out.strip() == "done"

    total = before + PROCESSES * WRITES
    print(
        f"\n{PROCESSES} x {WRITES} audited writes in {elapsed:.1f} s "
        f"({PROCESSES * WRITES / elapsed:.0f} events/s)"
    )
    assert AuditEvent.objects.count() == total
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))  # contiguous, none lost, none doubled

    result = verify_chain()
    assert result.ok, result.problem
    assert result.count == total

    new = list(
        AuditEvent.objects.filter(seq__gt=before)
        .order_by("seq")
        .values_list("record_id", "action", "changes")
    )
    assert {action for _, action, _ in new} == {"site.updated"}
    for site in sites:
        names = [c["name"]["new"] for rid, _, c in new if rid == str(site.pk)]
        # Each process's own writes are in the chain in the order it made them.
        assert names == [f"{site.pk} {'AB'[i % 2]}" for i in range(WRITES)]
    # The writers really ran at the same time: their events interleave in the chain.
    assert _runs([rid for rid, _, _ in new]) > PROCESSES

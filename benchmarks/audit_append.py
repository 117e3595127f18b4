"""Audit append rate: events/s through a real service, through append_event, and bulk.

    .venv/bin/python benchmarks/audit_append.py [N]   (default $BENCH_AUDIT_N or 500; full 5000)

Three figures from one run on one fresh database (SQLite file, or PostgreSQL when
DATABASE_URL says so):
  service  - N corrections through core.services.update_site, one transaction each
             (permission check, row lock, site UPDATE, chain lock, audit INSERT, commit);
  append   - N calls of core.audit.append_event, each in its own transaction.atomic();
  bulk     - the same N service events' content re-chained and written with
             AuditEvent.objects.bulk_create in one transaction: the database's raw rate.
  release  - N/10 lot releases through materials.services.release_lot (password check,
             signature, lot UPDATE, audit events; one transaction each), twice: as deployed
             (the signer's password checked with the configured Argon2id, docs/adr/0003), and
             with the signer's password hashed with a fast hasher (MD5PasswordHasher under
             override_settings: the same authenticate + lockout + signature path, without the
             memory-hard hash). The Argon2 check alone is timed on its own line: a memory-hard
             hash (19 MiB, by design) cannot approach an INSERT, so the release's ratio to the
             limit is given without it; its parameters are ADR 0003's;
  limit    - the fair physical limit: the service's own audit rows written with the driver
             (psycopg or sqlite3) into a scratch copy of the table, one INSERT and one COMMIT
             each (the durability of one user action). Service, append, fast-hasher release
             and limit are timed in 5 alternating rounds, so all meet the same load of a
             shared machine. Each service rate is printed as a
             fraction of it (goal >= 0.5); bulk_create is information only.
"""

from __future__ import annotations

import sys

import _setup

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


def main(n: int) -> None:
    where = _setup.configure()

    from django.contrib.auth.hashers import check_password
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext, override_settings

    from vein2vein.core import audit, sealing, services
    from vein2vein.core.models import AuditEvent
    from vein2vein.materials.services import release_lot
    from vein2vein.standards.audit_chain import event_hash

    site, admin = _setup.installation()
    releases = max(n // 10, 10)
    fast_lots, fast_qc = _setup.material_lots(site, "MAT-FAST", releases, release=False)
    with override_settings(PASSWORD_HASHERS=[FAST_HASHER]):
        fast_qc.set_password(_setup.PASSWORD)
        fast_qc.save(update_fields=["password"])

    # Rounds: a slice of service calls, the driver writing the rows that slice wrote, a slice
    # of bare appends and of releases (fast hasher), so that all meet the same load.
    limit = _setup.DriverLimit(AuditEvent)
    service_rows: list[AuditEvent] = []
    t_service = t_append = t_fast = 0.0
    for r in range(_setup.ROUNDS):
        calls = range(r * n // _setup.ROUNDS, (r + 1) * n // _setup.ROUNDS)
        before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        with _setup.timer() as t:
            for i in calls:
                services.update_site(
                    actor=admin,
                    site_id=site.pk,
                    reason=f"benchmark correction {i}",
                    name=f"Benchmark site {'AB'[i % 2]}",
                )
        t_service += t[0]
        rows = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
        assert len(rows) == len(calls)
        service_rows += rows
        limit.time(rows)
        with _setup.timer() as t:
            for i in calls:
                with transaction.atomic():
                    audit.append_event(
                        actor=admin,
                        action="bench.appended",
                        record=site,
                        changes={"counter": {"old": i, "new": i + 1}},
                        reason=f"benchmark append {i}",
                    )
        t_append += t[0]
        # The same releases as below with the signer's password under a fast hasher:
        # everything but the memory-hard hash (authenticate, the lockout check, the signature).
        part = fast_lots[r * releases // _setup.ROUNDS : (r + 1) * releases // _setup.ROUNDS]
        with override_settings(PASSWORD_HASHERS=[FAST_HASHER]), _setup.timer() as t:
            for lot in part:
                release_lot(actor=fast_qc, lot_id=lot.pk, password=_setup.PASSWORD, reason="CoA ok")
        t_fast += t[0]
    limit.close()
    limit_rate = limit.rate

    # The same rows the service wrote, re-numbered and re-linked after the current head,
    # prepared outside the timing so only the INSERTs are measured.
    head = AuditEvent.objects.order_by("-seq").first()
    assert head is not None
    seq, prev_hash = head.seq, head.hash
    copies = []
    for row in service_rows:
        seq += 1
        copy = AuditEvent(
            seq=seq,
            occurred_at=row.occurred_at,
            actor_id=row.actor_id,
            actor_username=row.actor_username,
            action=row.action,
            record_type=row.record_type,
            record_id=row.record_id,
            changes=row.changes,
            reason=row.reason,
            prev_hash=prev_hash,
        )
        copy.hash = prev_hash = event_hash(copy.hashed_content())
        copy.seal = sealing.seal(copy.hash)
        copies.append(copy)

    with _setup.timer() as t_bulk, transaction.atomic():
        AuditEvent.objects.bulk_create(copies, batch_size=1000)

    # The releases as deployed: the signer's password checked with the configured Argon2id
    # (docs/adr/0003), then that check alone.
    lots, qc = _setup.material_lots(site, "MAT-BENCH", releases, release=False)
    with _setup.timer() as t_release:
        for lot in lots:
            release_lot(actor=qc, lot_id=lot.pk, password=_setup.PASSWORD, reason="CoA ok")
    qc.refresh_from_db()
    with _setup.timer() as t_argon2:
        for _ in range(releases):
            assert check_password(_setup.PASSWORD, qc.password)

    # The queries of one call of each (constant: none reads more as the trail grows).
    counts = {}
    with CaptureQueriesContext(connection) as ctx:
        services.update_site(actor=admin, site_id=site.pk, reason="count", name="Counted site")
    counts["update_site"] = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        audit.append_event(actor=admin, action="bench.counted", record=site, reason="count")
    counts["append_event"] = len(ctx.captured_queries)
    (count_lot,), _ = _setup.material_lots(site, "MAT-COUNT", 1, release=False)
    with override_settings(PASSWORD_HASHERS=[FAST_HASHER]):
        fast_qc.refresh_from_db()
        with CaptureQueriesContext(connection) as ctx:
            release_lot(
                actor=fast_qc, lot_id=count_lot.pk, password=_setup.PASSWORD, reason="CoA ok"
            )
    counts["lot release"] = len(ctx.captured_queries)

    result = audit.verify_chain()
    assert result.ok, result.problem
    release_rate = releases / t_release[0]
    fast_release_rate = releases / t_fast
    argon2_rate = releases / t_argon2[0]

    service_rate = n / t_service
    append_rate = n / t_append
    bulk_rate = n / t_bulk[0]
    print(f"audit append benchmark, N = {n:,} events each, on {where}")
    _setup.report("service (update_site, 1 tx/event)", service_rate, t_service)
    _setup.report("append_event (1 tx/event)", append_rate, t_append)
    _setup.report(f"lot release + signature (N={releases})", release_rate, t_release[0])
    _setup.report("  the same, fast hasher", fast_release_rate, t_fast)
    _setup.report("  Argon2 password check alone", argon2_rate, t_argon2[0])
    _setup.report("limit (driver, 1 INSERT+COMMIT)", limit_rate, n / limit_rate)
    _setup.report("bulk_create (1 tx, same rows)", bulk_rate, t_bulk[0])
    _setup.limit_ratio("service (update_site)", service_rate, limit_rate)
    _setup.limit_ratio("append_event", append_rate, limit_rate)
    _setup.limit_ratio("lot release, without Argon2", fast_release_rate, limit_rate)
    print(
        f"  {'lot release with Argon2 / limit:':<34} {release_rate / limit_rate:10.2f}    "
        "(excluded from the goal: the Argon2 check is memory-hard by design, docs/adr/0003)"
    )
    _setup.ratio("info: bulk / service", bulk_rate / service_rate)
    _setup.ratio("info: bulk / append_event", bulk_rate / append_rate)
    print(
        "  queries per call (BEGIN and COMMIT included): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    print(f"  chain verifies: {result.count:,} events")
    print(f"  peak RSS: {_setup.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else _setup.env_int("BENCH_AUDIT_N", 500))

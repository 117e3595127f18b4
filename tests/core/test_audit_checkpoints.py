"""Signed head checkpoints, the seal, TRUNCATE, and Signature rows (ADR 0002).

Each hole was proved open before: the last event deleted on SQLite still verified; a chain
rewritten from event k with recomputed hashes verified; a Signature row could be edited
unseen. Each test tampers with raw SQL, as someone with database access would.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from tests.conftest import PASSWORD
from vein2vein.core import services
from vein2vein.core.audit import verify_chain
from vein2vein.core.checkpoints import log_path, take_checkpoint
from vein2vein.core.migrations._audit_triggers import SQLITE_DROP
from vein2vein.core.models import AuditCheckpoint, AuditEvent, Signature, User
from vein2vein.standards.audit_chain import event_hash

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def history(admin_user: User, reviewable_site) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    for n in range(4):
        services.update_site(
            actor=admin_user, site_id=reviewable_site.pk, reason=f"r{n}", name=f"Name {n}"
        )
    assert verify_chain().ok
    return list(AuditEvent.objects.order_by("seq"))


@pytest.fixture
def tamper(history):  # type: ignore[no-untyped-def]
    """Raw UPDATE/DELETE let through for this test's transaction only."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_DROP:
                cursor.execute(statement)
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _sql(query: str, params: list[object]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.rowcount


def test_a_checkpoint_is_signed_kept_twice_and_is_itself_an_audit_event(
    history, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cp = take_checkpoint(occasion="manual")
    head = history[-1]
    assert (cp.seq, cp.head_hash) == (head.seq, head.hash)
    assert len(cp.mac) == 64 and cp.key_id
    assert AuditEvent.objects.order_by("-seq").first().action == "audit.checkpoint"  # type: ignore[union-attr]
    lines = log_path().read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [cp.seq]
    assert verify_chain().ok


def test_the_command_takes_a_checkpoint(history):
    out = io.StringIO()
    call_command("audit", "checkpoint", stdout=out)
    assert f"checkpoint at #{history[-1].seq}" in out.getvalue()
    assert AuditCheckpoint.objects.filter(occasion="manual").count() == 1


def test_the_periodic_task_takes_a_checkpoint(history):
    from vein2vein.core.tasks import take_audit_checkpoint

    assert take_audit_checkpoint.delay().get()["seq"] == history[-1].seq
    assert AuditCheckpoint.objects.get().occasion == "periodic"


def test_a_tail_deletion_is_named_from_the_checkpoint(history, tamper):
    take_checkpoint(occasion="manual")
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    cut_from = last.seq - 2
    assert _sql(f"DELETE FROM {TABLE} WHERE seq >= %s", [cut_from]) == 3
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("deleted", cut_from), problem
    assert f"#{cut_from} to #{last.seq - 1}" in problem.detail


def test_a_tail_deletion_is_named_even_when_the_checkpoint_rows_are_deleted_too(
    history, tamper, django_capture_on_commit_callbacks
):
    """The copy outside the database still knows how long the chain was."""
    with django_capture_on_commit_callbacks(execute=True):
        take_checkpoint(occasion="manual")
    AuditCheckpoint.objects.all().delete()
    head = history[-1].seq
    _sql(f"DELETE FROM {TABLE} WHERE seq >= %s", [head])
    problem = verify_chain().problem
    assert problem is not None and (problem.kind, problem.seq) == ("deleted", head)


def test_a_rewrite_from_event_k_with_recomputed_hashes_is_named_at_k(history, tamper):
    k = 3
    prev_hash = AuditEvent.objects.get(seq=k - 1).hash
    for event in AuditEvent.objects.filter(seq__gte=k).order_by("seq"):
        if event.seq == k:
            event.reason = "rewritten by someone with database access"
        event.prev_hash = prev_hash
        event.hash = event_hash(event.hashed_content())
        _sql(
            f"UPDATE {TABLE} SET reason = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            [event.reason, event.prev_hash, event.hash, event.seq],
        )
        prev_hash = event.hash
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", k), problem


def test_a_chain_replaced_with_new_seals_is_caught_by_the_checkpoint(history, tamper):
    """Even with the key, a replaced event differs from what a checkpoint recorded."""
    from vein2vein.core import sealing

    cp = take_checkpoint(occasion="manual")
    event = AuditEvent.objects.get(seq=cp.seq)
    event.reason = "replaced"
    event.hash = event_hash(event.hashed_content())
    _sql(
        f"UPDATE {TABLE} SET reason = %s, hash = %s, seal = %s WHERE seq = %s",
        ["replaced", event.hash, sealing.seal(event.hash), cp.seq],
    )
    # Relink the checkpoint's own event so that only the checkpoint can tell.
    nxt = AuditEvent.objects.get(seq=cp.seq + 1)
    nxt.prev_hash = event.hash
    nxt.hash = event_hash(nxt.hashed_content())
    _sql(
        f"UPDATE {TABLE} SET prev_hash = %s, hash = %s, seal = %s WHERE seq = %s",
        [nxt.prev_hash, nxt.hash, sealing.seal(nxt.hash), nxt.seq],
    )
    problem = verify_chain().problem
    assert problem is not None and (problem.kind, problem.seq) == ("edited", cp.seq), problem
    assert "checkpoint" in problem.detail


def test_a_forged_checkpoint_is_named(history):
    cp = take_checkpoint(occasion="manual")
    AuditCheckpoint.objects.filter(pk=cp.pk).update(seq=cp.seq + 50)
    problem = verify_chain().problem
    assert problem is not None and problem.kind == "checkpoint", problem


def test_truncate_is_refused_on_postgresql(history):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE trigger is tested in test_audit_chain")
    _sql("SET CONSTRAINTS ALL IMMEDIATE", [])  # no pending FK checks: the trigger answers
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), transaction.atomic():
        _sql(f"TRUNCATE {TABLE} CASCADE", [])
    assert AuditEvent.objects.count() == len(history)


@pytest.mark.parametrize("statement", ["UPDATE {t} SET reason = 'x'", "DELETE FROM {t}"])
def test_update_and_delete_are_refused_on_both_databases(history, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql(statement.format(t=TABLE), [])
    assert AuditEvent.objects.count() == len(history)
    assert verify_chain().ok


# --- Signature rows ---------------------------------------------------------------------


@pytest.fixture
def signed(history, qa_reviewer, reviewable_site) -> Signature:  # type: ignore[no-untyped-def]
    sig = services.sign_record(
        actor=qa_reviewer, record=reviewable_site, meaning="reviewed", password=PASSWORD
    )
    assert verify_chain().ok
    return sig


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signer_name", "Somebody Else"),
        ("meaning", "approved"),
        ("signed_at", "2020-01-01 00:00:00+00:00"),
        ("content_hash", "0" * 64),
        ("reason", "added later"),
    ],
)
def test_a_signature_row_edited_in_the_database_is_detected(signed, field, value):
    Signature.objects.filter(pk=signed.pk).update(**{field: value})
    problem = verify_chain().problem
    assert problem is not None and problem.kind == "signature", problem
    assert field.split("_")[0] in problem.detail or field in problem.detail
    assert f"signature #{signed.pk}" in problem.detail


def test_a_signature_row_moved_to_another_signer_is_detected(signed, admin_user):
    Signature.objects.filter(pk=signed.pk).update(signer=admin_user)
    problem = verify_chain().problem
    assert problem is not None and "signer" in problem.detail


def test_a_deleted_signature_row_is_detected(signed):
    Signature.objects.filter(pk=signed.pk).delete()
    problem = verify_chain().problem
    assert problem is not None and problem.kind == "signature"
    assert "deleted" in problem.detail


def test_a_signature_row_added_without_its_event_is_detected(signed):
    Signature.objects.create(
        signer=signed.signer,
        signer_name=signed.signer_name,
        meaning="approved",
        record_type=signed.record_type,
        record_id=signed.record_id,
        content_hash=signed.content_hash,
        signed_at=signed.signed_at,
        time_zone=signed.time_zone,
    )
    problem = verify_chain().problem
    assert problem is not None and "has no audit event" in problem.detail

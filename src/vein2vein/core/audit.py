"""The audit trail: append hash-chained events, compute field-level changes, verify the chain.

Only services call `append_event`, inside their own transaction, so a write and its audit
event commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models import signals

from vein2vein.standards.audit_chain import GENESIS_HASH, HASHED_FIELDS, event_hash

from . import sealing
from .models import AuditEvent, Signature, User
from .time import now

# Any 64-bit constant: the PostgreSQL advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x7665696E32766569  # "vein2vei"

SYSTEM_ACTOR = "system"


def record_ref(record: models.Model | tuple[str, str]) -> tuple[str, str]:
    """('app_label.model', 'pk') for a model instance, or the pair as given."""
    if isinstance(record, tuple):
        return record
    return f"{record._meta.app_label}.{record._meta.model_name}", str(record.pk)


def jsonable(value: Any) -> Any:
    """A value as stored in `changes`: str, int, bool, None, or lists and objects of those, so
    it hashes the same everywhere."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date | dt.time | decimal.Decimal | uuid.UUID | float):
        return str(value) if not isinstance(value, dt.date) else value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):  # a JSONField: kept as an object, not its repr
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of `instance` as JSON-able values (FKs by their id)."""
    out: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        out[name] = jsonable(getattr(instance, attname))
    return out


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level changes {'field': {'old': ..., 'new': ...}} for the fields that differ."""
    return {
        k: {"old": before.get(k), "new": after.get(k)}
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


def created(after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"old": None, "new": v} for k, v in sorted(after.items())}


def _lock_chain() -> None:
    """Serialise appenders. SQLite is already serialised by BEGIN IMMEDIATE (settings)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


_TABLE = AuditEvent._meta.db_table
_INSERTED = tuple(f for f in AuditEvent._meta.concrete_fields if not f.primary_key)


# The two statements below are built from the model's own table and column names, quoted by
# the backend; every value is a bound parameter.
def _head_sql() -> str:
    qn = connection.ops.quote_name
    return f"SELECT {qn('seq')}, {qn('hash')} FROM {qn(_TABLE)} ORDER BY {qn('seq')} DESC LIMIT 1"  # noqa: S608


def _locked_head() -> tuple[int, str]:
    """Take the chain's lock, then read its head (seq, hash): the lock first, in a statement of
    its own, so the head is read after every earlier appender has committed."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        cursor.execute(_head_sql())
        last = cursor.fetchone()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)


def _insert(event: AuditEvent) -> None:
    """INSERT the event as Model.save(force_insert=True) would (the same values, prepared by
    the fields, the same refusal of an unsaved actor, the same pre_save / post_save signals),
    without compiling the statement through the ORM on every append: the chain's hot path."""
    qn = connection.ops.quote_name
    event._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    signals.pre_save.send(
        sender=AuditEvent, instance=event, raw=False, using=connection.alias, update_fields=None
    )
    values = [f.get_db_prep_save(f.pre_save(event, True), connection) for f in _INSERTED]
    sql = (
        f"INSERT INTO {qn(_TABLE)} ({', '.join(qn(f.column) for f in _INSERTED)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(_INSERTED))})"
    )
    pk = AuditEvent._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(f"{sql} RETURNING {qn(pk.column)}", values)
            event.pk = cursor.fetchone()[0]
        else:  # pragma: no cover - every supported database returns columns
            cursor.execute(sql, values)
            event.pk = connection.ops.last_insert_id(cursor, _TABLE, pk.column)
    event._state.adding = False
    event._state.db = connection.alias
    signals.post_save.send(
        sender=AuditEvent,
        instance=event,
        created=True,
        update_fields=None,
        raw=False,
        using=connection.alias,
    )


def append_event(
    *,
    actor: User | None,
    action: str,
    record: models.Model | tuple[str, str],
    changes: Mapping[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event to the chain. Must run inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("append_event must run inside transaction.atomic()")
    record_type, record_id = record_ref(record)
    head_seq, prev_hash = _locked_head()
    event = AuditEvent(
        seq=head_seq + 1,
        occurred_at=now(),
        actor=actor,
        actor_username=actor.get_username() if actor is not None else SYSTEM_ACTOR,
        action=action,
        record_type=record_type,
        record_id=record_id,
        changes=jsonable_changes(changes or {}),
        reason=reason,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(hashed_content(event))
    event.seal = sealing.seal(event.hash)
    _insert(event)
    return event


def jsonable_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(k): {kk: jsonable(vv) for kk, vv in v.items()}
        if isinstance(v, Mapping)
        else jsonable(v)
        for k, v in changes.items()
    }


def hashed_content(event: AuditEvent) -> dict[str, Any]:
    return _content({f: getattr(event, f) for f in HASHED_FIELDS})


def record_blocked_attempt(
    *,
    actor: User | None,
    action: str,
    record: models.Model | tuple[str, str],
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Record a refused attempt (an interlock), in its own transaction, after the rollback."""
    with transaction.atomic():
        return append_event(
            actor=actor,
            action=f"{action}.blocked",
            record=record,
            changes={"blocked": {"old": None, "new": reason}, **(details or {})},
            reason=reason,
        )


# --- verification -------------------------------------------------------------------------

_VERIFY_FIELDS = ("seq", *HASHED_FIELDS, "hash", "seal")


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # edited | deleted | inserted | reordered | signature | checkpoint
    detail: str

    def __str__(self) -> str:
        return f"event #{self.seq} {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    count: int
    head_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _rows(chunk_size: int) -> Iterator[dict[str, Any]]:
    qs = AuditEvent.objects.order_by("seq").values(*_VERIFY_FIELDS)
    yield from qs.iterator(chunk_size=chunk_size)


def _content(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event as they were hashed (the time in canonical UTC form)."""
    return {f: jsonable(row[f]) if f == "occurred_at" else row[f] for f in HASHED_FIELDS}


def _seq_of_hash(value: str) -> int | None:
    return AuditEvent.objects.filter(hash=value).values_list("seq", flat=True).first()


def _classify(
    prev: Mapping[str, Any] | None,
    before_prev_hash: str | None,
    row: Mapping[str, Any],
    nxt: Mapping[str, Any] | None,
) -> Problem | None:
    """Why `row` does not follow `prev`, or None. Only called on each event once; cheap."""
    expected_prev = prev["hash"] if prev else GENESIS_HASH
    expected_seq = prev["seq"] + 1 if prev else 1
    links = row["prev_hash"] == expected_prev
    content_ok = event_hash(_content(row)) == row["hash"]
    if links and content_ok and row["seq"] == expected_seq:
        return None
    seq = row["seq"]
    # A later event's hash is what this one links to: two events changed places.
    if not links:
        linked = _seq_of_hash(row["prev_hash"])
        if linked is not None and linked > seq:
            return Problem(seq, "reordered", f"links to event #{linked}, which comes after it")
    # The next event links straight over this one: it was put in afterwards.
    if nxt is not None and nxt["prev_hash"] == expected_prev and nxt["prev_hash"] != row["hash"]:
        return Problem(seq, "inserted", "the next event links past it to the one before")
    if not content_ok:
        return Problem(seq, "edited", "its content no longer matches its hash")
    if not links:
        if (
            prev is not None
            and before_prev_hash is not None
            and row["prev_hash"] == before_prev_hash
        ):
            return Problem(prev["seq"], "inserted", f"event #{seq} links past it to the one before")
        linked = _seq_of_hash(row["prev_hash"])
        if linked is None:
            missing = f"#{expected_seq}" if seq == expected_seq + 1 else "before it"
            return Problem(seq, "deleted", f"the event it links to ({missing}) is gone")
        return Problem(seq, "reordered", f"links to event #{linked}, not to #{expected_seq - 1}")
    # Links and content are intact: only the number was changed.
    return Problem(
        seq, "edited", f"numbered #{seq} where #{expected_seq} was expected (renumbered)"
    )


def _seal_problem(row: Mapping[str, Any], sealed_before: bool) -> Problem | None:
    """An event whose links and hash are intact but whose seal is wrong was edited and
    re-hashed by someone without the key: the chain may be rewritten from here on."""
    if not row["seal"]:
        if sealed_before:
            return Problem(
                row["seq"],
                "inserted",
                "it has no seal, as the events before it do: the application did not write it",
            )
        return None
    if not sealing.matches(sealing.seal(row["hash"]), row["seal"]):
        return Problem(
            row["seq"],
            "edited",
            "its hash was recomputed: its seal no longer matches (rewritten from here on)",
        )
    return None


def verify_chain(
    *, chunk_size: int = 2000, checkpoints: bool = True, signatures: bool = True
) -> VerifyResult:
    """Walk the whole chain in seq order in constant memory; stop at the first bad event.

    Then compare it with the signed head checkpoints (a chain cut short or replaced after a
    checkpoint), and every Signature row with the audit event that recorded it.
    """
    from .checkpoints import CheckpointWalk

    walk = CheckpointWalk() if checkpoints else None
    prev: dict[str, Any] | None = None
    before_prev_hash: str | None = None
    sealed = False
    count = 0
    rows = _rows(chunk_size)
    row = next(rows, None)
    while row is not None:
        nxt = next(rows, None)
        problem = _classify(prev, before_prev_hash, row, nxt)
        if problem is not None:
            if prev is not None and problem.seq == prev["seq"]:
                # The event before this row is the culprit (inserted with a valid hash):
                # it was not verified after all, and the chain is good up to the one before.
                return VerifyResult(count - 1, before_prev_hash or GENESIS_HASH, problem)
            return VerifyResult(count, prev["hash"] if prev else GENESIS_HASH, problem)
        problem = _seal_problem(row, sealed) or (walk.at(row) if walk else None)
        if problem is not None:
            return VerifyResult(count, prev["hash"] if prev else GENESIS_HASH, problem)
        sealed = sealed or bool(row["seal"])
        before_prev_hash = prev["hash"] if prev else GENESIS_HASH
        prev, row = row, nxt
        count += 1
    head = prev["hash"] if prev else GENESIS_HASH
    problem = walk.after_head(prev["seq"] if prev else 0) if walk else None
    if problem is None and signatures:
        problem = verify_signature_rows(chunk_size=chunk_size)
    return VerifyResult(count, head, problem)


_SIGNATURE_FIELDS = ("signer_name", "signed_at", "time_zone")


def _signature_problem(sig: Signature, event: AuditEvent | None) -> Problem | None:
    if event is None:
        return Problem(0, "signature", f"signature #{sig.pk} has no audit event recording it")
    ch = event.changes
    recorded = {
        "signer": event.actor_id,
        "record": (event.record_type, event.record_id),
        "meaning": ch.get("meaning", {}).get("new"),
        "content_hash": ch.get("content_hash", {}).get("new"),
        "reason": event.reason,
    }
    stored = {
        "signer": sig.signer_id,
        "record": (sig.record_type, sig.record_id),
        "meaning": sig.meaning,
        "content_hash": sig.content_hash,
        "reason": sig.reason,
    }
    for name in _SIGNATURE_FIELDS:  # recorded since ADR 0002; older events lack them
        if name in ch:
            recorded[name] = ch[name].get("new")
            stored[name] = jsonable(getattr(sig, name))
    differ = [k for k in recorded if recorded[k] != stored[k]]
    if differ:
        return Problem(
            event.seq,
            "signature",
            f"signature #{sig.pk} differs from the event that recorded it: {', '.join(differ)}",
        )
    return None


def verify_signature_rows(*, chunk_size: int = 2000) -> Problem | None:
    """Every Signature row against the audit event that recorded it, and every recorded
    signature still present; in chunks, so memory does not grow with history."""
    last = 0
    while True:
        sigs = list(Signature.objects.filter(pk__gt=last).order_by("pk")[:chunk_size])
        if not sigs:
            break
        events = {
            e.changes["signature"]["new"]: e
            for e in AuditEvent.objects.filter(
                action__startswith="signature.",
                changes__signature__new__in=[s.pk for s in sigs],
            )
        }
        for sig in sigs:
            problem = _signature_problem(sig, events.get(sig.pk))
            if problem is not None:
                return problem
        last = sigs[-1].pk
    last_seq = 0
    while True:
        recorded = list(
            AuditEvent.objects.filter(
                action__startswith="signature.", changes__has_key="signature", seq__gt=last_seq
            )
            .order_by("seq")
            .values_list("seq", "changes")[:chunk_size]
        )
        if not recorded:
            return None
        pks = {c["signature"]["new"] for _, c in recorded}
        present = set(Signature.objects.filter(pk__in=pks).values_list("pk", flat=True))
        for seq, changes in recorded:
            if changes["signature"]["new"] not in present:
                return Problem(
                    seq, "signature", f"signature #{changes['signature']['new']} was deleted"
                )
        last_seq = recorded[-1][0]

"""Executing the batch record: one entry per step, in the MBR's order, behind every interlock.

Each interlock blocks and is recorded (DESIGN.md rule 6): a step out of order, an operator not
qualified for it, a lot not usable, equipment not usable or of the wrong kind, a COI mismatch,
a timer limit broken, a verifier who is the performer. Checks that record their own refusal
(training, materials, equipment, identity) run before this module's transaction, so the record
of the refusal is not rolled back; the state they depend on is checked again under the batch's
row lock.

What a kind of step adds (its input, its own interlocks, its writes inside the step's
transaction) is its handler's in `step_kinds/`; `record_step` runs every step through the same
checks and calls the handler's phases in order.

An entry is never changed. A correction is a new entry that supersedes the old one (whose
status alone moves to 'superseded', audited), with a reason; the verifier signs again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, InterlockBlocked, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require, roles_checked_once
from vein2vein.core.services import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.equipment.models import Usage
from vein2vein.equipment.services import end_usage
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation
from vein2vein.training.services import is_qualified, require_qualified

from ..choices import CURRENT, BatchStatus, EntryFlag, EntryStatus, StepKind
from ..models import Batch, StepEntry
from ..permissions import MfgPerm
from . import _common as c
from .batches import BATCH_REF
from .step_kinds import ACTION, HANDLERS, Attempt, Prepared, StepInput

# --- reading the batch ---------------------------------------------------------------------


def _step(b: Batch, step_key: object) -> dict[str, Any]:
    key = c.text(step_key, "step_key", max_length=60)
    try:
        return c.step(b.master_record, key)
    except KeyError:
        raise NotFound(
            f"step {key!r} is not in {b.master_record.document_version}", field="step_key"
        ) from None


def current_entries(b: Batch) -> dict[str, StepEntry]:
    """The current (not superseded) entry of each recorded step."""
    return {
        e.step_key: e for e in StepEntry.objects.filter(batch=b, status__in=CURRENT).order_by("seq")
    }


def _waiting_for(step: dict[str, Any], entries: dict[str, StepEntry]) -> list[str]:
    """Predecessors of `step` that are not done (recorded and, where needed, verified)."""
    return [
        key
        for key in step["after"]
        if key not in entries or entries[key].status != EntryStatus.DONE
    ]


# --- the interlocks ------------------------------------------------------------------------


def _require_in_progress(actor: User, b: Batch, step_key: str) -> None:
    if b.status != BatchStatus.IN_PROGRESS:
        why = f" ({b.hold_reason})" if b.status == BatchStatus.ON_HOLD and b.hold_reason else ""
        raise c.refuse(
            actor=actor,
            action=ACTION,
            record=b,
            message=f"batch {b.number} is {b.get_status_display().lower()}{why}: no step can "
            "be recorded",
            field="batch_id",
            details={"step": step_key},
        )


def _require_in_order(
    actor: User, b: Batch, step: dict[str, Any], entries: dict[str, StepEntry]
) -> None:
    if step["key"] in entries:
        raise Conflict(
            f"step {step['key']!r} is already recorded (entry #{entries[step['key']].seq}); "
            "correct that entry instead",
            field="step_key",
        )
    waiting = _waiting_for(step, entries)
    if waiting:
        raise c.refuse(
            actor=actor,
            action=ACTION,
            record=b,
            message=f"step {step['key']!r} is out of order: first finish "
            + ", ".join(
                f"{k!r} (awaiting verification)" if k in entries else repr(k) for k in waiting
            ),
            field="step_key",
            details={"step": step["key"], "waiting_for": waiting},
        )


def _performed_at(
    b: Batch, entries: dict[str, StepEntry], step: dict[str, Any], value: object
) -> dt.datetime:
    """Now, or a stated earlier time for a late entry: not before the batch started, not before
    the steps it follows, not in the future."""
    if value in (None, ""):
        return now()
    when = c.moment(value, "performed_at", not_after=now())
    floor = max([b.started_at] + [entries[k].performed_at for k in step["after"] if k in entries])
    if when < floor:
        raise ValidationFailed(
            f"performed_at {c.utc(when)} is before the batch started or a step this one "
            f"follows ({c.utc(floor)})",
            field="performed_at",
        )
    return when


# --- writing -------------------------------------------------------------------------------


def _write_entry(
    *,
    actor: User,
    b: Batch,
    step: dict[str, Any],
    p: Prepared,
    comment: str,
    at: dt.datetime,
    corrects: StepEntry | None = None,
    correction_reason: str = "",
) -> StepEntry:
    """Inside the caller's transaction with the batch locked: the entry and its deviation; the
    batch's sequence moves on. The caller writes the audit event (`_record_entry_event`) once
    the entry is complete."""
    b.last_seq += 1
    b.save(update_fields=["last_seq"])
    needs_verification = bool(step.get("verify"))
    details = dict(p.details)
    if p.lot is not None:
        details["lot"] = p.lot.lot_number
    entry = StepEntry(
        batch=b,
        seq=b.last_seq,
        step_key=step["key"],
        step_kind=step["kind"],
        status=EntryStatus.AWAITING_VERIFICATION if needs_verification else EntryStatus.DONE,
        value_text=p.value_text,
        value_number=p.value_number,
        unit=p.unit,
        details=details,
        flag=p.flag,
        comment=comment,
        performed_by=actor,
        performed_at=at,
        recorded_at=now(),
        corrects=corrects,
        correction_reason=correction_reason,
        file_sha256=p.file_sha256,
    )
    if p.file is not None:
        entry.file_name = p.value_text
        entry.file.save(p.value_text, p.file, save=False)
    if p.deviation_text:
        dev = raise_deviation(
            source=b,
            category=DeviationCategory.PROCESS,
            title=f"{b.number}: {step['title']}"[:200],
            description=(
                f"{p.deviation_text}. Recorded by {actor.printed_name} ({actor.get_username()}) "
                f"at step {step['key']!r} of batch {b.number}. Comment: {comment}"
            ),
            actor=actor,
            site=b.site,
        )
        entry.deviation = dev.number
        entry.flag = entry.flag or EntryFlag.DEVIATION
    entry.save(force_insert=True)
    return entry


ENTRY_EVENT_FIELDS = (*StepEntry.RECORD_FIELDS, "file_name", "recorded_at")


def _record_entry_event(*, actor: User, entry: StepEntry) -> None:
    """The entry's audit event, written last in the step's transaction, after every write to
    the entry (the lot consumed, the sample drawn), so the audited content is what is stored."""
    audit.append_event(
        actor=actor,
        action="manufacturing.step.corrected"
        if entry.corrects_id is not None
        else "manufacturing.step.recorded",
        record=entry,
        changes=audit.created(
            {
                k: v
                for k, v in audit.snapshot(entry, ENTRY_EVENT_FIELDS).items()
                if v not in (None, "")
            }
        ),
        reason=entry.correction_reason,
    )


def _end_usages_of_finished_operation(
    actor: User, b: Batch, step: dict[str, Any], done: set[str] | None = None
) -> None:
    """A unit is released when the unit operation that took it is done. `done`: the keys of
    the batch's current entries, read with the batch locked (else they are read here)."""
    in_operation = [
        key
        for key, s in c.step_index(b.master_record).items()
        if s["operation"] == step["operation"]
    ]
    if done is None:
        done = set(
            StepEntry.objects.filter(
                batch=b, step_key__in=in_operation, status__in=CURRENT
            ).values_list("step_key", flat=True)
        )
    if set(in_operation) - done:
        return
    for usage in Usage.objects.filter(
        batch_type=BATCH_REF, batch_id=str(b.pk), ended_at__isnull=True
    ).order_by("pk"):
        if usage.step.split(" ", 1)[0] in in_operation:
            end_usage(actor=actor, usage_id=usage.pk)


@roles_checked_once()  # the step's permission and those of the services it calls (a lot consumed)
def record_step(
    *,
    actor: User,
    batch_id: int,
    step_key: str,
    value: object = None,
    scan: object = None,
    comment: str = "",
    performed_at: object = None,
    file: object = None,
    password: str | None = None,
    request: HttpRequest | None = None,
) -> StepEntry:
    """Record one step of a batch. `value` for numeric, choice and text steps; `scan` (what the
    scanner typed) for material, equipment and COI checks; `file` for an attachment; the
    performer's `password` for a sign-off. A value outside the action limits needs a comment
    and raises a deviation; outside the alert limits it is flagged for review. What each kind
    adds is its handler's (`step_kinds`)."""
    found = c.batch_for_step(batch_id)
    require(actor, MfgPerm.STEP_EXECUTE, found.site)
    step = _step(found, step_key)
    handler = HANDLERS[step["kind"]]
    note = c.text(comment, "comment", max_length=2000, required=False)
    entries = current_entries(found)
    _require_in_progress(actor, found, step["key"])
    _require_in_order(actor, found, step, entries)
    at = _performed_at(found, entries, step, performed_at)
    a = Attempt(
        batch=found,
        step=step,
        entries=entries,
        value=value,
        scan=scan,
        file=file,
        actor=actor,
        at=at,
        comment=note,
        password=password,
        request=request,
    )
    p = handler.prepare(a)
    if p.flag == EntryFlag.ACTION and not note:
        raise ValidationFailed(
            f"{p.deviation_text}: a comment is required, and a deviation will be raised",
            field="comment",
        )
    # Interlocks that record their own refusal, before the transaction.
    requires = list(step.get("requires") or [])
    if requires:
        require_qualified(user=actor, requirements=requires, action=ACTION, record=found, at=at)
    handler.check(a, p)
    try:
        with transaction.atomic():
            b = c.locked_batch(found.pk, read=found)
            if b.last_seq != found.last_seq:
                # Another entry was written or corrected meanwhile: read them again. Every new
                # entry and every correction moves last_seq (`_write_entry`); a verification
                # does not, and it can only make a step's predecessors done.
                entries = current_entries(b)
            if b.status != BatchStatus.IN_PROGRESS:
                raise Conflict(f"batch {b.number} is {b.status}", field="batch_id")
            if step["key"] in entries or _waiting_for(step, entries):
                raise Conflict(
                    f"step {step['key']!r} changed state meanwhile: reload the batch",
                    field="step_key",
                )
            if requires and not is_qualified(actor, requires, at).ok:
                raise InterlockBlocked("qualification changed meanwhile", field="step_key")
            handler.before_entry(a, b, p)
            entry = _write_entry(actor=actor, b=b, step=step, p=p, comment=note, at=at)
            handler.after_entry(a, b, p, entry)
            _record_entry_event(actor=actor, entry=entry)
            handler.after_event(a, p, entry)
            _end_usages_of_finished_operation(actor, b, step, done={*entries, entry.step_key})
    except InterlockBlocked:
        handler.blocked(a, p)
        raise
    return entry


def verify_entry(
    *,
    actor: User,
    entry_id: int,
    password: str,
    comment: str = "",
    request: HttpRequest | None = None,
) -> StepEntry:
    """The second person verifies an entry with their signature ('verified'). The performer
    can never verify their own entry: that attempt is refused and recorded."""
    found = c.entry(entry_id)
    b = found.batch
    require(actor, MfgPerm.STEP_VERIFY, b.site)
    note = c.text(comment, "comment", max_length=2000, required=False)
    if found.status != EntryStatus.AWAITING_VERIFICATION:
        raise Conflict(
            f"entry #{found.seq} ({found.step_key}) is {found.get_status_display().lower()}",
            field="entry_id",
        )
    if found.performed_by_id == actor.pk:
        raise c.refuse(
            actor=actor,
            action="manufacturing.step.verify",
            record=b,
            message=f"{actor.printed_name} performed step {found.step_key!r}: the performer "
            "cannot verify their own entry; a second person must sign",
            field="password",
            details={"entry": found.pk, "step": found.step_key},
        )
    if b.status not in (BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD):
        raise Conflict(f"batch {b.number} is {b.status}", field="entry_id")
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        c.locked_batch(b.pk)
        entry = StepEntry.objects.select_for_update(no_key=True, of=("self",)).get(pk=found.pk)
        if entry.status != EntryStatus.AWAITING_VERIFICATION:
            raise Conflict(f"entry #{entry.seq} was verified meanwhile", field="entry_id")
        entry.status = EntryStatus.DONE
        entry.verified_by = actor
        entry.verified_at = now()
        entry.save(update_fields=["status", "verified_by", "verified_at"])
        audit.append_event(
            actor=actor,
            action="manufacturing.step.verified",
            record=entry,
            changes={
                "status": {"old": EntryStatus.AWAITING_VERIFICATION, "new": EntryStatus.DONE},
                "verified_by": {"old": None, "new": actor.pk},
                "verified_at": {"old": None, "new": entry.verified_at},
            },
            reason=note,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=entry,
            meaning=SignatureMeaning.VERIFIED,
            reason=note,
            performed_by=entry.performed_by,
        )
    return entry


def correct_entry(
    *,
    actor: User,
    entry_id: int,
    reason: str,
    value: object = None,
    comment: str = "",
) -> StepEntry:
    """Correct a recorded value (numeric, choice, text, or a calculation recomputed from the
    current inputs): a new entry supersedes the old one, which stays readable with the reason;
    a step that needs verification is verified again. Material, equipment, sample and identity
    entries are not corrected here: a wrong scan is a deviation."""
    found = c.entry(entry_id)
    b = c.batch(found.batch_id)
    require(actor, MfgPerm.STEP_CORRECT, b.site)
    why = c.reason(reason)
    note = c.text(comment, "comment", max_length=2000, required=False)
    if found.status == EntryStatus.SUPERSEDED:
        raise Conflict(f"entry #{found.seq} was already corrected", field="entry_id")
    if not HANDLERS[found.step_kind].correctable:
        raise Conflict(
            f"a {StepKind(found.step_kind).label.lower()} entry cannot be corrected: raise a "
            "deviation for it",
            field="entry_id",
        )
    if b.status not in (BatchStatus.IN_PROGRESS, BatchStatus.ON_HOLD, BatchStatus.COMPLETED):
        raise Conflict(
            f"batch {b.number} is {b.get_status_display().lower()}: its record is closed",
            field="entry_id",
        )
    step = _step(b, found.step_key)
    entries = current_entries(b)
    p = HANDLERS[step["kind"]].prepare(StepInput(batch=b, step=step, entries=entries, value=value))
    if p.value_number == found.value_number and p.value_text == found.value_text:
        raise ValidationFailed("the corrected value is the same as the recorded one", field="value")
    if p.flag == EntryFlag.ACTION and not note:
        raise ValidationFailed(
            f"{p.deviation_text}: a comment is required, and a deviation will be raised",
            field="comment",
        )
    requires = list(step.get("requires") or [])
    if requires:
        require_qualified(
            user=actor, requirements=requires, action="manufacturing.step.correct", record=b
        )
    with transaction.atomic():
        b = c.locked_batch(b.pk)
        old = StepEntry.objects.select_for_update(no_key=True, of=("self",)).get(pk=found.pk)
        if old.status == EntryStatus.SUPERSEDED:
            raise Conflict(f"entry #{old.seq} was corrected meanwhile", field="entry_id")
        previous_status = old.status
        old.status = EntryStatus.SUPERSEDED
        old.save(update_fields=["status"])
        audit.append_event(
            actor=actor,
            action="manufacturing.step.superseded",
            record=old,
            changes={"status": {"old": previous_status, "new": EntryStatus.SUPERSEDED}},
            reason=why,
        )
        entry = _write_entry(
            actor=actor,
            b=b,
            step=step,
            p=p,
            comment=note,
            at=now(),
            corrects=old,
            correction_reason=why,
        )
        _record_entry_event(actor=actor, entry=entry)
        return entry

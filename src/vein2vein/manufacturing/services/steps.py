"""Executing the batch record: one entry per step, in the MBR's order, behind every interlock.

Each interlock blocks and is recorded (DESIGN.md rule 6): a step out of order, an operator not
qualified for it, a lot not usable, equipment not usable or of the wrong kind, a COI mismatch,
a timer limit broken, a verifier who is the performer. Checks that record their own refusal
(training, materials, equipment, identity) run before this module's transaction, so the record
of the refusal is not rolled back; the state they depend on is checked again under the batch's
row lock.

An entry is never changed. A correction is a new entry that supersedes the old one (whose
status alone moves to 'superseded', audited), with a reason; the verifier signs again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files import File
from django.db import transaction
from django.http import HttpRequest

from vein2vein.chain.services import IdentityRefused, verify_identity
from vein2vein.chain.services.identity import mask_personal, refuse_identity
from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import Conflict, InterlockBlocked, NotFound, ValidationFailed
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services import (
    PasswordProof,
    _validate,
    apply_signature,
    check_password_for_signing,
)
from vein2vein.core.time import now
from vein2vein.documents.files import sha256_of_chunks
from vein2vein.equipment.models import Equipment, Usage
from vein2vein.equipment.services import (
    end_usage,
    require_equipment_usable,
    start_usage_within,
)
from vein2vein.materials.models import Lot
from vein2vein.materials.services import consume_lot, require_material_usable
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation
from vein2vein.standards.expressions import FormulaError
from vein2vein.training.services import is_qualified, require_qualified

from .. import mbr
from ..choices import CURRENT, BatchStatus, EntryFlag, EntryStatus, StepKind
from ..models import Batch, BatchSample, StepEntry
from ..permissions import MfgPerm
from . import _common as c
from .batches import BATCH_REF

ACTION = "manufacturing.step.execute"
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
VALUE_KINDS = frozenset(
    {StepKind.NUMERIC, StepKind.CHOICE, StepKind.TEXT, StepKind.CALCULATION, StepKind.INSTRUCTION}
)


@dataclass
class _Prepared:
    """What a step's entry will hold, worked out (and interlock-checked) before the lock."""

    value_text: str = ""
    value_number: Decimal | None = None
    unit: str = ""
    flag: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    lot: Lot | None = None
    quantity: Decimal | None = None
    equipment: Equipment | None = None
    file: File | None = None  # type: ignore[type-arg]
    file_sha256: str = ""
    deviation_text: str = ""


# --- reading the batch ---------------------------------------------------------------------


def _step(b: Batch, step_key: object) -> dict[str, Any]:
    key = c.text(step_key, "step_key", max_length=60)
    try:
        return mbr.step(b.master_record.definition, key)
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


def _values(b: Batch, step: dict[str, Any], entries: dict[str, StepEntry]) -> dict[str, Decimal]:
    """The names a calculation's formula uses, from earlier entries, parameters and patient."""
    definition = b.master_record.definition
    values: dict[str, Decimal] = {}
    for name in mbr.formula_names(step):
        if name.startswith("param."):
            values[name] = Decimal(definition["parameters"][name[6:]]["value"])
        elif name == "patient.weight_kg":
            if b.order is None:
                raise ValidationFailed(
                    "this calculation needs the patient's weight; the batch has no order",
                    field="step_key",
                )
            values[name] = Decimal(b.order.patient.weight_kg)
        elif "." in name:
            key, attribute = name.split(".", 1)
            source = entries.get(key)
            lot_id = source.details.get("lot_id") if source is not None else None
            lot = Lot.objects.filter(pk=lot_id).first() if lot_id else None
            raw = (lot.attributes or {}).get(attribute) if lot is not None else None
            try:
                values[name] = Decimal(str(raw).strip())
                if not values[name].is_finite():
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                raise ValidationFailed(
                    f"{name}: the lot scanned at step {key!r} has no numeric {attribute!r}",
                    field="step_key",
                ) from None
        else:
            source = entries.get(name)
            if source is None or source.value_number is None:
                raise ValidationFailed(f"{name} has no value yet", field="step_key")
            values[name] = Decimal(source.value_number)
    return values


# --- checking the input (no writes) ---------------------------------------------------------


def _decimal_entry(value: object, step: dict[str, Any]) -> Decimal:
    places = int(step.get("decimals", 2))
    num = _validate.number(value, "value", low="-1e15", high="1e15", places=places, required=True)
    assert num is not None
    out_of_range = mbr.out_of_range(step, num)
    if out_of_range:
        raise ValidationFailed(f"value {num} {step.get('unit', '')}: {out_of_range}", field="value")
    return num


def _limits_text(step: dict[str, Any]) -> str:
    parts = []
    for name in ("alert", "action"):
        limits = step.get(name) or {}
        low, high = limits.get("low"), limits.get("high")
        if low is not None or high is not None:
            parts.append(
                f"{name} {'from ' + str(low) if low is not None else ''}"
                f"{' ' if low is not None and high is not None else ''}"
                f"{'to ' + str(high) if high is not None else ''}"
            )
    return "; ".join(parts)


def _flag_value(prepared: _Prepared, step: dict[str, Any], value: Decimal) -> None:
    flag = mbr.limit_flag(step, value)
    prepared.flag = flag
    prepared.details["limits"] = {
        k: step.get(k) for k in ("target", "alert", "action", "range") if step.get(k) is not None
    }
    if flag == EntryFlag.ACTION:
        prepared.deviation_text = (
            f"{step['title']}: {value} {step.get('unit', '')} is outside the action limits "
            f"({_limits_text(step)})"
        )


def _scan(value: object, what: str) -> str:
    text = c.text(value, "scan", max_length=300)
    return text.strip()


def _prepare(
    *,
    actor: User,
    b: Batch,
    step: dict[str, Any],
    entries: dict[str, StepEntry],
    value: object,
    scan: object,
    file: object,
) -> _Prepared:
    kind = step["kind"]
    p = _Prepared()
    if kind == StepKind.NUMERIC:
        num = _decimal_entry(value, step)
        p.value_number, p.unit = num, step["unit"]
        _flag_value(p, step, num)
    elif kind == StepKind.CALCULATION:
        inputs = _values(b, step, entries)
        try:
            num = mbr.evaluate(step, inputs)
        except FormulaError as exc:
            raise ValidationFailed(f"{step['key']}: {exc}", field="step_key") from None
        p.value_number, p.unit = num, step["unit"]
        p.details["formula"] = step["formula"]
        p.details["inputs"] = {k: str(v) for k, v in sorted(inputs.items())}
        _flag_value(p, step, num)
    elif kind == StepKind.CHOICE:
        picked = c.text(value, "value", max_length=200)
        if picked not in step["options"]:
            raise ValidationFailed(
                f"value must be one of: {', '.join(step['options'])}", field="value"
            )
        p.value_text = picked
        in_spec = step.get("in_spec")
        if in_spec and picked not in in_spec:
            p.flag = EntryFlag.ACTION
            p.deviation_text = (
                f"{step['title']}: {picked!r} is out of specification (expected "
                f"{', '.join(in_spec)})"
            )
    elif kind == StepKind.TEXT:
        p.value_text = c.text(value, "value", max_length=int(step.get("max_length", 2000)))
    elif kind == StepKind.MATERIAL:
        number = _scan(scan, "lot")
        lot = Lot.objects.select_related("material", "site").filter(lot_number=number).first()
        if lot is None:
            raise ValidationFailed(
                f"no lot with number {number!r}: scan the lot label", field="scan"
            )
        if step.get("quantity_from"):
            source = entries.get(step["quantity_from"])
            if source is None or source.value_number is None:
                raise ValidationFailed(
                    f"the quantity comes from step {step['quantity_from']!r}, which has no value",
                    field="step_key",
                )
            qty = Decimal(source.value_number).normalize()
        else:
            qty = Decimal(step["quantity"])
        p.lot, p.quantity = lot, qty
        p.value_text, p.value_number, p.unit = lot.lot_number, qty, lot.unit
        p.details.update(
            {"lot_id": lot.pk, "part": lot.material.part_number, "expiry": str(lot.expiry_date)}
        )
    elif kind == StepKind.EQUIPMENT:
        tag = _scan(scan, "equipment").upper()
        unit = Equipment.objects.filter(equipment_id=tag).first()
        if unit is None:
            raise ValidationFailed(f"no equipment with id {tag!r}: scan its label", field="scan")
        p.equipment = unit
        p.value_text = unit.equipment_id
        p.details.update({"equipment_id": unit.equipment_id, "kind": unit.kind})
    elif kind == StepKind.COI_CHECK:
        p.value_text = _scan(scan, "COI identifier")
    elif kind == StepKind.SAMPLE:
        p.value_number, p.unit = Decimal(step["quantity"]), step.get("unit", "")
        p.details.update({"sample_type": step["sample_type"], "tests": step["tests"]})
    elif kind == StepKind.LABEL:
        p.value_text = _label_text(b, step)
        p.details.update({"label_kind": step["label_kind"], "copies": step.get("copies", 1)})
    elif kind == StepKind.ATTACHMENT:
        if not isinstance(file, File):
            raise ValidationFailed("file is required: attach the document", field="file")
        if (file.size or 0) > MAX_ATTACHMENT_BYTES:
            raise ValidationFailed("file is larger than 20 MB", field="file")
        name = str(file.name or "attachment").replace("\\", "/").rsplit("/", 1)[-1][:200]
        file.seek(0)
        digest, _size = sha256_of_chunks(file.chunks())
        file.seek(0)
        p.file, p.file_sha256, p.value_text = file, digest, name
    # instruction, timer, signoff: nothing to enter
    return p


def _label_text(b: Batch, step: dict[str, Any]) -> str:
    product = b.master_record.product
    lines = [
        f"{product.name} ({product.code})",
        f"Batch {b.number}",
    ]
    if b.order is not None:
        lines += [f"COI {b.order.coi_eye_readable}", "FOR AUTOLOGOUS USE ONLY"]
    else:
        lines.append(f"Donor lot {b.donor_lot}")
    return " | ".join(lines)


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


def _timer(
    b: Batch, step: dict[str, Any], entries: dict[str, StepEntry], at: dt.datetime
) -> tuple[str, int]:
    """('', minutes) when within limits; ('early'|'late', minutes) otherwise."""
    source = entries[step["from_step"]]
    minutes = int((at - source.performed_at).total_seconds() // 60)
    low, high = step.get("min_minutes"), step.get("max_minutes")
    if low is not None and minutes < int(low):
        return "early", minutes
    if high is not None and minutes > int(high):
        return "late", minutes
    return "", minutes


def _check_timer(
    actor: User,
    b: Batch,
    step: dict[str, Any],
    entries: dict[str, StepEntry],
    at: dt.datetime,
    comment: str,
    p: _Prepared,
) -> None:
    state, minutes = _timer(b, step, entries, at)
    p.value_number, p.unit = Decimal(minutes), "min"
    p.details["timer"] = {
        "from_step": step["from_step"],
        "minutes": minutes,
        "min_minutes": step.get("min_minutes"),
        "max_minutes": step.get("max_minutes"),
    }
    if state == "early":
        wait = int(step["min_minutes"]) - minutes
        raise c.refuse(
            actor=actor,
            action=ACTION,
            record=b,
            message=f"timer {step['key']!r}: only {minutes} min since {step['from_step']!r}; "
            f"the minimum is {step['min_minutes']} min (wait {wait} min more)",
            field="step_key",
            details={"step": step["key"], "minutes": minutes},
        )
    if state == "late":
        if not comment:
            raise c.refuse(
                actor=actor,
                action=ACTION,
                record=b,
                message=f"timer {step['key']!r}: {minutes} min since {step['from_step']!r} "
                f"exceeds the maximum of {step['max_minutes']} min: a comment is required "
                "and a deviation will be raised",
                field="comment",
                details={"step": step["key"], "minutes": minutes},
            )
        p.flag = EntryFlag.TIMER
        p.deviation_text = (
            f"{step['title']}: {minutes} min elapsed since step {step['from_step']!r}, above "
            f"the maximum of {step['max_minutes']} min"
        )


def _check_equipment_kind(actor: User, b: Batch, step: dict[str, Any], unit: Equipment) -> None:
    if unit.kind != step["equipment_kind"]:
        raise c.refuse(
            actor=actor,
            action=ACTION,
            record=b,
            message=f"{unit.equipment_id} is a {unit.get_kind_display().lower()}; step "
            f"{step['key']!r} needs a {step['equipment_kind'].replace('_', ' ')}",
            field="scan",
            details={"step": step["key"], "equipment": unit.equipment_id},
        )


def _check_identity(actor: User, b: Batch, step: dict[str, Any], scanned: str) -> str:
    """The COI check: the scan must prove this batch's patient (or donor lot)."""
    if b.order is None:
        if scanned.strip().upper() != b.donor_lot.upper():
            raise c.refuse(
                actor=actor,
                action=ACTION,
                record=b,
                message=f"scanned {scanned!r} is not this batch's donor lot {b.donor_lot}",
                field="scan",
                details={"step": step["key"]},
            )
        return "donor lot"
    try:
        return verify_identity(b.order, scanned).summary
    except IdentityRefused as refusal:
        refuse_identity(
            actor=actor,
            o=b.order,
            action="manufacturing.step.coi_check",
            at_site=b.site,
            scanned=[scanned],
            refusal=refusal,
            field="scan",
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
    p: _Prepared,
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


def _end_usages_of_finished_operation(actor: User, b: Batch, step: dict[str, Any]) -> None:
    """A unit is released when the unit operation that took it is done."""
    definition = b.master_record.definition
    in_operation = [s["key"] for s in mbr.steps(definition) if s["operation"] == step["operation"]]
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
    and raises a deviation; outside the alert limits it is flagged for review."""
    found = c.batch(batch_id)
    require(actor, MfgPerm.STEP_EXECUTE, found.site)
    step = _step(found, step_key)
    note = c.text(comment, "comment", max_length=2000, required=False)
    entries = current_entries(found)
    _require_in_progress(actor, found, step["key"])
    _require_in_order(actor, found, step, entries)
    at = _performed_at(found, entries, step, performed_at)
    p = _prepare(
        actor=actor, b=found, step=step, entries=entries, value=value, scan=scan, file=file
    )
    if p.flag == EntryFlag.ACTION and not note:
        raise ValidationFailed(
            f"{p.deviation_text}: a comment is required, and a deviation will be raised",
            field="comment",
        )
    # Interlocks that record their own refusal, before the transaction.
    requires = list(step.get("requires") or [])
    if requires:
        require_qualified(user=actor, requirements=requires, action=ACTION, record=found, at=at)
    proof: PasswordProof | None = None
    kind = step["kind"]
    if kind == StepKind.TIMER:
        _check_timer(actor, found, step, entries, at, note, p)
    elif kind == StepKind.COI_CHECK:
        p.details["matched"] = _check_identity(actor, found, step, p.value_text)
        p.value_text = mask_personal(p.value_text)
    elif kind == StepKind.MATERIAL:
        assert p.lot is not None
        try:
            require_material_usable(
                actor=actor,
                lot=p.lot,
                part=step["part"],
                quantity=p.quantity,
                action=ACTION,
                record=found,
            )
        except InterlockBlocked as exc:
            exc.field = "scan"  # what this step's caller sent; the refusal is recorded
            raise
    elif kind == StepKind.EQUIPMENT:
        assert p.equipment is not None
        _check_equipment_kind(actor, found, step, p.equipment)
        try:
            require_equipment_usable(
                actor=actor,
                equipment=p.equipment,
                action=ACTION,
                record=found,
                batch_ref=(BATCH_REF, str(found.pk)),
            )
        except InterlockBlocked as exc:
            exc.field = "scan"
            raise
    elif kind == StepKind.SIGNOFF:
        if password is None:
            raise ValidationFailed("password is required to sign off", field="password")
        proof = check_password_for_signing(actor, password, request)
    try:
        with transaction.atomic():
            b = c.locked_batch(found.pk)
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
            if kind == StepKind.EQUIPMENT:
                assert p.equipment is not None
                usage = start_usage_within(
                    actor=actor,
                    equipment_id=p.equipment.equipment_id,
                    batch_ref=(BATCH_REF, str(b.pk)),
                    batch_label=b.number,
                    step=f"{step['key']} {step['title']}"[:200],
                )
                p.details["usage_id"] = usage.pk
            entry = _write_entry(actor=actor, b=b, step=step, p=p, comment=note, at=at)
            if kind == StepKind.MATERIAL:
                assert p.lot is not None
                row = consume_lot(
                    actor=actor,
                    lot_id=p.lot.pk,
                    quantity=p.quantity,
                    part=step["part"],
                    reference=f"{b.number} step {step['key']}"[:200],
                    record=entry,
                    at=at,
                )
                entry.details = {**entry.details, "inventory_transaction": row.pk}
                entry.save(update_fields=["details"])
            elif kind == StepKind.SAMPLE:
                _draw_sample(actor=actor, b=b, step=step, entry=entry, at=at)
            _record_entry_event(actor=actor, entry=entry)
            if kind == StepKind.SIGNOFF:
                assert proof is not None
                apply_signature(
                    proof=proof, actor=actor, record=entry, meaning=SignatureMeaning.PERFORMED
                )
            _end_usages_of_finished_operation(actor, b, step)
    except InterlockBlocked:
        if kind == StepKind.EQUIPMENT:
            # The unit changed between the check and the lock: record the refusal now that
            # the step's transaction has rolled back (this raises when it is still refused).
            assert p.equipment is not None
            try:
                require_equipment_usable(
                    actor=actor,
                    equipment=p.equipment,
                    action=ACTION,
                    record=found,
                    batch_ref=(BATCH_REF, str(found.pk)),
                )
            except InterlockBlocked as exc:
                exc.field = "scan"
                raise
        raise
    return entry


def _draw_sample(
    *, actor: User, b: Batch, step: dict[str, Any], entry: StepEntry, at: dt.datetime
) -> BatchSample:
    n = BatchSample.objects.filter(batch=b).count() + 1
    number = f"{b.number}-S{n:02d}"
    label = " | ".join(
        [
            f"Sample {number}",
            f"{step['sample_type']}: {', '.join(step['tests'])}",
            f"COI {b.order.coi_eye_readable}"
            if b.order is not None
            else f"Donor lot {b.donor_lot}",
            f"Drawn {c.utc(at)}",
        ]
    )
    sample = BatchSample.objects.create(
        number=number,
        batch=b,
        entry=entry,
        sample_type=step["sample_type"],
        tests=list(step["tests"]),
        quantity=Decimal(step["quantity"]),
        unit=step.get("unit", ""),
        drawn_by=actor,
        drawn_at=at,
        label_text=label,
    )
    audit.append_event(
        actor=actor,
        action="manufacturing.sample.drawn",
        record=sample,
        changes=audit.created(audit.snapshot(sample, BatchSample.RECORD_FIELDS)),
    )
    entry.value_text = number
    entry.details = {**entry.details, "sample": number, "label": label}
    entry.save(update_fields=["value_text", "details"])
    return sample


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
        entry = StepEntry.objects.select_for_update().get(pk=found.pk)
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
    if found.step_kind not in (
        StepKind.NUMERIC,
        StepKind.CHOICE,
        StepKind.TEXT,
        StepKind.CALCULATION,
    ):
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
    p = _prepare(actor=actor, b=b, step=step, entries=entries, value=value, scan=None, file=None)
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
        old = StepEntry.objects.select_for_update().get(pk=found.pk)
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

"""QC samples: taken in from a batch's drawn sample (or registered for a batch), aliquoted
(the children never hold more than the parent), stored, assigned, shipped to a lab and received
there with the condition on arrival."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from vein2vein.core import audit
from vein2vein.core.models import User
from vein2vein.core.permissions import has_perm, require
from vein2vein.core.time import now
from vein2vein.manufacturing.models import Batch, BatchSample

from ..choices import LabKind, SamplePurpose, SampleStatus
from ..models import Sample, Shipment
from ..permissions import QcPerm
from . import _common as c

_MAX_VOLUME = Decimal("100000")


def _volume(value: object, field: str = "volume") -> Decimal:
    v = c.number(value, field, low=0, high=_MAX_VOLUME, places=3, low_inclusive=False)
    assert v is not None
    return v


def _assignee(user_id: object, batch: Batch) -> User | None:
    if user_id in (None, ""):
        return None
    person = c.fetch(User, user_id, "assigned_to_id")
    if not has_perm(person, QcPerm.RESULT_ENTER, batch.site):
        raise c.ValidationFailed(
            f"{person.printed_name} is not a QC analyst at {batch.site}", field="assigned_to_id"
        )
    return person


def register_sample(
    *,
    actor: User,
    batch_id: int,
    purpose: str,
    volume: Decimal | str,
    unit: str,
    batch_sample_number: str = "",
    storage_location: str = "",
    assigned_to_id: int | None = None,
    due_date: dt.date | None = None,
) -> Sample:
    """Take a sample of a batch into QC: from the sample a step drew (its number on the label),
    or registered directly for the batch (e.g. a release sample taken at final fill)."""
    b = c.fetch(Batch, batch_id, "batch_id", related=("site",))
    require(actor, QcPerm.SAMPLE_MANAGE, b.site)
    kind = c.choice(purpose, "purpose", SamplePurpose.values)
    drawn: BatchSample | None = None
    number = c.text(batch_sample_number, "batch_sample_number", max_length=40, required=False)
    if number:
        drawn = BatchSample.objects.filter(number=number).first()
        if drawn is None or drawn.batch_id != b.pk:
            raise c.NotFound(
                f"batch {b.number} has no drawn sample {number}", field="batch_sample_number"
            )
        if drawn.voided_at is not None:
            raise c.Conflict(f"sample {number} was voided", field="batch_sample_number")
    values = {
        "volume": _volume(volume),
        "unit": c.text(unit, "unit", max_length=20),
        "storage_location": c.text(
            storage_location, "storage_location", max_length=200, required=False
        ),
        "assigned_to": _assignee(assigned_to_id, b),
        "due_date": c.date(due_date, "due_date", required=False),
    }
    with transaction.atomic():
        if drawn is not None and Sample.objects.filter(batch_sample=drawn).exists():
            raise c.Conflict(f"sample {number} is in QC already", field="batch_sample_number")
        sample = Sample.objects.create(
            number=c.next_number("QCS", b.site),
            batch=b,
            batch_sample=drawn,
            purpose=kind,
            status=SampleStatus.AVAILABLE,
            created_by=actor,
            created_at=now(),
            **values,
        )
        audit.append_event(
            actor=actor,
            action="qc.sample.registered",
            record=sample,
            changes=c.created(sample, Sample.RECORD_FIELDS),
        )
    return sample


def make_aliquot(
    *,
    actor: User,
    sample_id: int,
    volume: Decimal | str,
    storage_location: str = "",
    purpose: str = "",
    assigned_to_id: int | None = None,
    due_date: dt.date | None = None,
) -> Sample:
    """An aliquot of a sample: together the aliquots never hold more than the parent."""
    found = c.fetch(Sample, sample_id, "sample_id", related=("batch__site",))
    require(actor, QcPerm.SAMPLE_MANAGE, found.site)
    amount = _volume(volume)
    location = c.text(storage_location, "storage_location", max_length=200, required=False)
    kind = c.choice(purpose or found.purpose, "purpose", SamplePurpose.values)
    assignee = _assignee(assigned_to_id, found.batch)
    due = c.date(due_date, "due_date", required=False)
    with transaction.atomic():
        parent = c.fetch(Sample, found.pk, "sample_id", lock=True, related=("batch__site",))
        if parent.status != SampleStatus.AVAILABLE:
            raise c.Conflict(f"sample {parent.number} is {parent.status}", field="sample_id")
        taken = Sample.objects.filter(parent=parent).aggregate(t=Sum("volume"))["t"] or 0
        left = parent.volume - taken
        if amount > left:
            raise c.ValidationFailed(
                f"volume {amount} {parent.unit} is more than is left of {parent.number} "
                f"({left} of {parent.volume} {parent.unit})",
                field="volume",
            )
        child = Sample.objects.create(
            number=f"{parent.number}-{Sample.objects.filter(parent=parent).count() + 1:02d}",
            batch=parent.batch,
            batch_sample=parent.batch_sample,
            parent=parent,
            purpose=kind,
            volume=amount,
            unit=parent.unit,
            storage_location=location or parent.storage_location,
            status=SampleStatus.AVAILABLE,
            lab_kind=parent.lab_kind,
            lab_name=parent.lab_name,
            assigned_to=assignee or parent.assigned_to,
            due_date=due or parent.due_date,
            created_by=actor,
            created_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="qc.sample.aliquoted",
            record=child,
            changes=c.created(child, Sample.RECORD_FIELDS),
        )
    return child


def move_sample(*, actor: User, sample_id: int, storage_location: str, reason: str) -> Sample:
    """A new storage location (free text until the storage app lands), with the reason."""
    found = c.fetch(Sample, sample_id, "sample_id", related=("batch__site",))
    require(actor, QcPerm.SAMPLE_MANAGE, found.site)
    where = c.text(storage_location, "storage_location", max_length=200)
    why = c.reason(reason)
    with transaction.atomic():
        s = c.fetch(Sample, found.pk, "sample_id", lock=True)
        old = s.storage_location
        s.storage_location = where
        s.save(update_fields=["storage_location"])
        audit.append_event(
            actor=actor,
            action="qc.sample.moved",
            record=s,
            changes={"storage_location": {"old": old, "new": where}},
            reason=why,
        )
    return s


def ship_sample(
    *, actor: User, sample_id: int, lab_kind: str, lab_name: str, packet: str
) -> Shipment:
    """Custody to a lab (internal QC or external): the shipment packet; in transit until
    received."""
    found = c.fetch(Sample, sample_id, "sample_id", related=("batch__site",))
    require(actor, QcPerm.SAMPLE_MANAGE, found.site)
    kind = c.choice(lab_kind, "lab_kind", LabKind.values)
    lab = c.text(lab_name, "lab_name", max_length=200)
    note = c.text(packet, "packet", max_length=c.LONG)
    with transaction.atomic():
        s = c.fetch(Sample, found.pk, "sample_id", lock=True)
        if s.status != SampleStatus.AVAILABLE:
            raise c.Conflict(f"sample {s.number} is {s.status}", field="sample_id")
        shipment = Shipment.objects.create(
            sample=s,
            lab_kind=kind,
            lab_name=lab,
            packet=note,
            shipped_by=actor,
            shipped_at=now(),
        )
        s.status = SampleStatus.IN_TRANSIT
        s.save(update_fields=["status"])
        audit.append_event(
            actor=actor,
            action="qc.sample.shipped",
            record=s,
            changes={
                "status": {"old": SampleStatus.AVAILABLE, "new": SampleStatus.IN_TRANSIT},
                "lab_name": {"old": s.lab_name, "new": lab},
                "shipment": {"old": None, "new": shipment.pk},
            },
        )
    return shipment


def receive_sample(
    *, actor: User, shipment_id: int, received_by: str, condition_on_arrival: str
) -> Shipment:
    """The lab received the sample: who, and its condition on arrival (e.g. "frozen, intact")."""
    found = c.fetch(Shipment, shipment_id, "shipment_id", related=("sample__batch__site",))
    require(actor, QcPerm.SAMPLE_MANAGE, found.site)
    who = c.text(received_by, "received_by", max_length=200)
    condition = c.text(condition_on_arrival, "condition_on_arrival", max_length=c.LONG)
    with transaction.atomic():
        shipment = c.fetch(Shipment, found.pk, "shipment_id", lock=True)
        if shipment.received_at is not None:
            raise c.Conflict("the shipment was received already", field="shipment_id")
        s = c.fetch(Sample, shipment.sample_id, "sample_id", lock=True)
        shipment.received_by = who
        shipment.received_at = now()
        shipment.condition_on_arrival = condition
        shipment.recorded_by = actor
        shipment.save(
            update_fields=["received_by", "received_at", "condition_on_arrival", "recorded_by"]
        )
        old = (s.lab_kind, s.lab_name)
        s.status = SampleStatus.AVAILABLE
        s.lab_kind = shipment.lab_kind
        s.lab_name = shipment.lab_name
        s.save(update_fields=["status", "lab_kind", "lab_name"])
        audit.append_event(
            actor=actor,
            action="qc.sample.received",
            record=s,
            changes={
                "status": {"old": SampleStatus.IN_TRANSIT, "new": SampleStatus.AVAILABLE},
                "lab_kind": {"old": old[0], "new": s.lab_kind},
                "lab_name": {"old": old[1], "new": s.lab_name},
                "condition_on_arrival": {"old": None, "new": condition},
            },
        )
    return shipment
